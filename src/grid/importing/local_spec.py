"""A spec recovered from what podman holds of a local cluster (`grid import --local` without --spec).

What the objects say is written as found: regions, pools and their node counts, fabrics (cidr, MTU), storage
and where it is mounted, each pool's fabrics, storage and CPU/memory limits. What they cannot say is left to
grid's defaults or marked as a guess in a comment: a site's power and cooling, accelerators, fabric kind and
speed, storage kind and size, and the configuration (roles, users, sysctls): grid records the hosts as
configured with what this spec says, so `grid drift` (a check-mode run) shows where the hosts differ from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from grid.importing.local_found import Found, FoundContainer

# Figures podman does not keep: written so the spec validates, each line marked as a guess (see _GUESSES).
GUESSED_SITE = {"power_mw": 1.0, "pue": 1.3, "cooling": "air"}
GUESSED_CAPACITY_TIB = 1.0
_GUESSES = (("site:", "the hub's power, PUE and cooling are not in podman: put the real figures"),
            ("kind: ethernet", "fabric kind and speed are not in podman"),
            ("capacity_tib:", "storage kind and size are not in podman"))
NODE_ADDRESS = re.compile(r"^(?P<region>[^/]+)/(?P<pool>[^/]+)/node-(?P<index>\d+)$")
OBJECT_ADDRESS = re.compile(r"^(?P<region>[^/]+)/(?P<kind>fabric|storage)/(?P<name>[^/]+)$")


@dataclass(frozen=True)
class NodeAddress:
    region: str
    pool: str
    index: int


def node_address(address: str) -> NodeAddress | None:
    match = NODE_ADDRESS.match(address)
    return NodeAddress(match["region"], match["pool"], int(match["index"])) if match else None


def object_address(address: str) -> tuple[str, str, str] | None:
    """(region, "fabric" | "storage", name) of a network's or volume's address label."""
    match = OBJECT_ADDRESS.match(address)
    return (match["region"], match["kind"], match["name"]) if match else None


def recover_spec(found: Found, facts: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The spec YAML of what `found` holds, with comments saying what was found and what is a guess.
    `facts`: node address -> the facts file grid's configuration wrote on it (accelerators come from there)."""
    facts = facts or {}
    fabric_of = {n.name: object_address(n.address) for n in found.networks}
    storage_of = {v.name: object_address(v.address) for v in found.volumes}
    regions: dict[str, dict[str, object]] = {}

    def region(name: str) -> dict[str, object]:
        return regions.setdefault(name, {"name": name, "site": dict(GUESSED_SITE), "fabrics": [], "storage": [],
                                         "pools": []})

    for network in found.networks:
        where = fabric_of[network.name]
        if where is None:
            continue
        fabric: dict[str, object] = {"name": where[2], "kind": "ethernet", "cidr": network.cidr}
        if network.mtu is not None:
            fabric["mtu"] = network.mtu
        region(where[0])["fabrics"].append(fabric)  # type: ignore[attr-defined]
    mounts = {(c.address, m.source): m.destination for c in found.containers for m in c.mounts}
    for volume in found.volumes:
        where = storage_of[volume.name]
        if where is None:
            continue
        seen = sorted({dest for (_, source), dest in mounts.items() if source == volume.name})
        storage: dict[str, object] = {"name": where[2], "kind": "nfs", "capacity_tib": GUESSED_CAPACITY_TIB}
        if len(seen) == 1:
            storage["mount"] = seen[0]
        region(where[0])["storage"].append(storage)  # type: ignore[attr-defined]
    for (region_name, pool_name), members in sorted(_pools(found.containers).items()):
        first = members[0][1]
        pool: dict[str, object] = {
            "name": pool_name,
            "count": max(i for i, _ in members) + 1,  # a node removed by hand is still counted: grid makes it again
            "fabrics": sorted({fabric_of[n][2] for n in first.ips if fabric_of.get(n)}),  # type: ignore[index]
            "storage": sorted({storage_of[m.source][2] for m in first.mounts  # type: ignore[index]
                               if storage_of.get(m.source)}),
        }
        known = next((facts[c.address] for _, c in members if c.address in facts), {})
        if known.get("accelerator") and int(known.get("accelerators") or 0) > 0:
            pool["accelerator"] = {"model": str(known["accelerator"]), "per_node": int(known["accelerators"])}
        limits = {k: v for k, v in (("cpus", first.cpus), ("memory_gb", first.memory_gb)) if v is not None}
        if limits:
            pool["resources"] = limits
        region(region_name)["pools"].append(pool)  # type: ignore[attr-defined]
    document = {"apiVersion": "grid/v1", "kind": "Cluster", "metadata": {"name": found.cluster},
                "spec": {"target": "local", "defaults": {"ssh": {"user": "root"}},
                         "regions": [regions[name] for name in sorted(regions)]}}
    body = yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=110)
    return _HEADER.format(cluster=found.cluster, **_counts(found)) + "\n".join(
        _marked(line) for line in body.splitlines()) + "\n"


def _marked(line: str) -> str:
    """A line holding a guessed figure, with a comment saying so."""
    for key, note in _GUESSES:
        if key in line:
            return f"{line}  # GUESSED: {note}"
    return line


def _pools(containers: Iterable[FoundContainer]) -> dict[tuple[str, str], list[tuple[int, FoundContainer]]]:
    pools: dict[tuple[str, str], list[tuple[int, FoundContainer]]] = {}
    for container in containers:
        where = node_address(container.address)
        if where is not None:
            pools.setdefault((where.region, where.pool), []).append((where.index, container))
    return {key: sorted(members, key=lambda m: m[0]) for key, members in pools.items()}


def _counts(found: Found) -> dict[str, int]:
    return {"containers": len(found.containers), "networks": len(found.networks), "volumes": len(found.volumes)}


_HEADER = """\
# Recovered by `grid import --local {cluster}` from what podman holds of the cluster: {containers} container(s),
# {networks} network(s), {volumes} volume(s), read from their grid.* labels and `podman inspect`.
# Found (exact): regions, pools and node counts (the highest node index + 1: a node removed by hand is planned
#   again), fabric cidr and MTU, storage and its mount point, each pool's fabrics, storage, CPU and memory limits.
# Guessed (podman does not keep them; edit to the truth, `grid plan` then shows what it changes):
#   - site power, PUE and cooling (1 MW, PUE 1.3, air): capacity and energy figures are only as true as these;
#   - accelerators: from /etc/grid/node.json (grid's configuration wrote it), else none; fabric kind/speed:
#     ethernet 25 Gb/s; storage kind: nfs, 1 TiB;
#   - configuration (roles, admin user, users, sysctls): grid's defaults. The hosts are recorded as configured
#     with this spec's digests (grid configured them, and import changes nothing): `grid drift` runs the
#     playbook in check mode and shows any host whose configuration differs from this spec.
"""
