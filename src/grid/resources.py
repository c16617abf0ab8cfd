"""The spec expanded into resources with stable addresses.

Addresses are the one vocabulary shared by plan, state, inventory and Pulumi:
`region/fabric/name`, `region/storage/name`, `region/pool/node-0007`, `link/a--b`.
Node IP addresses are sticky: an address already held in state keeps its IP, so
growing one pool never renumbers another. Which IP grid connects to a node at (Ansible, ssh,
checks, host keys) is decided here alone: `connect_ip`.
"""

from __future__ import annotations

import copy
import enum
import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from socket import AF_INET as _AF_INET
from socket import inet_pton as _inet_pton
from typing import Any

from grid.slot_init import slot_init
from grid.spec.model import Cluster, Pool, Region, Storage
from grid.spec.targets import private_zone_name, traits_of


class Kind(enum.StrEnum):
    FABRIC = "fabric"
    VOLUME = "volume"
    NODE = "node"
    LINK = "link"


@slot_init  # made by the 10^5 in a plan of a large cluster
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


CONNECT_FABRIC = "mgmt"
"""The fabric grid reaches a node over when its pool is on it; otherwise the pool's first fabric."""


def connect_fabric(pool_fabrics: Sequence[str]) -> str | None:
    """The fabric grid, ssh and Ansible reach a pool's nodes over: `mgmt` when the pool is on it, else the
    pool's first fabric as the spec lists it (None for a pool on no fabric)."""
    if CONNECT_FABRIC in pool_fabrics:
        return CONNECT_FABRIC
    return pool_fabrics[0] if pool_fabrics else None


def connect_ip(node: Resource, pool_fabrics: Sequence[str] | None = None, *, fabric: str | None = None) -> str:
    """The one IP grid connects to `node` at: Ansible's ansible_host, `grid ssh`, `grid check`, and the host
    keys the existing and cloud targets pin. "" when the node has no address to connect to.

    `fabric` names the fabric explicitly; otherwise it is `connect_fabric` of the pool (a fabric whose
    address is missing is passed over for the next one). The pool's order is the node's own `fabrics`
    order, which `expand` keeps; a node read back from state has lost it (state is canonical JSON, keys
    sorted): see `recorded_connect_ip`.
    """
    ips: Mapping[str, str] = node.attrs.get("fabrics") or {}
    if fabric is not None:
        return ips.get(fabric) or ""
    if ips.get(CONNECT_FABRIC):
        return ips[CONNECT_FABRIC]
    return next((ips[name] for name in (*(pool_fabrics or ()), *ips) if ips.get(name)), "")


PoolFabrics = Mapping[tuple[str, str], Sequence[str]]
"""{(region, pool): the pool's fabrics in the spec's order}."""


def pool_fabrics(cluster: Cluster) -> dict[tuple[str, str], tuple[str, ...]]:
    """The `PoolFabrics` of `cluster`'s spec."""
    return {(region.name, pool.name): tuple(pool.fabrics) for region in cluster.spec.regions for pool in region.pools}


def recorded_connect_ip(address: str, region: str, attrs: Mapping[str, Any], pools: PoolFabrics) -> str:
    """`connect_ip` of a node as state records it, its pool's order taken from the spec (`pool_fabrics`)."""
    return connect_ip(Resource(address, Kind.NODE, region, attrs), pools.get((region, str(attrs.get("pool")))))


Allocations = Mapping[str, Mapping[str, str]]
"""Prior node addresses per resource address and fabric, taken from state."""


def expand(cluster: Cluster, prior: Allocations | None = None, *,
           fixed_hosts: Mapping[str, ExistingNode] | None = None,
           pool_images: Mapping[str, str] | None = None,
           indices: Mapping[str, Sequence[int]] | None = None) -> ResourceGraph:
    """`fixed_hosts`: {node address: the machine standing for it} of a target whose machines exist already
    (grid.targets: `Target.fixed_hosts`); those nodes keep the machine's hostname and IPs. `pool_images`:
    {image name: what the target boots for it} (grid.targets: `Target.pool_images`); a pool naming an image
    there has it as its nodes' `image`, so a changed recipe replaces them. `indices`: {"region/pool": its node
    indices} of pools whose nodes grid replaced (grid.plan.slots.pool_indices); other pools have 0..count-1.
    A node's attrs["index"] is its real index, so replacing one node leaves the others' attributes as they are."""
    # Costs O(nodes) string work and no ipaddress objects: 10^5 nodes expand in well under a second.
    resources: list[Resource] = []
    image = cluster.spec.targets.local.image or cluster.spec.defaults.image
    existing = fixed_hosts or {}
    prior_by_region: dict[str, list[tuple[str, Mapping[str, str]]]] = {}
    for address, fabrics in (prior or {}).items():  # one pass, keeping the order reservations are made in
        region_name = address.split("/", 1)[0] if isinstance(address, str) else ""
        prior_by_region.setdefault(region_name, []).append((address, fabrics))
    for region in cluster.spec.regions:
        resources.extend(_region_resources(cluster, region, prior_by_region.get(region.name, []), image,
                                           existing, pool_images or {}, indices or {}))
    for link in cluster.spec.links:
        a, b = link.between
        resources.append(Resource(link_address(a, b), Kind.LINK, "", {
            "between": sorted((a, b)), "bandwidth_gbps": link.bandwidth_gbps, "latency_ms": link.latency_ms}))
    return ResourceGraph(cluster.name, tuple(resources))


def _region_resources(cluster: Cluster, region: Region, prior: list[tuple[str, Mapping[str, str]]], image: str,
                      existing: Mapping[str, ExistingNode], pool_images: Mapping[str, str],
                      indices: Mapping[str, Sequence[int]]) -> list[Resource]:
    """`prior`: the state's allocations of addresses in this region (by their first path part), in order."""
    out: list[Resource] = []
    allocators: dict[str, _Allocator] = {}
    # Per pool, addresses, hostnames and container names share a prefix; only the index digits vary
    # (physical_name's replacements never reach into digits, so a prefix's name + digits is the name).
    pool_indices: list[Sequence[int]] = [indices.get(f"{region.name}/{pool.name}") or range(pool.count)
                                         for pool in region.pools]
    digits = [f"{i:04d}" for i in range(max((n[-1] + 1 for n in pool_indices if n), default=0))]  # ascending
    pool_addresses = [[prefix + digits[i] for i in numbers] for prefix, numbers in zip(
        [node_address(region.name, pool.name, 0)[:-4] for pool in region.pools], pool_indices, strict=True)]
    node_addresses = [address for addresses in pool_addresses for address in addresses] if (
        prior or existing) else []
    wanted = set(node_addresses)
    # Existing hosts keep the IPs they have (their address on the fabric grid connects over); no node takes them.
    pinned = {(address, name): ip for address in node_addresses if address in existing
              for name, ip in existing[address].ips.items()}
    held = [(address, fabrics) for address, fabrics in prior if address in wanted]
    traits = traits_of(cluster)
    first_host = traits.first_host  # a cloud may keep more than the gateway for itself
    # `names: dns` on a cloud: the region's network resolves in a private zone its stack makes (grid.stacks).
    zone = {"dns_zone": name} if (name := private_zone_name(cluster, region.name)) else {}
    for fabric in region.fabrics:
        railed = traits.roce_rails and fabric.kind == "roce"  # the spec's addresses are rail 0's
        allocator = _Allocator(rail_subnets(fabric.cidr, fabric.ports_per_node)[0] if railed else fabric.cidr,
                               first_host=first_host)
        for (address, name), ip in pinned.items():
            if name == fabric.name:
                allocator.reserve(address, ip)
        allocator.reserve_recorded(fabric.name, held, pinned)
        allocators[fabric.name] = allocator
        out.append(Resource(fabric_address(region.name, fabric.name), Kind.FABRIC, region.name, {
            "name": fabric.name, "kind": fabric.kind, "cidr": fabric.cidr, "mtu": fabric.mtu,
            "gateway": allocator.gateway, "speed_gbps": fabric.speed_gbps,
            "network": physical_name(cluster.name, fabric_address(region.name, fabric.name)), **zone,
        }))
    for storage in region.storage:
        if storage.kind == "local-scratch":
            continue  # a directory on each node (its `directories`), nothing shared to build
        users = sorted(p.name for p in region.pools if storage.name in p.storage)
        address = volume_address(region.name, storage.name)
        paths = [m.path for m in storage.all_mounts]
        out.append(Resource(address, Kind.VOLUME, region.name, {
            "name": storage.name, "kind": storage.kind, "capacity_tib": storage.capacity_tib,
            "mount": paths[0] if paths else "", "protect": storage.protect, "pools": users,
            "volume": physical_name(cluster.name, address),
            **({"mounts": paths} if len(paths) > 1 else {}),
            **_backend_attrs(storage),
        }))
    placed = {s.name: _placement(s) for s in region.storage}
    node, name_of = Kind.NODE, region.name
    for pool, addresses, numbers in zip(region.pools, pool_addresses, pool_indices, strict=True):
        accel = pool.accelerator
        accelerator, accelerators = (accel.model, accel.per_node) if accel else ("cpu", 0)
        cpus, memory_gb = pool.resources.cpus, pool.resources.memory_gb
        used = [placed[name] for name in dict.fromkeys(pool.storage) if name in placed]
        storage_map = {name: path for plain, _, _ in used for name, path in plain.items()}
        binds = [bind for _, more, _ in used for bind in more]
        directories = [directory for _, _, dirs in used for directory in dirs]
        extra = {**({"mounts": binds} if binds else {}), **({"directories": directories} if directories else {}),
                 **(_capacity_attrs(pool) if traits.cloud else {})}
        # Listed twice, a fabric is assigned twice (the second address wins), as pool.fabrics says.
        attached = [(name, allocators[name].assign) for name in pool.fabrics if name in allocators]
        names = [name for name, _ in attached]
        # Every node's IPs before its attributes (nothing else assigns meanwhile: the same IPs). One batch per
        # fabric (`assign_all`) where each fabric is its own allocator once; a fabric listed twice, or pinned
        # IPs, node by node.
        if not pinned and len(set(names)) == len(names):
            ip_maps = _ip_maps(names, [allocators[name].assign_all(addresses) for name in names], len(addresses))
        elif pinned:
            ip_maps = [{name: pinned.get((address, name)) or assign(address) for name, assign in attached}
                       for address in addresses]
        else:
            ip_maps = [{name: assign(address) for name, assign in attached} for address in addresses]
        host_prefix = node_hostname(region.name, pool.name, 0)[:-4]
        container_prefix = physical_name(cluster.name, node_address(region.name, pool.name, 0)[:-4])
        node_image = pool_images.get(pool.image, image) if pool.image else image
        pool_name, roles = pool.name, list(pool.roles)
        for index, address, ips in zip(numbers, addresses, ip_maps, strict=True):
            host = existing.get(address) if existing else None
            number = digits[index]
            attrs = {
                "pool": pool_name, "index": index,
                "hostname": host.hostname if host else host_prefix + number,
                "container": container_prefix + number, "image": node_image,
                "accelerator": accelerator, "accelerators": accelerators,
                "fabrics": ips,
                "storage": storage_map.copy(),  # each node its own dicts and lists: callers may change one
                "roles": roles.copy(), "cpus": cpus, "memory_gb": memory_gb,
            }
            if extra:
                attrs.update(copy.deepcopy(extra))
            out.append(Resource(address, node, name_of, attrs))
    return out


def _ip_maps(names: Sequence[str], columns: Sequence[Sequence[str]], count: int) -> list[dict[str, str]]:
    """Each node's {fabric: IP} from one column of IPs per fabric, in the order of `names`. A pool is on one
    or two fabrics almost always: dict displays for those (dict(zip(...)) per node costs 4x, 0.05 s at 10^5)."""
    if not names:
        return [{} for _ in range(count)]
    if len(names) == 1:
        only = names[0]
        return [{only: ip} for ip in columns[0]]
    if len(names) == 2:
        first, second = names
        return [{first: a, second: b} for a, b in zip(columns[0], columns[1], strict=True)]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def rail_subnets(cidr: str, rails: int) -> list[str]:
    """The subnets of a fabric built as `rails` rails (TargetTraits.roce_rails): its cidr split into the
    smallest power of two >= `rails` equal subnets, the first `rails` of them in address order. Rail 0
    holds the spec's addresses; one rail is the whole cidr."""
    net = ipaddress.IPv4Network(cidr)
    extra = max(0, rails - 1).bit_length()
    if net.prefixlen + extra > 32:
        return [str(net)]  # too small to split: the validator refuses such a fabric
    return [str(s) for s in net.subnets(prefixlen_diff=extra)][:rails]


def _capacity_attrs(pool: Pool) -> dict[str, Any]:
    """How a cloud sells a pool's machines, when not on demand (the default adds nothing: digests stay)."""
    if pool.provisioning == "on-demand" and pool.reservation is None:
        return {}
    return {"provisioning": pool.provisioning, **({"reservation": pool.reservation} if pool.reservation else {})}


def _backend_attrs(storage: Storage) -> dict[str, Any]:
    """The service a cloud builds a storage with and its settings, when the spec chooses them."""
    return {key: getattr(storage, key) for key in ("backend", "deployment_type", "throughput_mbps_per_tib")
            if getattr(storage, key) is not None}


_Placement = tuple[dict[str, str], list[dict[str, Any]], list[dict[str, Any]]]


def _placement(storage: Storage) -> _Placement:
    """How one storage appears on a node: ({name: path} when it is one plain mount, as grid always had it;
    the other mounts as binds {storage, path, options, subdir}; the directories whose mode grid sets or that it
    makes on the node itself {storage, path, mode}). Binds replace a node when they change (a container's
    mounts are fixed at its creation); directories are configuration."""
    mounts = storage.all_mounts
    directories = [{"storage": storage.name, "path": m.path, "mode": m.mode} for m in mounts
                   if m.mode is not None or storage.kind == "local-scratch"]
    if storage.kind == "local-scratch":
        return {}, [], directories
    if len(mounts) == 1 and not mounts[0].options and mounts[0].subdir is None:
        return {storage.name: mounts[0].path}, [], directories
    binds = [{"storage": storage.name, "path": m.path, "options": list(m.options), "subdir": m.subdir}
             for m in mounts]
    return {}, binds, directories


class _Allocator:
    """Hands out host addresses of one fabric: .1 is the gateway, nodes from .2 on (`first_host`).

    Taken: every address below the cursor (it moves past taken ones only) and the reserved ones (`_used`) above
    it; assignments move the cursor and add nothing to `_used` (10^5 set insertions, ~15 ms, saved)."""

    def __init__(self, cidr: str, *, first_host: int = 2) -> None:
        net = ipaddress.IPv4Network(cidr)
        self._last = int(net.broadcast_address) - 1
        self.gateway = str(net.network_address + 1) if net.num_addresses > 2 else ""
        self._used: set[int] = set()
        self._held: dict[str, str] = {}
        self._cursor = int(net.network_address) + first_host  # nothing below it is free

    def reserve(self, address: str, ip: str) -> None:
        value = _ipv4_value(ip)
        if value is None:
            return
        if self._cursor <= value <= self._last and value not in self._used:
            self._used.add(value)
            self._held[address] = ip

    def reserve_recorded(self, fabric: str, held: Sequence[tuple[str, Mapping[str, str]]],
                         pinned: Mapping[tuple[str, str], str]) -> None:
        """`reserve` of each held node's recorded IP on `fabric`, unless pinned there: one call per fabric,
        not one per node (10^5 method calls cost more than the reservations)."""
        first, last, used, kept = self._cursor, self._last, self._used, self._held  # first free: the cursor
        for address, fabrics in held:
            if fabric in fabrics and (not pinned or (address, fabric) not in pinned):
                ip = fabrics[fabric]
                if type(ip) is str:  # _ipv4_value's fast path inlined: a call per IP costs more than it
                    try:
                        value: int | None = int.from_bytes(_inet_pton(_AF_INET, ip), "big")
                    except (OSError, ValueError):
                        value = _ipv4_value(ip)
                else:
                    value = _ipv4_value(ip)
                if value is not None and first <= value <= last and value not in used:
                    used.add(value)
                    kept[address] = ip

    def assign(self, address: str) -> str:
        held = self._held.get(address)
        if held is not None:
            return held
        while self._cursor <= self._last and self._cursor in self._used:
            self._cursor += 1
        if self._cursor > self._last:
            return ""  # exhausted: the addressing validator reports it before anything is applied
        value = self._cursor
        self._cursor += 1
        return f"{value >> 24}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"  # str(IPv4Address(value))

    def assign_all(self, addresses: Sequence[str]) -> list[str]:
        """`assign` of each address in turn, as one call (10^5 method calls cost more than the assignments)."""
        held, used, last, cursor = self._held, self._used, self._last, self._cursor
        out: list[str] = []
        octets, top, prefix = _OCTETS, -1, ""  # the first three octets change every 256 addresses only
        for address in addresses:
            ip = held.get(address) if held else None
            if ip is None:
                while cursor <= last and cursor in used:
                    cursor += 1
                if cursor > last:
                    ip = ""  # exhausted, as `assign` says
                else:
                    if cursor >> 8 != top:
                        top = cursor >> 8
                        prefix = f"{cursor >> 24}.{cursor >> 16 & 255}.{cursor >> 8 & 255}."
                    ip = prefix + octets[cursor & 255]
                    cursor += 1
            out.append(ip)
        self._cursor = cursor
        return out


_OCTETS = tuple(str(i) for i in range(256))


def _ipv4_value(ip: Any) -> int | None:
    """int(IPv4Address(ip)), or None where that raises ValueError; plain dotted quads without the object.

    inet_pton takes exactly the dotted quads IPv4Address takes (four decimal octets ≤ 255, no leading zeros,
    nothing around them) at a quarter of a regular expression's cost; whatever it refuses is asked again."""
    if type(ip) is str:
        try:  # not contextlib.suppress: a context manager per call costs more than the conversion
            return int.from_bytes(_inet_pton(_AF_INET, ip), "big")
        except (OSError, ValueError):
            pass
    try:
        return int(ipaddress.IPv4Address(ip))  # as before, for anything else
    except ValueError:
        return None
