"""Acceptance check of the network policy: from one node to another, a declared port gets through and an
undeclared one does not.

Cheap on purpose: per fabric that declares `ingress`, one peer connects (bash's /dev/tcp under `timeout`)
to one other node twice. Through the firewall a port answers or is refused at once (nothing may listen
there); a filtered port stays silent until the timeout. So "allowed" means connected or refused, and
"filtered" means timed out.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

from grid.check import NodeReport, Remote
from grid.render.network import port_ranges, rule_sources
from grid.resources import Kind, Resource, ResourceGraph, connect_ip
from grid.spec.model import Cluster, Fabric
from grid.spec.network import IngressRule

TIMEOUT_S = 3
# Ports tried, in order, as the undeclared one (the first that no rule allows to the source).
UNDECLARED = (9, 6999, 40001, 65001)
TIMED_OUT = 124  # timeout(1)


@dataclass(frozen=True)
class Probe:
    source: Resource  # the node that connects
    target_ip: str
    target: str  # hostname
    fabric: str
    port: int
    allowed: bool

    @property
    def name(self) -> str:
        return f"policy:{self.fabric}:{self.port}:{'allowed' if self.allowed else 'filtered'}"


def probes(cluster: Cluster, graph: ResourceGraph, made: set[str]) -> list[Probe]:
    """The probes of every fabric that declares ingress, between nodes that exist (`made`: addresses)."""
    out: list[Probe] = []
    ssh_port = cluster.spec.defaults.ssh.port
    for region in cluster.spec.regions:
        nodes = sorted((n for n in graph.of_kind(Kind.NODE) if n.region == region.name and n.address in made),
                       key=lambda n: n.address)
        for fabric in region.fabrics:
            on = [n for n in nodes if n.attrs.get("fabrics", {}).get(fabric.name)]
            if fabric.ingress is None or len(on) < 2:
                continue
            out.extend(_fabric_probes(cluster, region.name, fabric, on, ssh_port))
    return out


def _fabric_probes(cluster: Cluster, region: str, fabric: Fabric, on: list[Resource],
                   ssh_port: int) -> Iterator[Probe]:
    target, peers = on[0], on[1:]
    target_ip = str(target.attrs["fabrics"][fabric.name])
    tcp = [r for r in fabric.ingress or [] if r.protocol == "tcp"]

    def open_ports(node: Resource) -> list[tuple[int, int]]:
        return [span for rule in tcp if _admits(cluster, region, rule, node, fabric.name)
                for span in (port_ranges(rule.ports) or [(1, 65535)])]

    source = next((p for p in peers if open_ports(p)), peers[0])
    spans = open_ports(source)
    hostname = str(target.attrs["hostname"])
    if spans:
        yield Probe(source, target_ip, hostname, fabric.name, spans[0][0], True)
    closed = next((p for p in UNDECLARED if p != ssh_port and not any(lo <= p <= hi for lo, hi in spans)), None)
    if closed is not None:
        yield Probe(source, target_ip, hostname, fabric.name, closed, False)


def _admits(cluster: Cluster, region: str, rule: IngressRule, node: Resource, fabric: str) -> bool:
    cidrs, pools = rule_sources(cluster, region, rule)
    if (node.region, str(node.attrs.get("pool"))) in pools:
        return True
    ip = ipaddress.IPv4Address(str(node.attrs["fabrics"][fabric]))
    return any(ip in ipaddress.IPv4Network(cidr) for cidr in cidrs)


def command(probe: Probe) -> str:
    """Exit 0: connected; 1: refused (through the firewall, nothing listening); 124: no answer (filtered)."""
    connect = f"exec 3<>/dev/tcp/{probe.target_ip}/{probe.port}"
    return f"timeout {TIMEOUT_S} bash -c {shlex.quote(connect)} 2>/dev/null"


def run_probes(found: list[Probe], remote: Remote, reports: dict[str, NodeReport]) -> None:
    """Run each probe from its source node and record the outcome in that node's report."""
    for probe in found:
        report = reports.get(probe.source.address)
        if report is None or not report.checks.get("ssh"):
            continue
        code, _ = remote.run(str(probe.source.attrs["hostname"]), connect_ip(probe.source), command(probe))
        passed = code != TIMED_OUT if probe.allowed else code == TIMED_OUT
        where = f"{probe.target} ({probe.target_ip}) port {probe.port} on fabric {probe.fabric}"
        problem = (f"{where} is declared in ingress but gives no answer (filtered)" if probe.allowed
                   else f"{where} is not declared in ingress but gets through (exit {code})")
        report.record(probe.name, passed, problem)
