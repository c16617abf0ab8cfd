"""reachability.py: the network policy probes (which nodes, which ports) and how their outcomes are read."""

from __future__ import annotations

from typing import Any

from grid.check import NodeReport
from grid.reachability import TIMED_OUT, command, probes, run_probes
from grid.resources import Kind, expand
from support.paths import LOCAL_LAB
from support.specs import cluster_from


def _policy(data: dict[str, Any]) -> None:
    compute = data["spec"]["regions"][0]["fabrics"][0]
    compute["ingress"] = [{"ports": ["8000-8100"], "from": ["pool:train"]}, {"protocol": "icmp", "from": ["mgmt"]}]


class Answers:
    """A remote whose connection attempts end with `code`."""

    def __init__(self, code: int) -> None:
        self.code = code
        self.asked: list[tuple[str, str]] = []

    def run(self, host: str, address: str, command: str) -> tuple[int, str]:
        self.asked.append((host, command))
        return self.code, ""


def test_no_ingress_no_probes() -> None:
    cluster = cluster_from(LOCAL_LAB)
    graph = expand(cluster)
    assert probes(cluster, graph, {r.address for r in graph}) == []


def test_one_allowed_and_one_filtered_probe_per_filtered_fabric() -> None:
    cluster = cluster_from(LOCAL_LAB, _policy)
    graph = expand(cluster)
    found = probes(cluster, graph, {r.address for r in graph})
    assert [(p.source.address, p.target, p.fabric, p.port, p.allowed) for p in found] == [
        ("east/train/node-0001", "east-train-0000", "compute", 8000, True),
        ("east/train/node-0001", "east-train-0000", "compute", 9, False)]
    assert command(found[0]) == f"timeout 3 bash -c 'exec 3<>/dev/tcp/{found[0].target_ip}/8000' 2>/dev/null"
    # nodes that do not exist are not probed
    assert probes(cluster, graph, {"east/train/node-0000"}) == []


def test_outcomes_refused_is_through_and_silence_is_filtered() -> None:
    cluster = cluster_from(LOCAL_LAB, _policy)
    graph = expand(cluster)
    found = probes(cluster, graph, {r.address for r in graph})
    source = next(n for n in graph.of_kind(Kind.NODE) if n.address == "east/train/node-0001")
    for code, allowed_ok, filtered_ok in ((0, True, False), (1, True, False), (TIMED_OUT, False, True)):
        report = NodeReport(source.address, source.attrs["hostname"], checks={"ssh": True})
        run_probes(found, Answers(code), {source.address: report})
        assert report.checks["policy:compute:8000:allowed"] is allowed_ok
        assert report.checks["policy:compute:9:filtered"] is filtered_ok
        assert report.ok is (allowed_ok and filtered_ok)
    unreachable = NodeReport(source.address, source.attrs["hostname"], checks={"ssh": False})
    remote = Answers(0)
    run_probes(found, remote, {source.address: unreachable})
    assert remote.asked == []
