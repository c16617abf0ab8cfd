"""The spec expanded into resources with stable addresses.

Addresses are the one vocabulary shared by plan, state, inventory and Pulumi:
`region/fabric/name`, `region/storage/name`, `region/pool/node-0007`, `link/a--b`.
Node IP addresses are sticky: an address already held in state keeps its IP, so
growing one pool never renumbers another.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from grid.spec.model import Cluster, Region


class Kind(enum.StrEnum):
    FABRIC = "fabric"
    VOLUME = "volume"
    NODE = "node"
    LINK = "link"


@dataclass(frozen=True, slots=True)
class Resource:
    address: str
    kind: Kind
    region: str
    attrs: Mapping[str, Any]

    @property
    def name(self) -> str:
        return self.address.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ResourceGraph:
    cluster: str
    resources: tuple[Resource, ...]
    _index: dict[str, Resource] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update((r.address, r) for r in self.resources)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def get(self, address: str) -> Resource | None:
        return self._index.get(address)

    def of_kind(self, kind: Kind) -> list[Resource]:
        return [r for r in self.resources if r.kind is kind]

    def in_region(self, region: str) -> list[Resource]:
        return [r for r in self.resources if r.region == region]

    @property
    def regions(self) -> list[str]:
        return list(dict.fromkeys(r.region for r in self.resources if r.kind is not Kind.LINK))


def node_address(region: str, pool: str, index: int) -> str:
    return f"{region}/{pool}/node-{index:04d}"


def node_hostname(region: str, pool: str, index: int) -> str:
    return f"{region}-{pool}-{index:04d}"


def fabric_address(region: str, fabric: str) -> str:
    return f"{region}/fabric/{fabric}"


def volume_address(region: str, storage: str) -> str:
    return f"{region}/storage/{storage}"


def link_address(a: str, b: str) -> str:
    first, second = sorted((a, b))
    return f"link/{first}--{second}"


def physical_name(cluster: str, address: str) -> str:
    """Name of the real object (container, network, volume): unique per host across clusters."""
    return "grid-" + cluster + "-" + address.replace("/fabric/", "-").replace("/storage/", "-").replace(
        "/node-", "-").replace("/", "-")


@dataclass(frozen=True)
class ExistingNode:
    """A host of the existing target standing for one node: its hostname and the IPs it already has."""

    hostname: str
    ips: Mapping[str, str]  # fabric -> IP


Allocations = Mapping[str, Mapping[str, str]]
"""Prior node addresses per resource address and fabric, taken from state."""


def expand(cluster: Cluster, prior: Allocations | None = None) -> ResourceGraph:
    prior = prior or {}
    resources: list[Resource] = []
    image = cluster.spec.targets.local.image or cluster.spec.defaults.image
    existing = _existing_hosts(cluster)
    for region in cluster.spec.regions:
        resources.extend(_region_resources(cluster, region, prior, image, existing))
    for link in cluster.spec.links:
        a, b = link.between
        resources.append(Resource(link_address(a, b), Kind.LINK, "", {
            "between": sorted((a, b)), "bandwidth_gbps": link.bandwidth_gbps, "latency_ms": link.latency_ms}))
    return ResourceGraph(cluster.name, tuple(resources))


def _existing_hosts(cluster: Cluster) -> Mapping[str, ExistingNode]:
    """Target `existing`: each node's host (name and fixed IPs per fabric); nothing for other targets."""
    if cluster.spec.target != "existing":
        return {}
    from grid.targets.existing import existing_nodes

    return existing_nodes(cluster)


def _region_resources(cluster: Cluster, region: Region, prior: Allocations, image: str,
                      existing: Mapping[str, ExistingNode]) -> list[Resource]:
    out: list[Resource] = []
    allocators: dict[str, _Allocator] = {}
    node_addresses = [
        node_address(region.name, pool.name, i) for pool in region.pools for i in range(pool.count)]
    wanted = set(node_addresses)
    # Existing hosts keep the IPs they have (their address on the fabric grid connects over); no node takes them.
    pinned = {(address, name): ip for address in node_addresses if address in existing
              for name, ip in existing[address].ips.items()}
    # AWS keeps the first four addresses and the last one of every subnet for itself.
    first_host = 4 if cluster.spec.target == "aws" else 2
    for fabric in region.fabrics:
        allocator = _Allocator(fabric.cidr, first_host=first_host)
        for (address, name), ip in pinned.items():
            if name == fabric.name:
                allocator.reserve(address, ip)
        for address, fabrics in prior.items():
            if address in wanted and fabric.name in fabrics and (address, fabric.name) not in pinned:
                allocator.reserve(address, fabrics[fabric.name])
        allocators[fabric.name] = allocator
        out.append(Resource(fabric_address(region.name, fabric.name), Kind.FABRIC, region.name, {
            "name": fabric.name, "kind": fabric.kind, "cidr": fabric.cidr, "mtu": fabric.mtu,
            "gateway": allocator.gateway, "speed_gbps": fabric.speed_gbps,
            "network": physical_name(cluster.name, fabric_address(region.name, fabric.name)),
        }))
    for storage in region.storage:
        users = sorted(p.name for p in region.pools if storage.name in p.storage)
        address = volume_address(region.name, storage.name)
        out.append(Resource(address, Kind.VOLUME, region.name, {
            "name": storage.name, "kind": storage.kind, "capacity_tib": storage.capacity_tib,
            "mount": storage.mount, "protect": storage.protect, "pools": users,
            "volume": physical_name(cluster.name, address),
        }))
    mounts = {s.name: s.mount for s in region.storage}
    for pool in region.pools:
        accel = pool.accelerator
        for index in range(pool.count):
            address = node_address(region.name, pool.name, index)
            ips = {name: pinned.get((address, name)) or allocators[name].assign(address)
                   for name in pool.fabrics if name in allocators}
            host = existing.get(address)
            out.append(Resource(address, Kind.NODE, region.name, {
                "pool": pool.name, "index": index,
                "hostname": host.hostname if host else node_hostname(region.name, pool.name, index),
                "container": physical_name(cluster.name, address), "image": image,
                "accelerator": accel.model if accel else "cpu", "accelerators": accel.per_node if accel else 0,
                "fabrics": ips,
                "storage": {name: mounts[name] for name in pool.storage if name in mounts},
                "roles": list(pool.roles), "cpus": pool.resources.cpus, "memory_gb": pool.resources.memory_gb,
            }))
    return out


class _Allocator:
    """Hands out host addresses of one fabric: .1 is the gateway, nodes from .2 on (`first_host`)."""

    def __init__(self, cidr: str, *, first_host: int = 2) -> None:
        net = ipaddress.IPv4Network(cidr)
        self._first = int(net.network_address) + first_host
        self._last = int(net.broadcast_address) - 1
        self.gateway = str(net.network_address + 1) if net.num_addresses > 2 else ""
        self._net = net
        self._used: set[int] = set()
        self._held: dict[str, str] = {}
        self._cursor = self._first

    def reserve(self, address: str, ip: str) -> None:
        try:
            value = int(ipaddress.IPv4Address(ip))
        except ValueError:
            return
        if self._first <= value <= self._last and value not in self._used:
            self._used.add(value)
            self._held[address] = ip

    def assign(self, address: str) -> str:
        held = self._held.get(address)
        if held is not None:
            return held
        while self._cursor <= self._last and self._cursor in self._used:
            self._cursor += 1
        if self._cursor > self._last:
            return ""  # exhausted: the addressing validator reports it before anything is applied
        value = self._cursor
        self._used.add(value)
        self._cursor += 1
        return str(ipaddress.IPv4Address(value))
