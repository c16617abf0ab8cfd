"""The name service (`configuration.names: dns`): who serves, what a node that comes or goes costs, what drift sees."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import subprocess
import time
from pathlib import Path
from typing import Any

import jinja2
import yaml

from grid.diagnostics import Severity
from grid.drift_digest import Expected, differing, parse_probe, probe_script
from grid.plan import make_plan
from grid.plan.digests import host_input_digests
from grid.plan.region_scope import limit_to_regions
from grid.render.ansible import collect_inputs, render_ansible
from grid.render.names import (
    expected_digests,
    hosts_block_entries,
    name_servers,
    records_text,
    resolv_block,
    resolv_text,
    server_conf_text,
)
from grid.resources import Kind, expand
from grid.spec import load_spec_text, spec_digest
from grid.spec.model import Cluster
from grid.state.model import HostRecord, ResourceRecord, State
from grid.validate.target import name_service

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "examples" / "local-lab" / "cluster.yaml"
BASE = REPO / "templates/ansible/roles/base"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4q0rBRXC7SP2d5dq0bP4lMdc6V9EmXTaYVnsK2N2Ah grid@test"


def lab(names: str | None = "dns", east: int = 2, target: str | None = None) -> Cluster:
    data = yaml.safe_load(LAB.read_text())
    if names is not None:
        data["spec"]["configuration"]["names"] = names
    data["spec"]["regions"][0]["pools"][0]["count"] = east
    if target is not None:
        data["spec"]["target"] = target
    loaded = load_spec_text(yaml.safe_dump(data), "cluster.yaml")
    assert loaded.cluster is not None, [d.summary for d in loaded.diagnostics]
    return loaded.cluster


def ansible(template: str, **variables: Any) -> str:
    """A role template as Ansible's template module renders it (trim_blocks, trailing newline kept)."""
    env = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["bool"] = lambda v: v if isinstance(v, bool) else str(v).strip().lower() in ("1", "true", "yes", "on")
    return env.from_string(template).render(**variables)


def task_argv(task_file: str) -> list[str]:
    """The argv of the first task of roles/base/tasks/`task_file` (grid_command's or command's)."""
    task = yaml.safe_load((BASE / "tasks" / task_file).read_text())[0]
    return next(args["argv"] for module, args in task.items() if module in ("grid_command", "ansible.builtin.command"))


def task_script(argv: list[str]) -> str:
    """A task's shell script as Ansible renders it: the role's vars it names (base_names_stop) filled in."""
    return ansible(argv[2], base_names_stop=yaml.safe_load((BASE / "vars/main.yml").read_text())["base_names_stop"])


def names_script(argv: list[str], resolv: Path) -> str:
    """names.yml's script on a stand-in for /etc/resolv.conf, its files owned as the test's user."""
    owner = f"{pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name}"
    return (task_script(argv).replace("/etc/resolv.conf", str(resolv)).replace("chown root:root", ":")
            .replace("644 root root", f"644 {owner}"))


def test_each_region_is_served_by_the_first_node_of_its_first_pool_and_growing_never_moves_it() -> None:
    small, grown = lab(east=2), lab(east=9)
    assert name_servers(small, expand(small)) == {"east": {"hostname": "east-train-0000", "ip": "198.18.1.2"},
                                                  "west": {"hostname": "west-infer-0000", "ip": "198.18.2.2"}}
    assert name_servers(grown, expand(grown)) == name_servers(small, expand(small))


def test_hosts_file_clusters_render_exactly_as_before() -> None:
    """No name-service var, no name-service play: a cluster that asks for /etc/hosts is not reconfigured by this
    (one that says nothing on the lab gets dns, the default there: tests/render/test_names_default.py)."""
    files = render_ansible(lab(names="hosts_file"), expand(lab(names="hosts_file")), admin_public_key=KEY)
    assert "grid_names" not in files["inventory/group_vars/all.yml"]
    assert "tasks_from: names" not in files["site.yml"]
    dns = render_ansible(lab(), expand(lab()), admin_public_key=KEY)
    assert "grid_names: dns" in dns["inventory/group_vars/all.yml"]
    assert dns["site.yml"].count("tasks_from: names") == 3  # full, cluster-wide and hosts-table plays


def _changed(before: dict[str, tuple[str, str, str]], after: dict[str, tuple[str, str, str]]) -> set[str]:
    return {a for a, d in after.items() if before.get(a) != d}


def test_one_more_node_changes_the_new_node_and_the_servers_records_only() -> None:
    for names, expected in (("dns", {"east/train/node-0002", "east/train/node-0000", "west/infer/node-0000"}),
                            ("hosts_file", None)):
        small, grown = lab(names, east=2), lab(names, east=3)
        before = host_input_digests(small, expand(small), KEY)
        after = host_input_digests(grown, expand(grown), KEY)
        changed = _changed(before, after)
        if expected is None:  # today's behaviour: every host's /etc/hosts learns the node
            assert changed == set(after)
        else:
            assert changed == expected
            # the servers' change is their hosts-table part alone: one task scope, no full run
            for address in expected - {"east/train/node-0002"}:
                assert before[address][:2] == after[address][:2]


def test_fast_digests_equal_the_definition_with_a_name_service() -> None:
    from grid.plan import digests

    spec = lab(east=4)
    graph = expand(spec)
    fast = digests._fast_documents(spec, graph, KEY, None)
    assert fast is not None
    slow = digests._documents_by_definition(collect_inputs(spec, graph, KEY, None))
    assert fast == slow


def _applied(spec: Cluster) -> State:
    graph = expand(spec)
    hosts = {a: HostRecord(address=a, status="configured", node_digest=d[0], cluster_digest=d[1], hosts_digest=d[2])
             for a, d in host_input_digests(spec, graph, KEY).items()}
    return State(cluster=spec.name, hosts=hosts, resources={
        r.address: ResourceRecord(address=r.address, kind=r.kind.value, region=r.region, attrs=dict(r.attrs))
        for r in graph})


def test_the_plan_says_one_record_on_each_server_and_nothing_for_the_other_hosts() -> None:
    state = _applied(lab(east=2))
    grown = lab(east=3)
    graph = expand(grown, state.allocations())
    plan = make_plan(graph, state, target="local", spec_digest=spec_digest(grown),
                     host_digests=host_input_digests(grown, graph, KEY))
    assert [(h.address, h.scope, h.reason) for h in plan.config] == [
        ("east/train/node-0000", "hosts", "1 name record changed"),
        ("east/train/node-0002", "full", "new node"),
        ("west/infer/node-0000", "hosts", "1 name record changed")]
    # an east-only run leaves west's server one record to learn, said as such
    assert limit_to_regions(plan, ["east"]).pending == {"west": ("1 host learns east's new nodes (name records)",)}


def test_the_role_templates_render_what_the_drift_digests_expect() -> None:
    spec = lab()
    inputs = collect_inputs(spec, expand(spec), KEY, None)
    all_vars = inputs.all_vars
    records = ansible((BASE / "templates/name_records.j2").read_text(), **all_vars)
    assert records == records_text("lab", all_vars["grid_hosts"])
    assert records.count("\n") == 1 + len(inputs.hosts)
    conf = ansible((BASE / "templates/dnsmasq.conf.j2").read_text(), grid_cluster="lab",
                   base_names_records_dir="/etc/grid/hosts.d", base_names_pid_file="/run/grid-dnsmasq.pid")
    assert conf == server_conf_text("lab")
    task = yaml.safe_load((BASE / "tasks/names.yml").read_text())[0]  # its script writes the text and a newline
    resolv = ansible(task["grid_command"]["argv"][6], grid_cluster="lab", grid_region="west",
                     base_name_server={"ip": "198.18.2.2"}) + "\n"
    assert resolv == resolv_text("lab", "west", "198.18.2.2")
    host = inputs.hosts["west-infer-0001"]
    block = ansible((BASE / "templates/hosts_block.j2").read_text(), **all_vars, ansible_host=host["ansible_host"],
                    inventory_hostname="west-infer-0001")
    assert block == "198.18.2.3\twest-infer-0001\n"  # only the node itself: it knows its name with the server down
    assert hosts_block_entries(all_vars, "west-infer-0001", "198.18.2.3") == [
        {"ip": "198.18.2.3", "hostname": "west-infer-0001"}]


def test_on_existing_hosts_the_server_forwards_other_names_to_the_resolvers_it_had() -> None:
    spec = lab(target="existing")
    all_vars = collect_inputs(spec, expand(spec), KEY, None).all_vars
    assert all_vars["grid_names"] == "dns" and all_vars["grid_names_forward"] is True
    assert "grid_names_forward" not in collect_inputs(lab(), expand(lab()), KEY, None).all_vars  # the lab's as before
    paths = {"base_names_records_dir": "/etc/grid/hosts.d", "base_names_pid_file": "/run/grid-dnsmasq.pid",
             "base_names_podman_resolv": "/etc/grid/resolv.conf.podman"}
    server_ip = all_vars["grid_name_servers"]["east"]["ip"]
    conf = ansible((BASE / "templates/dnsmasq.conf.j2").read_text(), grid_cluster="lab", grid_names_forward=True,
                   base_name_server={"ip": server_ip}, **paths)
    assert conf == server_conf_text("lab", forward_from=server_ip)
    # upstream: the resolvers it had; answering on its own address alone, never loopback's (a host's own cache)
    assert conf.splitlines()[1:4] == ["resolv-file=/etc/grid/resolv.conf.podman", f"listen-address={server_ip}",
                                      "bind-dynamic"]
    assert "no-resolv" not in conf
    # Ansible's template lookup may run without trim_blocks: the file is the same either way
    plain = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    template = (BASE / "templates/dnsmasq.conf.j2").read_text()
    for forward in (True, False):
        assert (plain.from_string(template).render(grid_cluster="lab", grid_names_forward=forward,
                                                   base_name_server={"ip": server_ip}, **paths)
                == server_conf_text("lab", forward_from=server_ip if forward else ""))
    server = expected_digests(all_vars, "east-train-0000", "east")
    lab_server = expected_digests(collect_inputs(lab(), expand(lab()), KEY, None).all_vars, "east-train-0000", "east")
    assert server["file:/etc/grid/dnsmasq.conf"] != lab_server["file:/etc/grid/dnsmasq.conf"]
    # resolv.conf: grid's marked block there (the host's search list below it is its owner's), the whole file here
    assert server.pop("block:/etc/resolv.conf") == hashlib.sha256(
        resolv_block("lab", "east", server_ip).encode()).hexdigest()
    assert lab_server.pop("content:/etc/resolv.conf")
    assert {k: v for k, v in server.items() if "dnsmasq.conf" not in k} == {
        k: v for k, v in lab_server.items() if "dnsmasq.conf" not in k}


def test_on_existing_hosts_resolv_conf_keeps_the_hosts_search_list_and_drift_sees_grids_block_only(
        tmp_path: Path) -> None:
    """names.yml's script, run on a stand-in for /etc/resolv.conf, then the drift probe on what it wrote: the
    host's search list and options stay (its short site names still resolve), grid's lines are the block drift
    compares, and the task's own check (check mode's answer) agrees with the probe edit by edit."""
    spec = lab(target="existing")
    all_vars = collect_inputs(spec, expand(spec), KEY, None).all_vars
    server_ip = all_vars["grid_name_servers"]["east"]["ip"]
    resolv, before, copy = tmp_path / "resolv.conf", tmp_path / "grid/resolv.conf.podman", tmp_path / "grid/copy"
    own = "search site.test corp.test\noptions edns0 ndots:2\n"
    resolv.write_text(own + "nameserver 127.0.0.1\n")
    argv = task_argv("names.yml")
    script = names_script(argv, resolv)
    text = ansible(argv[6], grid_cluster="lab", grid_region="east", base_name_server={"ip": server_ip})
    forwarding = ansible(argv[8], grid_cluster="lab", grid_names_forward=True)
    assert forwarding == "lab" and ansible(argv[8], grid_cluster="lab") == ""  # the lab writes the whole file

    def task(mode: str) -> str:
        return subprocess.run(["sh", "-c", script, "grid-names", str(before), str(copy), text, mode, forwarding],
                              capture_output=True, text=True, check=True).stdout.strip()

    key = f"block:{resolv}"
    probe = Expected("east-train-0001", "lab", server_ip,
                     {key: expected_digests(all_vars, "east-train-0001", "east")["block:/etc/resolv.conf"]})

    def drift() -> tuple[str, ...]:
        out = subprocess.run(["sh", "-c", probe_script(probe)], capture_output=True, text=True, check=True).stdout
        return differing(probe, parse_probe(out))

    assert task("status") == "differs" and drift() == (key,)
    assert task("write") == "written"
    assert resolv.read_text() == resolv_block("lab", "east", server_ip) + own
    assert before.read_text() == own + "nameserver 127.0.0.1\n"  # put back when the cluster leaves dns
    assert task("status") == "same" and drift() == ()
    resolv.write_text(resolv.read_text().replace("corp.test", "lab.test"))  # the owner's edit: not drift
    assert task("status") == "same" and drift() == ()
    resolv.write_text(resolv.read_text().replace(f"nameserver {server_ip}", "nameserver 127.0.0.1"))
    assert task("status") == "differs" and drift() == (key,)
    assert task("write") == "written" and drift() == ()
    assert resolv.read_text().endswith("search site.test lab.test\noptions edns0 ndots:2\n")
    # a file an earlier grid wrote whole (no block, no search list): the list comes back from the copy before grid
    resolv.write_text(text + "\n")
    assert task("write") == "written" and resolv.read_text() == resolv_block("lab", "east", server_ip) + own

    # A full disk while the copy before grid is made (its temporary file is /dev/full): the task fails saying so,
    # resolv.conf is as the owner left it, and no partial copy stays to be taken for the original later.
    original = own + "nameserver 127.0.0.1\n"
    resolv.write_text(original)
    before.unlink()
    part = before.with_name(before.name + ".part")
    part.symlink_to("/dev/full")
    failed = subprocess.run(["sh", "-c", script, "grid-names", str(before), str(copy), text, "write", forwarding],
                            capture_output=True, text=True, check=False)
    assert failed.returncode == 1 and "full disk" in failed.stderr, failed
    assert resolv.read_text() == original and not before.exists() and not part.exists()
    assert task("write") == "written" and before.read_text() == original  # the next run, with room, keeps it


def test_a_node_that_no_longer_serves_stops_its_dnsmasq_and_is_drift_until_then(tmp_path: Path) -> None:
    """A pool put before the region's first one moves the server: the node that served keeps the cluster's records
    and a dnsmasq answering from them. names.yml's script (stand-in files, a process named dnsmasq) stops it and
    removes the server's files; before that, its check and the drift probe both see the records; a server of
    another cluster on the same host is left alone."""
    spec = lab()
    all_vars = collect_inputs(spec, expand(spec), KEY, None).all_vars
    server = all_vars["grid_name_servers"]["east"]
    assert server["hostname"] == "east-train-0000"
    moved_data = lab().model_dump(mode="json")
    east = moved_data["spec"]["regions"][0]
    east["pools"].insert(0, {**east["pools"][0], "name": "first", "count": 1})
    moved = Cluster.model_validate(moved_data)
    assert name_servers(moved, expand(moved))["east"]["hostname"] == "east-first-0000"
    assert expected_digests(all_vars, "east-train-0001", "east")["file:/etc/grid/hosts.d/lab"] == "missing"

    resolv, before, copy = tmp_path / "resolv.conf", tmp_path / "grid/resolv.conf.podman", tmp_path / "grid/copy"
    records, conf, pid = tmp_path / "hosts.d/lab", tmp_path / "dnsmasq.conf", tmp_path / "dnsmasq.pid"
    argv = task_argv("names.yml")
    script = names_script(argv, resolv)
    text = ansible(argv[6], grid_cluster="lab", grid_region="east", base_name_server=server)
    assert ansible(argv[9], base_serves_names=True, base_names_records_dir="/etc/grid/hosts.d",
                   grid_cluster="lab") == ""  # the server itself: names_server.yml keeps its files
    assert ansible(argv[9], base_serves_names=False, base_names_records_dir="/etc/grid/hosts.d",
                   grid_cluster="lab") == "/etc/grid/hosts.d/lab"
    before.parent.mkdir()
    resolv.write_text(text + "\n")
    before.write_text("nameserver 198.18.0.1\n")
    copy.write_text(text + "\n")
    copy.chmod(0o644)

    def task(mode: str) -> str:
        return subprocess.run(["sh", "-c", script, "grid-names", str(before), str(copy), text, mode, "",
                               str(records), str(conf), str(pid)], capture_output=True, text=True,
                              check=True).stdout.strip()

    probe = Expected("east-train-0001", "lab", server["ip"], {f"file:{records}": "missing"})

    def drift() -> tuple[str, ...]:
        out = subprocess.run(["sh", "-c", probe_script(probe)], capture_output=True, text=True, check=True).stdout
        return differing(probe, parse_probe(out))

    assert task("status") == "same" and drift() == ()  # a node that never served
    fake = tmp_path / "dnsmasq"
    fake.write_bytes(Path("/bin/sleep").read_bytes())
    fake.chmod(0o755)

    def serving(cluster: str) -> subprocess.Popen[bytes]:
        records.parent.mkdir(exist_ok=True)
        records.write_text(records_text("lab", all_vars["grid_hosts"]))
        conf.write_text(server_conf_text(cluster))
        daemon = subprocess.Popen([str(fake), "60"])
        pid.write_text(f"{daemon.pid}\n")
        return daemon

    daemon = serving("lab")
    try:
        assert task("status") == "differs" and drift() == (f"file:{records}",)
        assert task("write") == "written"
        assert daemon.wait(timeout=10) != 0  # stopped
        assert not records.exists() and not records.parent.exists() and not conf.exists() and not pid.exists()
        assert resolv.read_text() == text + "\n"
        assert task("status") == "same" and drift() == ()
        other = serving("other")  # another cluster's server here (its configuration names it): not this one's
        try:
            assert task("write") == "written" and other.poll() is None
            assert conf.exists() and pid.exists() and not records.exists()
        finally:
            other.kill()
            other.wait()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


def test_a_bad_value_and_an_unsupported_target_are_diagnostics_at_the_line() -> None:
    text = LAB.read_text().replace("    admin_user: gridadmin\n", "    admin_user: gridadmin\n    names: dsn\n")
    loaded = load_spec_text(text, "cluster.yaml")
    assert loaded.cluster is None
    bad = [d for d in loaded.diagnostics if d.severity is Severity.ERROR]
    assert bad and "names" in ".".join(map(str, bad[0].path))
    line = text.splitlines().index("    names: dsn") + 1
    assert bad[0].source is not None and (bad[0].source.file, bad[0].source.line) == ("cluster.yaml", line)
    assert bad[0].source.col > 1
    found = list(name_service(lab(target="openstack")))
    assert [d.code for d in found] == ["target.names"] and found[0].severity is Severity.ERROR
    assert "hosts_file" in found[0].hint and found[0].path == ("spec", "configuration", "names")
    assert not list(name_service(lab())) and not list(name_service(lab(target="existing")))


def test_no_node_no_server() -> None:
    spec = lab(east=0)
    assert "east" not in name_servers(spec, expand(spec))
    assert all(n.region == "west" for n in expand(spec).of_kind(Kind.NODE))


def test_leaving_dns_puts_back_the_resolv_conf_before_grid_with_the_hosts_search_list_as_it_is_now(
        tmp_path: Path) -> None:
    """names_removed.yml's script on stand-in files: the lab's copy comes back as podman wrote it; on existing
    hosts the copy kept before grid, its search list and options those below grid's block now (the owner's)."""
    resolv, before = tmp_path / "resolv.conf", tmp_path / "resolv.conf.podman"
    script = task_script(task_argv("names_removed.yml")).replace("/etc/resolv.conf", str(resolv)).replace(
        "/etc/grid/", f"{tmp_path}/grid/")

    def leave(now: str, kept_before: str) -> str:
        resolv.write_text(now)
        before.write_text(kept_before)
        subprocess.run(["sh", "-c", script, "grid-names", *(str(tmp_path / n) for n in ("pid", "conf", "hosts.d")),
                        str(before), "lab"], check=True, capture_output=True)
        assert not before.exists()
        return resolv.read_text()

    podman = "search dns.podman\nnameserver 198.18.0.1\n"
    assert leave(resolv_text("lab", "east", "198.18.0.10"), podman) == podman
    block = resolv_block("lab", "east", "198.18.0.10")
    own = "search site.test\noptions edns0 ndots:1\nnameserver 127.0.0.1\n"
    assert leave(block + "search site.test lab.test\noptions edns0 ndots:1\n", own) == (
        "search site.test lab.test\noptions edns0 ndots:1\nnameserver 127.0.0.1\n")
    assert leave(block + "search site.test\n", "nameserver 127.0.0.1\n") == "nameserver 127.0.0.1\nsearch site.test\n"
    assert leave(block, own) == "nameserver 127.0.0.1\n"  # the owner had taken the search list out


def test_a_dnsmasq_that_is_a_zombie_is_down_to_the_servers_check_and_to_drift(tmp_path: Path) -> None:
    """A dnsmasq that exited and was never reaped keeps its name in /proc: it answers nothing. The server's check
    (names_server.yml's "Name server running", status as check mode runs it) says down, the probe says it differs;
    a live one is running and no drift; one that is gone is down and drift."""
    task = yaml.safe_load((BASE / "tasks/names_server.yml").read_text())[1]
    assert task["name"] == "Name server running"
    script = task_script(task["grid_command"]["argv"])
    pid = tmp_path / "dnsmasq.pid"
    probe = Expected("east-train-0000", "lab", "198.18.0.1", {f"pid:{pid}": "dnsmasq"})

    def status() -> str:
        return subprocess.run(["sh", "-c", script, "grid-names", str(pid), str(tmp_path / "conf"), "status"],
                              capture_output=True, text=True, check=True).stdout.strip()

    def drift() -> tuple[str, ...]:
        out = subprocess.run(["sh", "-c", probe_script(probe)], capture_output=True, text=True, check=True)
        assert out.stderr == ""
        return differing(probe, parse_probe(out.stdout))

    fake = tmp_path / "dnsmasq"
    fake.write_bytes(Path("/bin/sleep").read_bytes())
    fake.chmod(0o755)
    live = subprocess.Popen([str(fake), "60"])
    dead = subprocess.Popen([str(fake), "0"])  # not waited for: a zombie until the end of the test
    try:
        pid.write_text(f"{live.pid}\n")
        assert status() == "running" and drift() == ()
        status_file = Path(f"/proc/{dead.pid}/status")
        for _ in range(200):
            if "\nState:\tZ" in status_file.read_text():
                break
            time.sleep(0.05)
        assert (Path(f"/proc/{dead.pid}/comm").read_text().strip(), "\nState:\tZ" in status_file.read_text()) == (
            "dnsmasq", True)
        pid.write_text(f"{dead.pid}\n")
        assert status() == "down" and drift() == (f"pid:{pid}",)
    finally:
        live.kill()
        live.wait()
        dead.wait()
    assert status() == "down" and drift() == (f"pid:{pid}",)  # reaped: no such process
