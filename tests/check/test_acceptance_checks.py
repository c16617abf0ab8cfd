"""check.py: the acceptance checks per node, against a scripted remote shell (no SSH, no nodes)."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from grid.check import STATUS_MARK, NodeReport, run_checks
from grid.resources import Kind, Resource, ResourceGraph, connect_ip, expand
from support.fakes import UnreachableRemote
from support.paths import LOCAL_LAB
from support.specs import applied_state, cluster_from


class HealthyNodes:
    """A remote shell answering as the nodes of `graph` would once configured: right hostname, interfaces up
    with the spec's MTU, peers reachable, facts file, shared storage mounted; `wrong` replaces an answer."""

    def __init__(self, graph: ResourceGraph, wrong: dict[tuple[str, str], tuple[int, str]] | None = None) -> None:
        self.nodes = {n.attrs["hostname"]: n for n in graph.of_kind(Kind.NODE)}
        self.mtu = {(f.region, f.attrs["name"]): int(f.attrs["mtu"]) for f in graph.of_kind(Kind.FABRIC)}
        self.wrong = wrong or {}
        self.files: dict[str, str] = {}  # what was written on shared storage (one store for the lab)
        self.asked: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()

    def run(self, host: str, address: str, command: str) -> tuple[int, str]:
        with self.lock:
            self.asked.append((host, address, command))
        node = self.nodes[host]
        kind = command.split()[0]
        if (host, kind) in self.wrong and not command.startswith("cat /etc/grid/node.json;"):
            return self.wrong[host, kind]
        if command == "hostname; ip -j addr":
            return 0, f"{host}\n{json.dumps(self._interfaces(node))}"
        if command.startswith("cat /etc/grid/node.json;"):  # the facts, then the names, each with its status
            attrs = node.attrs
            facts = self.wrong.get((host, "cat"), (0, json.dumps({
                "address": node.address, "hostname": host, "pool": attrs["pool"],
                "accelerators": attrs["accelerators"]})))
            out = f"{facts[1] if facts[0] == 0 else ''}\n{STATUS_MARK}{facts[0]}\n"
            if "getent hosts" in command:
                out += f"{STATUS_MARK}{self.wrong.get((host, 'test'), (0, ''))[0]}\n"
            return 0, out
        if written := re.search(r"echo (\w+) > (\S+)$", command):
            self.files[written[2]] = written[1]
            return 0, ""
        if command.startswith("cat "):
            path = command.split(" ", 1)[1]
            return (0, self.files[path] + "\n") if path in self.files else (1, "No such file")
        return 0, ""  # ping, findmnt/test -w, rm

    def _interfaces(self, node: Resource) -> list[dict[str, Any]]:
        return [{"ifname": f"eth{i}", "flags": ["UP"], "mtu": self.mtu[node.region, name],
                 "addr_info": [{"family": "inet", "local": ip}]}
                for i, (name, ip) in enumerate(sorted(node.attrs["fabrics"].items()))]


def lab() -> tuple[ResourceGraph, Any]:
    graph = expand(cluster_from(LOCAL_LAB))
    return graph, applied_state(graph)


def test_a_healthy_cluster_passes_every_check_over_the_connect_address() -> None:
    graph, state = lab()
    remote = HealthyNodes(graph)
    seen: list[NodeReport] = []

    reports = run_checks(graph, state, remote, progress=seen.append)

    assert [r.problems for r in reports if not r.ok] == []
    assert [r.address for r in seen] == [r.address for r in reports] == [n.address for n in graph.of_kind(Kind.NODE)]
    first = reports[0]
    assert {"ssh", "hostname", "facts"} <= set(first.checks)
    assert any(name.startswith("storage:") and name.endswith(":shared") for name in first.checks)
    nodes = {n.attrs["hostname"]: n for n in graph.of_kind(Kind.NODE)}
    assert all(address == connect_ip(nodes[host]) for host, address, _ in remote.asked)
    assert remote.files, "a probe file was written on shared storage"
    assert first.to_dict()["ok"] is True and first.to_dict()["hostname"] == first.hostname


def test_a_node_that_cannot_resolve_the_cluster_names_fails_the_names_check() -> None:
    """The 3 a.m. case of a name service (configuration.names: dns): the region's server is down."""
    graph, state = lab()
    remote = HealthyNodes(graph, wrong={("east-train-0001", "test"): (1, "")})
    reports = {r.hostname: r for r in run_checks(graph, state, remote)}
    bad = reports["east-train-0001"]
    assert bad.checks["names"] is False
    assert any("east-train-0000, west-infer-0000 do not all resolve" in p and "grid drift" in p for p in bad.problems)
    assert reports["west-infer-0001"].ok and reports["west-infer-0001"].checks["names"] is True
    lookups = [c for h, _, c in remote.asked if h == "west-infer-0001" and "getent hosts" in c]
    assert lookups and "getent hosts east-train-0000" in lookups[0] and "west-infer-0001" not in lookups[0]


def test_in_a_clouds_private_zone_a_node_looks_up_its_own_regions_names_only() -> None:
    """A zone per cloud region (names: dns on aws): west's nodes are not east's to resolve (nor to reach)."""
    from support.paths import EXAMPLES

    graph = expand(cluster_from(EXAMPLES / "targets" / "lab-aws.yaml"))
    remote = HealthyNodes(graph)
    reports = {r.hostname: r for r in run_checks(graph, applied_state(graph), remote)}
    assert all(r.checks.get("names") is True for h, r in reports.items() if h not in ("east-train-0000",
                                                                                       "west-infer-0000"))
    lookups = {h: c for h, _, c in remote.asked if "cat /etc/grid/node.json;" in c}
    assert "getent hosts east-train-0000" in lookups["east-train-0001"]
    assert "west-infer-0000" not in lookups["east-train-0001"] and "east-train-0000" not in lookups["west-infer-0001"]
    assert "getent hosts" not in lookups["east-train-0000"]  # the region's only sampled name is its own


def test_only_nodes_in_state_are_checked() -> None:
    graph, state = lab()
    kept = next(iter(n.address for n in graph.of_kind(Kind.NODE)))
    state = state.model_copy(update={"resources": {a: r for a, r in state.resources.items()
                                                   if r.kind != "node" or a == kept}})
    assert [r.address for r in run_checks(graph, state, HealthyNodes(graph))] == [kept]


def test_an_unreachable_node_fails_ssh_and_nothing_else_is_tried() -> None:
    graph, state = lab()
    remote = UnreachableRemote()

    reports = run_checks(graph, state, remote)

    assert all(r.checks == {"ssh": False} and not r.ok for r in reports)
    assert all("ssh to " in r.problems[0] and "Connection refused" in r.problems[0] for r in reports)
    asked = {command for _, command in remote.commands}
    assert "hostname; ip -j addr" in asked and not any(c.startswith("cat /etc/grid/node.json") for c in asked)


def test_a_wrong_hostname_and_missing_facts_are_named() -> None:
    graph, state = lab()
    node = next(iter(graph.of_kind(Kind.NODE)))
    host = node.attrs["hostname"]
    remote = HealthyNodes(graph)
    healthy = remote.run(host, connect_ip(node), "hostname; ip -j addr")[1]
    remote.wrong = {(host, "hostname;"): (0, healthy.replace(host, "somebody-else", 1)),
                    (host, "cat"): (1, "cat: /etc/grid/node.json: No such file or directory")}

    reports = {r.hostname: r for r in run_checks(graph, state, remote)}

    bad = reports.pop(host)
    assert bad.checks["hostname"] is False and bad.checks["facts"] is False and not bad.ok
    assert f"hostname is 'somebody-else', expected {host!r}" in bad.problems
    assert all(r.ok for r in reports.values())


def test_a_wrong_mtu_and_an_interface_down_fail_their_fabric_checks() -> None:
    graph, state = lab()
    node = next(iter(graph.of_kind(Kind.NODE)))
    host = node.attrs["hostname"]
    remote = HealthyNodes(graph)
    interfaces = remote._interfaces(node)
    interfaces[0]["mtu"] = 1280
    interfaces[1]["flags"] = []
    remote.wrong = {(host, "hostname;"): (0, f"{host}\n{json.dumps(interfaces)}")}

    report = next(r for r in run_checks(graph, state, remote) if r.hostname == host)

    names = sorted(node.attrs["fabrics"])
    assert report.checks[f"fabric:{names[0]}:mtu"] is False
    assert any(p.startswith(f"{names[0]}: MTU 1280, spec says") for p in report.problems)
    assert report.checks[f"fabric:{names[1]}:up"] is False
