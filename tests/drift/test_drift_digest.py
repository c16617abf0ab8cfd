"""grid.drift_digest: expected digests from what grid renders, the probe script run for real, its output parsed."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import pwd
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from grid.drift_digest import (
    DIGEST_ROLES,
    Expected,
    differing,
    expected_digests,
    facts_text,
    hosts_block_text,
    parse_probe,
    probe_script,
    sudoers_texts,
    sysctl_text,
)
from grid.render.ansible import collect_inputs
from grid.render.leftovers import NO_LEFTOVERS, Leftovers
from grid.render.own import OwnFiles
from grid.resources import expand
from grid.spec import load_spec_text
from grid.spec.model import Cluster

REPO = Path(__file__).resolve().parents[2]
ROLE_TEMPLATES = REPO / "templates/ansible/roles/base/templates"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4q0rBRXC7SP2d5dq0bP4lMdc6V9EmXTaYVnsK2N2Ah grid@test"


def lab() -> Cluster:
    return example("local-lab")


@functools.cache
def example(name: str, edit: Callable[[dict[str, Any]], None] | None = None) -> Cluster:
    data = yaml.safe_load((REPO / "examples" / name / "cluster.yaml").read_text())
    if edit is not None:
        edit(data)
    loaded = load_spec_text(yaml.safe_dump(data), "t.yaml")
    assert loaded.cluster is not None, [d.summary for d in loaded.diagnostics]
    return loaded.cluster


def slurm_lab() -> Cluster:
    return example("slurm")


def _no_own_role_on_train(data: dict[str, Any]) -> None:
    train = data["spec"]["regions"][0]["pools"][0]
    train["configuration"] = {"limits": {"memlock": "unlimited"}}


def _names_dns(data: dict[str, Any]) -> None:
    data["spec"]["configuration"]["names"] = "dns"


def lab_dns() -> Cluster:
    """examples/local-lab with a name service (configuration.names: dns; grid.render.names)."""
    return example("local-lab", _names_dns)


def lab_configured(own_roles: bool = True) -> Cluster:
    """examples/lab-configured: a network policy, limits, a script run once, a user's role on `train` (without
    it: the scratch directory with its mode is digested there)."""
    return example("lab-configured", None if own_roles else _no_own_role_on_train)


OWN = OwnFiles(roles={"nccl-tuning": (("tasks/main.yml", "---\n"),)},
               scripts={"scripts/node-ready.sh": "#!/bin/sh\necho ready\n"})


def ansible_template(name: str, **variables: Any) -> str:
    """A role template as Ansible's template module renders it (trim_blocks, trailing newline kept)."""
    env = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    return env.from_string((ROLE_TEMPLATES / name).read_text()).render(**variables)


def test_rendered_texts_match_the_roles_templates() -> None:
    inputs = collect_inputs(lab(), expand(lab()), KEY, None)
    all_vars = inputs.all_vars
    assert sysctl_text("c1", all_vars["grid_sysctl"]) == ansible_template(
        "sysctl.conf.j2", grid_cluster="c1", grid_sysctl=all_vars["grid_sysctl"])
    for path, text in sudoers_texts("c1", {**all_vars, "grid_users": [{"name": "b", "sudo": True},
                                                                      {"name": "a", "sudo": True}]}).items():
        users = ["gridadmin"] if path.endswith("grid-admin") else ["a", "b"]
        assert text == ansible_template("sudoers.j2", grid_cluster="c1", item={"users": users})
    block = ansible_template("hosts_block.j2", grid_hosts=all_vars["grid_hosts"]).strip()
    marked = f"# BEGIN grid cluster c1\n{block}\n# END grid cluster c1\n"
    assert hosts_block_text("c1", all_vars["grid_hosts"]) == marked


def test_facts_are_ansibles_nice_json_with_native_types() -> None:
    inputs = collect_inputs(lab(), expand(lab()), KEY, None)
    hostname, host_vars = next(iter(inputs.hosts.items()))
    text = facts_text(hostname, host_vars)
    assert text.endswith("}\n") and '    "index": 0,' in text and '"hostname": "' + hostname + '"' in text


def test_every_lab_host_is_covered_with_its_files_accounts_and_mtus() -> None:
    inputs = collect_inputs(lab(), expand(lab()), KEY, None)
    expected = expected_digests(inputs, NO_LEFTOVERS)
    assert set(expected) == set(inputs.hosts) and all(e is not None for e in expected.values())
    one = next(e for e in expected.values() if e is not None)
    kinds = {key.partition(":")[0] for key in one.digests}
    assert kinds == {"file", "block", "content", "attrs", "account", "sshdir", "keys", "rootkey", "mtu", "hostname",
                     "isdir", "pid"}  # pid: the first host is its region's name server (dns, the lab's default)
    assert one.digests["attrs:/etc/grid"] == "dir 755 root root"
    assert one.digests["file:/etc/sysctl.d/90-grid.conf"].endswith(" 644 root root")
    assert one.digests["keys:gridadmin"].endswith(" 600 gridadmin")
    assert one.unverifiable and all("needs a real write" in task for task in one.unverifiable)


def test_a_key_change_changes_the_expected_digest() -> None:
    first = expected_digests(collect_inputs(lab(), expand(lab()), KEY, None), NO_LEFTOVERS)
    other = expected_digests(collect_inputs(lab(), expand(lab()), KEY.replace("Ah", "Ax"), None), NO_LEFTOVERS)
    host = next(iter(first))
    a, b = first[host], other[host]
    assert a is not None and b is not None
    assert a.digests["keys:gridadmin"] != b.digests["keys:gridadmin"]
    assert a.digests["file:/etc/sysctl.d/90-grid.conf"] == b.digests["file:/etc/sysctl.d/90-grid.conf"]


def test_hosts_with_work_beyond_the_digests_go_to_check_mode() -> None:
    """The user's own roles, and Slurm when the munge key is not here to compare, cannot be digested."""
    slurm = collect_inputs(slurm_lab(), expand(slurm_lab()), KEY, None)
    assert set(expected_digests(slurm, NO_LEFTOVERS, munge_key=None).values()) == {None}
    configured = collect_inputs(lab_configured(), expand(lab_configured()), KEY, None, OWN)
    expected = expected_digests(configured, NO_LEFTOVERS)
    assert expected["east-train-0000"] is None and expected["east-login-0000"] is not None


def test_a_policy_left_over_adds_nothing_and_limits_left_over_must_be_gone() -> None:
    """remove.yml's shell task is skipped in check mode: it finds nothing, so its digest is nothing; the limits
    file left over is found by remove_limits.yml (file: absent), so it must be absent."""
    inputs = collect_inputs(lab(), expand(lab()), KEY, None)
    plain, policy, limits = (expected_digests(inputs, leftovers, nonce="n")["east-train-0000"] for leftovers in
                             (NO_LEFTOVERS, Leftovers(network_policy=True), Leftovers(limits=True)))
    assert plain is not None and policy is not None and limits is not None
    assert policy.digests == plain.digests
    assert limits.digests == {**plain.digests, "absent:/etc/security/limits.d/90-grid.conf": "missing"}


def test_a_pools_own_sysctl_is_what_its_hosts_expect() -> None:
    inputs = collect_inputs(lab(), expand(lab()), KEY, None)
    host, host_vars = next(iter(inputs.hosts.items()))
    group = f"pool_{host_vars['grid_region']}_{host_vars['grid_pool']}"
    empty = {"grid_own_roles": [], "grid_limits": [], "grid_scripts": []}
    tuned = dataclasses.replace(inputs, pool_vars={group: {**empty, "grid_sysctl": {"vm.swappiness": 1}}})
    expected = expected_digests(tuned, NO_LEFTOVERS)[host]
    assert expected is not None
    assert expected.digests["file:/etc/sysctl.d/90-grid.conf"].startswith(sha(sysctl_text(inputs.cluster,
                                                                                           {"vm.swappiness": 1})))
    other = dataclasses.replace(inputs, pool_vars={group: {**empty, "base_sysctl_file": "/x"}})
    assert expected_digests(other, NO_LEFTOVERS)[host] is None


def test_parse_probe_keeps_key_value_lines_only() -> None:
    out = "file:/a 0f 644 root root\nnoise\nfile:/b missing\n\naccount:x /bin/bash\n"
    assert parse_probe(out) == {"file:/a": "0f 644 root root", "file:/b": "missing", "account:x": "/bin/bash"}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.skipif(os.geteuid() != 0 and not Path("/usr/bin/sha256sum").exists(), reason="needs coreutils")
def test_the_probe_script_runs_and_finds_an_edit(tmp_path: Path) -> None:
    me = pwd.getpwuid(os.getuid()).pw_name
    group = subprocess.run(["id", "-gn"], capture_output=True, text=True, check=True).stdout.strip()
    conf, hosts = tmp_path / "90-grid.conf", tmp_path / "hosts"
    conf.write_text("a = 1\n")
    conf.chmod(0o644)
    block = hosts_block_text("c1", [{"ip": "198.19.96.2", "hostname": "h1"}])
    hosts.write_text("127.0.0.1 localhost\n" + block + "10.1.1.1 other\n")
    expected = Expected("h1", "c1", "127.0.0.1", {
        f"file:{conf}": f"{sha('a = 1' + chr(10))} 644 {me} {group}",
        f"file:{tmp_path / 'absent'}": "missing",
        f"block:{hosts}": sha(block),
        f"account:{me}": pwd.getpwuid(os.getuid()).pw_shell,
        f"attrs:{tmp_path}": f"dir {oct(tmp_path.stat().st_mode & 0o777)[2:]} {me} {group}",
        f"content:{conf}": sha("a = 1\n"),
    })
    def run() -> tuple[str, ...]:
        out = subprocess.run(["sh", "-c", probe_script(expected)], capture_output=True, text=True, check=True).stdout
        return differing(expected, parse_probe(out))

    assert run() == ()
    conf.write_text("a = 2\n")
    hosts.write_text(hosts.read_text().replace("h1", "h2"))
    assert run() == (f"file:{conf}", f"block:{hosts}", f"content:{conf}")


# Every task of the digest roles, and what stands for it in the probe. A task added to these roles must get a
# digest (grid.drift_digest) or make its hosts go to check mode: until then this list fails the test.
TASKS_AND_THEIR_DIGESTS = {
    "base/cluster_wide.yml: Hosts table": "import",
    # grid_files: attrs:/etc/sysctl.d and /etc/grid, file: for the sysctl drop-in, sudoers and node facts
    "base/cluster_wide.yml: Sysctl settings, sudoers and node facts": "file:/etc/sysctl.d/90-grid.conf",
    "base/cluster_wide.yml: Accounts": "import",
    "base/hosts_table.yml: Cluster hosts in /etc/hosts": "block:/etc/hosts",
    "base/names.yml: Resolve names through the region's name server": "file:/etc/grid/resolv.conf",  # and content:
    # (block: where the server forwards: the host's search list below grid's block is its own)
    "base/names.yml: The region's name server": "names_server.yml's tasks (its hosts only)",
    "base/names_server.yml: Name records and server configuration": "file:/etc/grid/hosts.d/",  # and
    # attrs:/etc/grid/hosts.d, file:/etc/grid/dnsmasq.conf
    "base/names_server.yml: Name server running": "pid:/run/grid-dnsmasq.pid",
    "base/names_removed.yml: No name service in the spec, none on the node": "skipped in check mode (a command)",
    "base/main.yml: The hostname is the inventory's": "hostname:",
    "base/main.yml: Cluster-wide settings": "import",
    "base/users.yml: Accounts": "account:",  # and content:/etc/grid/managed-users (those that left the spec)
    "base/users.yml: Authorized keys, exactly the spec's": "keys:",
    "fabric/main.yml: Fabric addresses and MTUs": "mtu:",
    "storage-client/directories.yml: Directories with their mode": "dir:",  # isdir: where no mode is given
    "storage-client/main.yml: Mount points are writable directories": "isdir:",  # and unverifiable in check mode
    # firewall: the file, not the loaded ruleset (the task loading it is a command: skipped in check mode).
    "firewall/main.yml: Address grid connects from": "nftfile:",  # the probe's own SSH_CONNECTION
    "firewall/main.yml: Grid's own SSH stays allowed": "nftfile:",  # no address: the file's digest differs
    "firewall/main.yml: Tables of nftables": "read only",
    "firewall/main.yml: Nftables is usable": "nftok:",
    "firewall/main.yml: Network policy rules": "nftfile:/etc/nftables.conf",
    "firewall/main.yml: Load the network policy": "skipped in check mode (a command)",
    "firewall/remove.yml: No network policy in the spec, no grid rules": "skipped in check mode (a shell command)",
    "own-config/main.yml: Limits (limits.d)": "file:/etc/security/limits.d/90-grid.conf",
    "own-config/main.yml: The spec's own roles": "check mode (grid_own_roles)",
    "own-config/main.yml: Scripts of the pool": "import",
    "own-config/remove_limits.yml: No limits file when the spec sets no limits":
        "absent:/etc/security/limits.d/90-grid.conf",
    "own-config/scripts.yml: Script markers directory": "attrs:/var/lib/grid/scripts",
    "own-config/scripts.yml: The spec's scripts": "exists:/var/lib/grid/scripts/",  # `creates:` the marker
    "own-config/scripts.yml: Mark the scripts run once": "exists:/var/lib/grid/scripts/",
    "slurm/main.yml: Daemon control script": "file:/usr/local/sbin/grid-",
    "slurm/main.yml: Munge": "import",
    "slurm/main.yml: Slurm configuration files": "import",
    "slurm/main.yml: Controller": "import",
    "slurm/main.yml: Compute": "import",
    "slurm/main.yml: Slurm restarted or reloaded as the changes need": "handlers (only after a change)",
    "slurm/main.yml: Nodes out of service not by grid": "import",
    "slurm/munge.yml: Munge key": "munge:/etc/munge/munge.key",
    "slurm/munge.yml: Munged running": "daemon:munged",
    "slurm/config.yml: Stand-in accelerator devices": "skipped in check mode (a command)",
    "slurm/config.yml: Slurm's files": "content:/etc/slurm/",
    "slurm/config.yml: Slurm's files differ from grid's: {{ (slurm_files_result.stdout | from_json).changed "
    "| join(', ') }}": "content:/etc/slurm/",
    "slurm/config.yml: Slurm action left undone: {{ (slurm_files_result.stdout | from_json).action }}": "pending:",
    "slurm/controller.yml: Slurmctld running": "daemon:slurmctld",
    "slurm/compute.yml: Slurmd running": "daemon:slurmd",
    "slurm/compute.yml: Slurmd registered with slurmctld": "not in check mode",
    "slurm/membership.yml: Slurm's files and daemons": "not in check mode (the hosts-table scope only)",
    "slurm/nodes.yml: Nodes Slurm holds out of service": "slurmnodes:list",
    "slurm/nodes.yml: Nodes out of service in Slurm": "slurmnodes:list",  # `failed`: it differs
    "slurm/nodes.yml: Out of service in Slurm, not by grid: {{ slurm_foreign_nodes.stdout_lines | default([]) "
    "| join('; ') }}": "slurmnodes:list",
    "slurm/nodes.yml: Nodes returned to service": "not in check mode",
}


def test_every_task_of_the_digest_roles_has_a_digest() -> None:
    tasks: dict[str, bool] = {}
    for role in sorted(DIGEST_ROLES):
        for path in sorted((REPO / "templates/ansible/roles" / role / "tasks").glob("*.yml")):
            for task in yaml.safe_load(path.read_text()) or []:
                tasks[f"{role}/{path.name}: {task['name']}"] = True
    assert sorted(tasks) == sorted(TASKS_AND_THEIR_DIGESTS), (
        "the digest roles' tasks changed: give a new task a digest in grid.drift_digest (or send its hosts to "
        "check mode) and list it here")
    expected = [e for cluster, leftovers in ((lab(), Leftovers(limits=True)), (lab_configured(own_roles=False),
                                                                             NO_LEFTOVERS), (slurm_lab(), NO_LEFTOVERS),
                                                  (lab_dns(), NO_LEFTOVERS))
                for e in expected_digests(collect_inputs(cluster, expand(cluster), KEY, None, OWN), leftovers,
                                          munge_key=b"k").values() if e is not None]
    for stands_for in TASKS_AND_THEIR_DIGESTS.values():
        if ":" in stands_for:
            assert any(key.startswith(stands_for) for host in expected for key in host.digests), \
                f"no digest {stands_for!r} is expected for the example clusters' hosts"


def run_probe(expected: Expected, *args: str) -> dict[str, str]:
    out = subprocess.run(["sh", "-c", probe_script(expected), "probe", *args], capture_output=True, text=True,
                         check=True).stdout
    return parse_probe(out)


def test_the_roles_probes_find_what_check_mode_finds(tmp_path: Path) -> None:
    """Directories and their mode, a script's marker, a leftover file, the rules file (grid's own address as
    the node sees it stands in for the mark), Slurm's pending action and the munge key (keyed by the nonce)."""
    me = pwd.getpwuid(os.getuid()).pw_name
    group = subprocess.run(["id", "-gn"], capture_output=True, text=True, check=True).stdout.strip()
    scratch, marker, left, rules, pending, key = (tmp_path / n for n in ("scratch", "marker", "limits", "nft",
                                                                         "pending", "munge.key"))
    scratch.mkdir(mode=0o755)
    scratch.chmod(0o1777)
    marker.write_text("x\n")
    pending.write_text("none\n")
    key.write_bytes(b"\x00secret\xff")
    key.chmod(0o400)
    text = "    # SSH: from grid's own address and access.admin_cidrs only\n    ip saddr {} tcp dport 22 accept\n"
    rules.write_text(text.format("198.18.0.1"))
    rules.chmod(0o644)
    expected = Expected("h1", "c1", "127.0.0.1", {
        f"dir:{scratch}": "dir 1777", f"exists:{marker}": "present", f"absent:{left}": "missing",
        f"nftfile:{rules}": f"{sha(text.format('@GRID-CONTROLLER@'))} 644 {me} {group}",
        f"pending:{pending}": "none",
        f"munge:{key}": f"{hashlib.sha256(b'n0nce' + key.read_bytes()).hexdigest()} 400 {me} {group}",
    }, nonce="n0nce")
    assert differing(expected, run_probe(expected, "198.18.0.1")) == ()
    assert "secret" not in probe_script(expected)
    # The same file read from another address (grid's changed), or with no SSH_CONNECTION: not grid's rules.
    assert differing(expected, run_probe(expected, "198.18.0.11")) == (f"nftfile:{rules}",)
    assert differing(expected, run_probe(expected)) == (f"nftfile:{rules}",)
    scratch.chmod(0o755)
    marker.unlink()
    left.write_text("* soft nofile 1\n")
    pending.write_text("restart\n")
    key.chmod(0o600)
    rules.write_text(text.format("198.18.0.1") + "    tcp dport 8080 accept\n")
    assert differing(expected, run_probe(expected, "198.18.0.1")) == tuple(expected.digests)


def test_the_probes_shell_functions_have_one_name_each() -> None:
    """The base probe's functions and the roles' share one sh namespace: a second definition would win."""
    from grid import drift_digest, drift_digest_roles

    names = re.findall(r"^(\w+)\(\)", drift_digest._FUNCTIONS + drift_digest_roles.FUNCTIONS, flags=re.M)
    assert len(names) == len(set(names)), sorted(names)
