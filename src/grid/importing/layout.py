"""Alike hosts into pools, their NICs' subnets into fabrics, their network mounts into storage.

Pure: the same hosts give the same layout. Hosts are alike when they have the same accelerators (model and
count), CPU count, memory class and NIC layout (fabrics and MTUs). `--pool PATTERN=NAME` rules put hosts
whose name matches in pool NAME (first rule wins; alike hosts only: a host unlike the others of NAME goes in
NAME-2, ...); hosts that match no rule are grouped among themselves, never into a named pool, so a host
unlike every other gets a pool of its own.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from grid.importing.discover import NETWORK_FS, HostFacts, Mount, Nic
from grid.importing.sources import NAME_MAX, Candidate

CONNECT_FABRIC = "mgmt"  # grid.resources.CONNECT_FABRIC: the fabric grid connects over
MEMORY_CLASS_GB = 8  # memory within the same 8 GB step is one class (kernels reserve slightly different amounts)


@dataclass(frozen=True)
class FoundHost:
    candidate: Candidate
    facts: HostFacts
    host_key: str  # pinned in state


@dataclass(frozen=True)
class FabricFound:
    name: str
    cidr: str
    mtu: int
    kind: str  # ethernet | infiniband
    speed_gbps: float | None  # None: not known (virtual NICs): the spec's default is a guess
    hosts: int
    interfaces: tuple[str, ...]
    mtus: tuple[int, ...]  # every MTU seen: more than one is worth a comment


@dataclass(frozen=True)
class StorageFound:
    name: str
    kind: str  # nfs | parallel-fs
    mount: str
    source: str
    fstype: str
    hosts: int
    size_kb: int = 0  # as df said on the hosts; 0: not known


@dataclass(frozen=True)
class PoolFound:
    name: str
    hosts: tuple[FoundHost, ...]
    accelerator: tuple[str, int] | None  # (catalog id, per node)
    fabrics: tuple[str, ...]
    storage: tuple[str, ...]
    named_by: str = ""  # the --pool pattern that named it, "" when grouped by likeness


@dataclass(frozen=True)
class RegionFound:
    name: str
    fabrics: tuple[FabricFound, ...]
    storage: tuple[StorageFound, ...]
    pools: tuple[PoolFound, ...]
    host_fabrics: dict[str, dict[str, str]] = field(default_factory=dict)  # host name -> fabric -> IP


def memory_class(memory_gb: float) -> int:
    return max(MEMORY_CLASS_GB, round(memory_gb / MEMORY_CLASS_GB) * MEMORY_CLASS_GB)


def layout(hosts: Sequence[FoundHost], rules: Sequence[tuple[str, str]] = ()) -> tuple[RegionFound, ...]:
    """Regions in the order their first host came, each with its fabrics, storage and pools."""
    by_region: dict[str, list[FoundHost]] = {}
    for host in hosts:
        by_region.setdefault(host.candidate.region, []).append(host)
    return tuple(_region(name, members, rules) for name, members in by_region.items())


def _region(name: str, hosts: Sequence[FoundHost], rules: Sequence[tuple[str, str]]) -> RegionFound:
    fabrics, fabric_of = _fabrics(hosts)
    storage, storage_of = _storage(hosts)
    host_nets: dict[str, tuple[tuple[str, int], ...]] = {}
    host_fabrics: dict[str, dict[str, str]] = {}
    for host in hosts:
        nets = {fabric_of[nic.cidr]: nic for nic in host.facts.nics if nic.cidr in fabric_of}
        host_nets[host.candidate.name] = tuple(sorted((f, nic.mtu) for f, nic in nets.items()))
        host_fabrics[host.candidate.name] = {f: nic.address for f, nic in nets.items()
                                             if nic.address != host.candidate.address}
    groups: dict[tuple[str, tuple[object, ...]], list[FoundHost]] = {}
    for host in hosts:
        rule = next(((pattern, pool) for pattern, pool in rules if fnmatch.fnmatchcase(host.candidate.name, pattern)),
                    None)
        named = rule[1] if rule else (host.candidate.pool or "")
        groups.setdefault((named, _likeness(host, host_nets[host.candidate.name])), []).append(host)
    taken: set[str] = set()
    pools: list[PoolFound] = []
    patterns = {pool: pattern for pattern, pool in reversed(rules)}
    for (named, _), members in groups.items():
        facts = members[0].facts
        accel = (facts.accelerators.model, facts.accelerators.count) if facts.accelerators else None
        fabric_names = _ordered_fabrics({f for m in members for f, _ in host_nets[m.candidate.name]})
        common = set.intersection(*(storage_of.get(m.candidate.name, set()) for m in members))
        pool_name = unique_name(named or _auto_name(accel), taken)
        pools.append(PoolFound(pool_name, tuple(members), accel, fabric_names,
                               tuple(s.name for s in storage if s.name in common), patterns.get(named, "")))
    return RegionFound(name, fabrics, storage, tuple(pools), host_fabrics)


def _likeness(host: FoundHost, nets: tuple[tuple[str, int], ...]) -> tuple[object, ...]:
    accel = host.facts.accelerators
    return (accel.model if accel else "", accel.count if accel else 0, host.facts.cpus,
            memory_class(host.facts.memory_gb), nets)


def _auto_name(accel: tuple[str, int] | None) -> str:
    if accel is None:
        return "cpu"
    model, count = accel
    suffix = f"-x{count}"
    return model[:NAME_MAX - len(suffix)].rstrip("-") + suffix


def unique_name(name: str, taken: set[str], *, base: str | None = None) -> str:
    """`name`, or `base` (default: `name`) with the first free `-N` suffix (N from 2), kept within NAME_MAX;
    the name chosen is added to `taken`."""
    stem = name if base is None else base
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        tail = f"-{number}"
        candidate = stem[:NAME_MAX - len(tail)].rstrip("-") + tail
    taken.add(candidate)
    return candidate


def _ordered_fabrics(names: Iterable[str]) -> tuple[str, ...]:
    """The connect fabric first (grid reaches the pool over it), the others by name."""
    return tuple(sorted(names, key=lambda n: (n != CONNECT_FABRIC, n)))


def _fabrics(hosts: Sequence[FoundHost]) -> tuple[tuple[FabricFound, ...], dict[str, str]]:
    """The subnets of the hosts' NICs as fabrics, and {cidr: fabric name}. The subnet a host is reached at
    is `mgmt`; the others `data`, `data-2`, ... (guessed names) in address order."""
    seen: dict[str, list[tuple[FoundHost, Nic]]] = {}
    for host in hosts:
        for nic in host.facts.nics:
            seen.setdefault(nic.cidr, []).append((host, nic))
    connect = {cidr for cidr, found in seen.items() for host, nic in found if nic.address == host.candidate.address}
    ordered = sorted(seen, key=lambda c: (c not in connect, ipaddress.IPv4Network(c)))
    taken: set[str] = set()
    out: list[FabricFound] = []
    names: dict[str, str] = {}
    for cidr in ordered:
        nics = [nic for _, nic in seen[cidr]]
        name = unique_name(CONNECT_FABRIC if cidr in connect else "data", taken)
        names[cidr] = name
        mtus = Counter(n.mtu for n in nics)
        speeds = [n.speed_mbps for n in nics if n.speed_mbps > 0]
        kind = "infiniband" if any(n.link_type == "infiniband" for n in nics) else "ethernet"
        out.append(FabricFound(name, cidr, mtus.most_common(1)[0][0], kind,
                               round(min(speeds) / 1000, 1) if speeds else None,
                               len({h.candidate.name for h, _ in seen[cidr]}), tuple(sorted({n.name for n in nics})),
                               tuple(sorted(mtus))))
    return tuple(out), names


def _storage(hosts: Sequence[FoundHost]) -> tuple[tuple[StorageFound, ...], dict[str, set[str]]]:
    """Network mounts as storage (one per source and mount point), and {host name: storage names}."""
    seen: dict[tuple[str, str], list[tuple[FoundHost, Mount]]] = {}
    for host in hosts:
        for mount in host.facts.mounts:
            if mount.network:
                seen.setdefault((mount.source, mount.target), []).append((host, mount))
    taken: set[str] = set()
    out: list[StorageFound] = []
    of_host: dict[str, set[str]] = {}
    for (source, target), found in sorted(seen.items(), key=lambda item: item[0][1]):
        name = unique_name(_storage_name(target), taken)
        fstype = found[0][1].fstype
        size = max(m.size_kb for _, m in found)
        out.append(StorageFound(name, NETWORK_FS[fstype], target, source, fstype, len(found), size))
        for host, _ in found:
            of_host.setdefault(host.candidate.name, set()).add(name)
    return tuple(out), of_host


def _storage_name(mount: str) -> str:
    last = re.sub(r"[^a-z0-9-]+", "-", mount.rstrip("/").rsplit("/", 1)[-1].lower()).strip("-")
    if not last[:1].isalpha():
        last = "fs-" + last if last else "fs"
    return last[:NAME_MAX].strip("-")
