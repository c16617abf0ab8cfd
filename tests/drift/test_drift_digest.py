"""grid.drift_digest: expected digests from what grid renders, the probe script run for real, its output parsed."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pwd
import subprocess
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
from grid.resources import expand
from grid.spec import load_spec_text
from grid.spec.model import Cluster

REPO = Path(__file__).resolve().parents[2]
ROLE_TEMPLATES = REPO / "templates/ansible/roles/base/templates"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4q0rBRXC7SP2d5dq0bP4lMdc6V9EmXTaYVnsK2N2Ah grid@test"


def lab() -> Cluster:
    loaded = load_spec_text((REPO / "examples/local-lab/cluster.yaml").read_text(), "t.yaml")
    assert loaded.cluster is not None
    return loaded.cluster


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
                     "isdir"}
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
    inputs = collect_inputs(lab(), expand(lab()), KEY, None)
    assert set(expected_digests(inputs, Leftovers(network_policy=True)).values()) == {None}
    slurm = dataclasses.replace(inputs, slurm_vars={"slurm_cluster": "x"})
    assert set(expected_digests(slurm, NO_LEFTOVERS).values()) == {None}


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
    "base/cluster_wide.yml: Sysctl drop-in directory": "attrs:/etc/sysctl.d",
    "base/cluster_wide.yml: Sysctl settings": "file:/etc/sysctl.d/90-grid.conf",
    "base/cluster_wide.yml: Accounts": "import",
    "base/hosts_table.yml: Cluster hosts in /etc/hosts": "block:/etc/hosts",
    "base/main.yml: Read the running hostname": "read only",
    "base/main.yml: Set the hostname": "hostname:",
    "base/main.yml: Assert the hostname matches the inventory": "hostname:",
    "base/main.yml: Cluster-wide settings": "import",
    "base/main.yml: Node facts directory": "attrs:/etc/grid",
    "base/main.yml: Node facts": "file:/etc/grid/node.json",
    "base/users.yml: Remove accounts that left the spec (userdel --remove, home and keys with them)":
        "content:/etc/grid/managed-users",
    "base/users.yml: Accounts": "account:",
    "base/users.yml: Authorized keys, exactly the spec's": "keys:",
    "base/users.yml: Passwordless sudo": "file:/etc/sudoers.d/",
    "fabric/main.yml: Read interface addresses": "read only",
    "fabric/main.yml: Assert fabric addresses and MTUs": "mtu:",
    "fabric/main.yml: Set fabric MTU": "mtu:",
    "fabric/main.yml: Fabric MTU differs from the spec": "mtu:",
    "storage-client/directories.yml: Directories with their mode": "check mode (grid_directories)",
    "storage-client/main.yml: Look at mount points": "read only",
    "storage-client/main.yml: Assert mount points are directories": "isdir:",
    "storage-client/main.yml: Write probe": "unverifiable (written as check mode words)",
    "storage-client/main.yml: Write probe not verifiable in check mode": "unverifiable (written as check mode words)",
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
    expected = [e for e in expected_digests(collect_inputs(lab(), expand(lab()), KEY, None), NO_LEFTOVERS).values()
                if e is not None]
    for stands_for in TASKS_AND_THEIR_DIGESTS.values():
        if ":" in stands_for:
            assert any(key.startswith(stands_for) for host in expected for key in host.digests), \
                f"no digest {stands_for!r} is expected for the lab's hosts"
