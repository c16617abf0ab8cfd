"""Validators: fabric subnets are big enough, never overlap, and suit the target.

Node counts are summed per pool, never iterated per node: a region of 100,000
nodes in a dozen pools costs a dozen additions.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

from grid.diagnostics import Diagnostic, Path, error, path_text, warning
from grid.spec.model import Cluster
from grid.spec.targets import traits_of
from grid.validate.base import Validator

REGIONS: Path = ("spec", "regions")
# Network, gateway (.1) and broadcast addresses are never handed to nodes.
RESERVED_PER_FABRIC = 3
LAB_RANGE = ipaddress.IPv4Network("198.18.0.0/15")
RDMA_KINDS = ("roce", "infiniband")
RDMA_MIN_MTU = 4096


@dataclass(frozen=True, slots=True)
class _Subnet:
    order: int
    region: str
    fabric: str
    net: ipaddress.IPv4Network
    path: Path

    @property
    def label(self) -> str:
        return f"fabric '{self.fabric}' in region '{self.region}'"


def _subnets(cluster: Cluster) -> list[_Subnet]:
    out: list[_Subnet] = []
    for r, region in enumerate(cluster.spec.regions):
        for f, fabric in enumerate(region.fabrics):
            path = (*REGIONS, r, "fabrics", f, "cidr")
            out.append(_Subnet(len(out), region.name, fabric.name, ipaddress.IPv4Network(fabric.cidr), path))
    return out


def smallest_prefix(addresses: int) -> int:
    """Longest prefix length whose block holds `addresses` addresses (0 if none does)."""
    return max(0, 32 - max(0, addresses - 1).bit_length())


def fabric_capacity(cluster: Cluster) -> Iterator[Diagnostic]:
    traits = traits_of(cluster)
    # The allocator (grid.resources) hands out from `first_host` up to the one before broadcast.
    reserved = max(RESERVED_PER_FABRIC, traits.first_host + 1)
    kept = ("network, gateway and broadcast" if reserved == RESERVED_PER_FABRIC
            else f"the {reserved} addresses {traits.provider or traits.name} keeps in every subnet")
    for r, region in enumerate(cluster.spec.regions):
        attached: dict[str, list[tuple[str, int]]] = {}
        for pool in region.pools:
            for name in dict.fromkeys(pool.fabrics):
                attached.setdefault(name, []).append((pool.name, pool.count))
        for f, fabric in enumerate(region.fabrics):
            pools = attached.get(fabric.name, [])
            nodes = sum(count for _, count in pools)
            needed = nodes + reserved
            net = ipaddress.IPv4Network(fabric.cidr)
            if needed <= net.num_addresses:
                continue
            prefix = smallest_prefix(needed)
            shown = ", ".join(f"{name} ({count})" for name, count in pools[:8])
            more = f" and {len(pools) - 8} more" if len(pools) > 8 else ""
            if needed > 2**32:
                hint = "no IPv4 subnet is that large; split the pools over several fabrics"
            else:
                example = net.supernet(new_prefix=prefix) if prefix < net.prefixlen else net
                hint = (f"use a /{prefix} or larger ({2 ** (32 - prefix)} addresses), for example "
                        f"cidr: {example}, and check it overlaps no other fabric")
            yield error(
                f"fabric '{fabric.name}' needs {needed} addresses but {fabric.cidr} has {net.num_addresses}",
                (*REGIONS, r, "fabrics", f, "cidr"), code="addressing.capacity",
                detail=f"{nodes} node(s) from pools {shown}{more}, plus {kept}",
                hint=hint)


def cidrs_disjoint(cluster: Cluster) -> Iterator[Diagnostic]:
    """Each fabric overlapping an earlier one gets one error naming the earliest it overlaps.

    CIDR blocks are nested or disjoint, so they form a forest: one sorted sweep finds every
    block's containers (the stack) and parent; a reverse pass finds its earliest contained block.
    """
    subnets = _subnets(cluster)
    ordered = sorted(subnets, key=lambda s: (int(s.net.network_address), s.net.prefixlen, s.order))
    stack: list[_Subnet] = []
    earliest_in_stack: list[_Subnet] = []
    above: dict[int, _Subnet] = {}
    parent: dict[int, int] = {}
    for current in ordered:
        while stack and int(stack[-1].net.broadcast_address) < int(current.net.network_address):
            stack.pop()
            earliest_in_stack.pop()
        if stack:
            above[current.order] = earliest_in_stack[-1]
            parent[current.order] = stack[-1].order
        best = earliest_in_stack[-1] if stack and earliest_in_stack[-1].order < current.order else current
        stack.append(current)
        earliest_in_stack.append(best)
    below: dict[int, _Subnet] = {}
    for current in reversed(ordered):
        if current.order not in parent:
            continue
        inner = below.get(current.order)
        candidate = inner if inner is not None and inner.order < current.order else current
        up = parent[current.order]
        if up not in below or candidate.order < below[up].order:
            below[up] = candidate
    for subnet in subnets:
        others = [o for o in (above.get(subnet.order), below.get(subnet.order)) if o is not None]
        earlier = min(others, key=lambda o: o.order, default=None)
        if earlier is None or earlier.order > subnet.order:
            continue
        same = "is the same subnet as" if earlier.net == subnet.net else "overlaps"
        yield error(
            f"{subnet.net} of {subnet.label} {same} {earlier.net} of {earlier.label}", subnet.path,
            code="addressing.overlap", detail=f"the other subnet is at {path_text(earlier.path)}",
            hint="give every fabric its own subnet; all fabrics of all regions share one address plan")


def local_ranges(cluster: Cluster) -> Iterator[Diagnostic]:
    if not traits_of(cluster).lab_subnets_only:
        return
    for subnet in _subnets(cluster):
        # Inside the range also means clear of podman's own default network (moved into 198.19/16 by
        # grid's containers.conf) and of every network of the machine the lab runs on.
        if not subnet.net.subnet_of(LAB_RANGE):
            yield error(f"{subnet.net} of {subnet.label} is outside {LAB_RANGE}", subnet.path,
                        code="addressing.lab-range",
                        detail=f"the lab only uses the benchmarking range {LAB_RANGE} (RFC 2544), so it "
                               "never collides with the networks of the machine it runs on",
                        hint="pick a subnet inside 198.18.0.0/15, e.g. cidr: 198.18.0.0/24")


def rdma_mtu(cluster: Cluster) -> Iterator[Diagnostic]:
    for r, region in enumerate(cluster.spec.regions):
        fabrics = {f.name: f for f in region.fabrics}
        for p, pool in enumerate(region.pools):
            for i, name in enumerate(pool.fabrics):
                fabric = fabrics.get(name)
                if pool.fabrics.index(name) != i:
                    continue  # listed twice: the references validator reports the repeat
                if fabric is None or fabric.kind not in RDMA_KINDS or fabric.mtu >= RDMA_MIN_MTU:
                    continue
                yield warning(
                    f"pool '{pool.name}' uses {fabric.kind} fabric '{name}' with MTU {fabric.mtu}",
                    (*REGIONS, r, "pools", p, "fabrics", i), code="addressing.rdma-mtu",
                    detail="RDMA wants jumbo frames; small frames cut throughput of collective operations",
                    hint=f"set mtu: 9000 on fabric '{name}' (at least {RDMA_MIN_MTU})")


VALIDATORS: list[Validator] = [fabric_capacity, cidrs_disjoint, local_ranges, rdma_mtu]
