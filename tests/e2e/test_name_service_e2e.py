"""The name service on a running local cluster (`configuration.names` left out: dns, the lab's default;
grid.render.names): two regions of two nodes, each region's first node running dnsmasq. Names resolve on every node
through its region's server; +1 node configures the new node and one record on each server, no other host's files
move; a record deleted on the server is drift that `grid up` repairs; a server restarted still serves; switching to
`names: hosts_file` and back converges and leaves nothing of the other behind; a pool put first moves the server,
and the node that served stops serving.

GRID_NAMES_E2E_PREFIX and GRID_NAMES_E2E_SUBNETS give the cluster's name prefix and the two /24s its fabrics take
(a session sharing the machine keeps to its own)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli import grid
from support.lab import remove_cluster
from support.specs import two_small_regions

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PREFIX = os.environ.get("GRID_NAMES_E2E_PREFIX", "dn")
SUBNETS = tuple(os.environ.get("GRID_NAMES_E2E_SUBNETS", "198.19.32.0/24,198.19.33.0/24").split(","))
SERVERS = ("east-a-0000", "west-b-0000")


def _spec(directory: Path, name: str, east: int, names: str | None = None) -> Path:
    """One directory for every version: they share the work directory (.grid beside them), state included."""
    text = two_small_regions(name, (SUBNETS[0], SUBNETS[1]), east, 2)
    path = directory / f"cluster-{east}{'-' + names if names else ''}.yaml"
    path.write_text(text.replace("    roles: [base]\n", f"    roles: [base]\n    names: {names}\n") if names else text)
    return path


def sh(name: str, hostname: str, script: str, check: bool = True) -> str:
    run = subprocess.run(["podman", "exec", f"grid-{name}-{hostname}", "sh", "-c", script], capture_output=True,
                         text=True, check=False)
    if check:
        assert run.returncode == 0, (hostname, script, run.stdout, run.stderr)
    return run.stdout


def resolved(name: str, on: str, hostname: str) -> str:
    """The IP `on` resolves `hostname` to through its resolver (files, then DNS), "" when it does not."""
    return (sh(name, on, f"getent hosts {hostname} || true").split() or [""])[0]


def own_ip(name: str, hostname: str) -> str:
    return sh(name, hostname, "ip -o -4 addr show | awk '$2 != \"lo\" {split($4, a, \"/\"); print a[1]}'").split()[0]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, str]]:
    name = PREFIX + uuid.uuid4().hex[:6]
    base = tmp_path_factory.mktemp("names")
    small, grown = _spec(base, name, 2), _spec(base, name, 3)
    try:
        up = grid("up", str(small), "--yes", "--skip-check")
        assert up.code == 0, up.output
        yield small, grown, name
    finally:
        grid("destroy", str(grown), "--yes")
        remove_cluster(name)


def test_every_node_resolves_every_name_through_its_regions_server(lab: tuple[Path, Path, str]) -> None:
    _, _, name = lab
    hostnames = ["east-a-0000", "east-a-0001", "west-b-0000", "west-b-0001"]
    ips = {h: own_ip(name, h) for h in hostnames}
    for on in hostnames:
        server = SERVERS[0] if on.startswith("east") else SERVERS[1]
        assert f"nameserver {ips[server]}" in sh(name, on, "cat /etc/resolv.conf")
        hosts = sh(name, on, "cat /etc/hosts")
        assert not [h for h in hostnames if h != on and h in hosts], hosts  # only its own line
        for other in hostnames:
            assert resolved(name, on, other) == ips[other], (on, other)
    # asked of the server directly, not of a file: the answer is DNS's
    for other in hostnames:
        assert resolved(name, "west-b-0001", other) == ips[other]
    assert resolved(name, "east-a-0001", "no-such-node") == ""


def _fingerprints(name: str, hostnames: list[str]) -> dict[str, str]:
    files = "/etc/hosts /etc/resolv.conf /etc/grid/resolv.conf /etc/grid/node.json /etc/sysctl.d/90-grid.conf"
    return {h: sh(name, h, f"stat -c '%n %Y %s' {files}; sha256sum {files}") for h in hostnames}


def test_one_more_node_touches_the_new_node_and_one_record_per_server(lab: tuple[Path, Path, str]) -> None:
    _, grown, name = lab
    planned = grid("plan", str(grown), "--json")
    assert planned.code == 0, planned.output
    config = {c["address"]: (c["scope"], c["reason"]) for c in json.loads(planned.stdout)["configuration"]}
    assert config == {"east/a/node-0002": ("full", "new node"),
                      "east/a/node-0000": ("hosts", "1 name record changed"),
                      "west/b/node-0000": ("hosts", "1 name record changed")}
    others = ["east-a-0001", "west-b-0001"]
    before = _fingerprints(name, others)
    time.sleep(1.1)  # a rewrite would show in the mtimes (1 s resolution)
    up = grid("up", str(grown), "--yes", "--skip-check")
    assert up.code == 0, up.output
    assert _fingerprints(name, others) == before
    new_ip = own_ip(name, "east-a-0002")
    for on in ["east-a-0000", "east-a-0001", "west-b-0001", "east-a-0002"]:
        assert resolved(name, on, "east-a-0002") == new_ip, on
    assert resolved(name, "east-a-0002", "west-b-0001") == own_ip(name, "west-b-0001")
    again = grid("plan", str(grown), "--detailed-exitcode")
    assert again.code == 0, again.output


def test_a_record_deleted_on_the_server_is_drift_and_up_repairs_it(lab: tuple[Path, Path, str]) -> None:
    _, grown, name = lab
    sh(name, "west-b-0000", f"sed -i '/east-a-0001/d' /etc/grid/hosts.d/{name}; kill -HUP $(cat /run/grid-dnsmasq.pid)")
    assert resolved(name, "west-b-0001", "east-a-0001") == ""
    drift = grid("drift", str(grown), "--json", "--detailed-exitcode")
    assert drift.code == 2, drift.output
    items = json.loads(drift.stdout)["items"]
    assert [i["address"] for i in items] == ["west/b/node-0000"], items
    assert "name" in json.dumps(items[0]).lower() or "hosts.d" in json.dumps(items[0])
    up = grid("up", str(grown), "--yes", "--skip-check")
    assert up.code == 0, up.output
    assert resolved(name, "west-b-0001", "east-a-0001") == own_ip(name, "east-a-0001")
    clean = grid("drift", str(grown), "--detailed-exitcode")
    assert clean.code == 0, clean.output


def test_a_server_restarted_still_serves_and_a_stopped_daemon_is_drift(lab: tuple[Path, Path, str]) -> None:
    _, grown, name = lab
    subprocess.run(["podman", "restart", f"grid-{name}-east-a-0000"], check=True, capture_output=True)
    deadline = time.monotonic() + 30
    while resolved(name, "east-a-0001", "west-b-0001") == "" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert resolved(name, "east-a-0001", "west-b-0001") == own_ip(name, "west-b-0001")
    assert f"nameserver {own_ip(name, 'east-a-0000')}" in sh(name, "east-a-0000", "cat /etc/resolv.conf")
    # the 3 a.m. case: the daemon died; names fail, drift says which server, `grid up` starts it again
    sh(name, "east-a-0000", "kill $(cat /run/grid-dnsmasq.pid)")
    assert resolved(name, "east-a-0001", "west-b-0001") == ""
    assert resolved(name, "east-a-0001", "east-a-0001") == own_ip(name, "east-a-0001")  # its own name still
    drift = grid("drift", str(grown), "--json", "--detailed-exitcode")
    assert drift.code == 2, drift.output
    assert [i["address"] for i in json.loads(drift.stdout)["items"]] == ["east/a/node-0000"]
    up = grid("up", str(grown), "--yes", "--skip-check")
    assert up.code == 0, up.output
    assert resolved(name, "east-a-0001", "west-b-0001") == own_ip(name, "west-b-0001")


def _left_of_the_name_service(name: str, hostname: str) -> str:
    return sh(name, hostname, "cat /proc/[0-9]*/comm 2>/dev/null | grep -x dnsmasq; "
                              "ls /etc/grid/dnsmasq.conf /etc/grid/hosts.d /etc/grid/resolv.conf 2>/dev/null; true")


def test_switching_to_the_hosts_file_and_back_converges_and_leaves_nothing_behind(lab: tuple[Path, Path, str]) -> None:
    _, grown, name = lab
    hostnames = ["east-a-0000", "east-a-0001", "east-a-0002", "west-b-0000", "west-b-0001"]
    ips = {h: own_ip(name, h) for h in hostnames}
    podmans = {h: sh(name, h, "cat /etc/grid/resolv.conf.podman") for h in hostnames}  # kept by the first run
    assert all(text and "grid" not in text for text in podmans.values()), podmans
    hosts_file = _spec(grown.parent, name, 3, "hosts_file")
    planned = grid("plan", str(hosts_file), "--json")
    assert planned.code == 0, planned.output
    reasons = {c["address"]: c["reason"] for c in json.loads(planned.stdout)["configuration"]}
    assert len(reasons) == 5 and all(r.endswith("; name resolution: dns -> hosts_file") for r in reasons.values())
    up = grid("up", str(hosts_file), "--yes", "--skip-check")
    assert up.code == 0, up.output
    for h in hostnames:
        assert _left_of_the_name_service(name, h) == "", h
        assert sh(name, h, "cat /etc/resolv.conf") == podmans[h], h
        assert all(other in sh(name, h, "cat /etc/hosts") for other in hostnames), h
    assert all(resolved(name, "west-b-0001", other) == ips[other] for other in hostnames)
    assert grid("drift", str(hosts_file), "--detailed-exitcode").code == 0
    # podman's own at the next start too: grid's init has nothing of grid's left to put back
    subprocess.run(["podman", "restart", f"grid-{name}-east-a-0001"], check=True, capture_output=True)
    assert sh(name, "east-a-0001", "cat /etc/resolv.conf") == podmans["east-a-0001"]

    back = grid("up", str(grown), "--yes", "--skip-check")  # the default again: dns
    assert back.code == 0, back.output
    for h in hostnames:
        server = SERVERS[0] if h.startswith("east") else SERVERS[1]
        assert f"nameserver {ips[server]}" in sh(name, h, "cat /etc/resolv.conf"), h
        assert not [o for o in hostnames if o != h and o in sh(name, h, "cat /etc/hosts")], h
    assert all(resolved(name, "east-a-0001", other) == ips[other] for other in hostnames)
    assert grid("drift", str(grown), "--detailed-exitcode").code == 0


def test_a_pool_put_first_moves_the_server_and_the_old_one_stops_serving(lab: tuple[Path, Path, str]) -> None:
    """The 3 a.m. edit: a pool added at the top of a region's list. Its first node serves the region from then on;
    the node that served stops its dnsmasq and keeps none of the server's files, and every node resolves through
    the new server. Records of the cluster found later on a node that does not serve are drift; `grid up` clears
    them."""
    _, grown, name = lab
    pool = "fabrics: [mgmt], roles: [compute], resources: {cpus: 0.5, memory_gb: 0.5}"
    text = grown.read_text()
    first = f"        - {{name: a, count: 3, {pool}}}\n"
    assert text.count(first) == 1, text
    moved = grown.with_name("cluster-moved.yaml")
    moved.write_text(text.replace(first, f"        - {{name: z, count: 1, {pool}}}\n" + first))
    up = grid("up", str(moved), "--yes", "--skip-check")
    assert up.code == 0, up.output
    east = ["east-z-0000", "east-a-0000", "east-a-0001", "east-a-0002"]
    ips = {h: own_ip(name, h) for h in [*east, "west-b-0000", "west-b-0001"]}
    assert _left_of_the_name_service(name, "east-a-0000") == "/etc/grid/resolv.conf\n"  # grid's copy: a client now
    assert "dnsmasq" in sh(name, "east-z-0000", "cat /proc/$(cat /run/grid-dnsmasq.pid)/comm")
    for on in east:
        assert f"nameserver {ips['east-z-0000']}" in sh(name, on, "cat /etc/resolv.conf"), on
        assert all(resolved(name, on, other) == ip for other, ip in ips.items()), on
    assert grid("drift", str(moved), "--detailed-exitcode").code == 0

    sh(name, "east-a-0001", f"mkdir -p /etc/grid/hosts.d && echo '198.18.0.9 stale' > /etc/grid/hosts.d/{name}")
    drift = grid("drift", str(moved), "--json", "--detailed-exitcode")
    assert drift.code == 2, drift.output
    assert [i["address"] for i in json.loads(drift.stdout)["items"]] == ["east/a/node-0001"]
    up = grid("up", str(moved), "--yes", "--skip-check")
    assert up.code == 0, up.output
    assert sh(name, "east-a-0001", "ls /etc/grid/hosts.d 2>/dev/null; true") == ""
    assert grid("drift", str(moved), "--detailed-exitcode").code == 0
