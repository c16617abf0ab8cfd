"""The spec's network policy as the engines take it: nftables inputs for the `firewall` role (all.yml
`grid_firewall`) and resolved rules for the clouds' security groups (the region program's data).

Sources resolve the same way for both: a CIDR is itself, a fabric name its subnet, `pool:NAME` that
pool's node addresses (the role reads them from the inventory, so a pool that grows is followed by
the run that adds the nodes; the clouds get them from the graph). A name is looked up in the rule's
own region first, then in every region.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from grid.resources import Kind, ResourceGraph
from grid.spec.model import Cluster, Fabric
from grid.spec.network import IngressRule, declares_policy

FIREWALL_ROLE = "firewall"
POOL_PREFIX = "pool:"


def has_policy(cluster: Cluster) -> bool:
    return declares_policy(cluster.spec.access, [f.ingress for r in cluster.spec.regions for f in r.fabrics])


def port_ranges(ports: list[int | str]) -> list[tuple[int, int]]:
    """Ports and "low-high" ranges as sorted, disjoint, merged (low, high) ranges (nftables refuses overlaps)."""
    spans = sorted((int(p), int(p)) if isinstance(p, int) else
                   (int(p.partition("-")[0]), int(p.partition("-")[2] or p.partition("-")[0])) for p in ports)
    merged: list[tuple[int, int]] = []
    for low, high in spans:
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def nft_match(rule: IngressRule) -> str:
    """The nftables match of a rule's protocol and ports (`tcp dport { 22, 8000-8100 }`)."""
    ranges = port_ranges(rule.ports)
    if rule.protocol == "icmp" or not ranges:
        return f"meta l4proto {rule.protocol}"
    ports = ", ".join(str(low) if low == high else f"{low}-{high}" for low, high in ranges)
    return f"{rule.protocol} dport {{ {ports} }}"


def _group(*parts: str) -> str:
    return "_".join(parts).replace("-", "_")  # grid.render.ansible.group_name (which imports this module)


def _fabric_cidrs(cluster: Cluster, region: str, name: str) -> list[str]:
    own = [f.cidr for r in cluster.spec.regions if r.name == region for f in r.fabrics if f.name == name]
    return own or sorted({f.cidr for r in cluster.spec.regions for f in r.fabrics if f.name == name})


def _pools(cluster: Cluster, region: str, name: str) -> list[tuple[str, str]]:
    """(region, pool) pairs a `pool:NAME` source means."""
    own = [(r.name, p.name) for r in cluster.spec.regions if r.name == region for p in r.pools if p.name == name]
    return own or [(r.name, p.name) for r in cluster.spec.regions for p in r.pools if p.name == name]


def rule_sources(cluster: Cluster, region: str, rule: IngressRule) -> tuple[list[str], list[tuple[str, str]]]:
    """A rule's sources as (CIDRs, (region, pool) pairs), each in spec order without repeats."""
    cidrs: list[str] = []
    pools: list[tuple[str, str]] = []
    for source in rule.from_:
        if source.startswith(POOL_PREFIX):
            pools += _pools(cluster, region, source[len(POOL_PREFIX):])
        elif source[:1].isdigit():
            cidrs.append(str(ipaddress.IPv4Network(source, strict=False)))
        else:
            cidrs += _fabric_cidrs(cluster, region, source)
    return list(dict.fromkeys(cidrs)), list(dict.fromkeys(pools))


def firewall_vars(cluster: Cluster) -> dict[str, Any]:
    """`grid_firewall` for all.yml, or nothing when the spec declares no policy (nothing is filtered)."""
    if not has_policy(cluster):
        return {}
    fabrics: dict[str, Any] = {}
    uses_pools = False
    for region in cluster.spec.regions:
        for fabric in region.fabrics:
            if fabric.ingress is None:
                continue
            rules = []
            for rule in fabric.ingress:
                cidrs, pools = rule_sources(cluster, region.name, rule)
                uses_pools = uses_pools or bool(pools)
                rules.append({"match": nft_match(rule), "cidrs": cidrs,
                              "pools": [_group("pool", r, p) for r, p in pools]})
            fabrics[f"{region.name}/{fabric.name}"] = {"cidr": fabric.cidr, "rules": rules}
    admin = cluster.spec.access.admin_cidrs
    return {"grid_firewall": {
        "admin_cidrs": None if admin is None else [str(ipaddress.IPv4Network(c, strict=False)) for c in admin],
        "ssh_port": cluster.spec.defaults.ssh.port,
        "fabrics": fabrics,
        "uses_pools": uses_pools,
    }}


def firewall_follows_pools(cluster: Cluster) -> bool:
    """Whether a rule names `pool:NAME` (its addresses change as the pool's nodes come and go)."""
    return bool(firewall_vars(cluster).get("grid_firewall", {}).get("uses_pools"))


def cloud_policy(cluster: Cluster, graph: ResourceGraph, region: str) -> dict[str, Any]:
    """What a cloud region's program adds to its data: `admin_cidrs` when the spec gives them, and
    {fabric name: ingress rules with every source a CIDR} for the fabrics that declare ingress."""
    out: dict[str, Any] = {}
    admin = cluster.spec.access.admin_cidrs
    if admin is not None:
        out["admin_cidrs"] = [str(ipaddress.IPv4Network(c, strict=False)) for c in admin]
    spec_region = next((r for r in cluster.spec.regions if r.name == region), None)
    fabrics = [f for f in (spec_region.fabrics if spec_region else []) if f.ingress is not None]
    if fabrics:
        out["ingress"] = {f.name: _cloud_rules(cluster, graph, region, f) for f in fabrics}
    return out


def _cloud_rules(cluster: Cluster, graph: ResourceGraph, region: str, fabric: Fabric) -> list[dict[str, Any]]:
    rules = []
    for rule in fabric.ingress or []:
        cidrs, pools = rule_sources(cluster, region, rule)
        addresses = [ipaddress.IPv4Network(ip) for node in graph.of_kind(Kind.NODE)
                     if (node.region, str(node.attrs["pool"])) in pools
                     for ip in node.attrs.get("fabrics", {}).values() if ip]
        # A pool's nodes sit side by side in their subnets: a few CIDRs instead of one rule per node.
        collapsed = [str(n) for n in ipaddress.collapse_addresses(addresses)]
        rules.append({"protocol": rule.protocol, "ports": [list(r) for r in port_ranges(rule.ports)],
                      "cidrs": list(dict.fromkeys(cidrs + collapsed))})
    return rules
