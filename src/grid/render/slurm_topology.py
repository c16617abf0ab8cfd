"""topology.conf (Slurm's topology/tree plugin) from the fabrics' topology and the pools' racks.

topology.conf(5): a switch line names its nodes or its child switches; every node must sit under a switch,
and a job only spans nodes under one common switch. So grid writes, per region:
- fat-tree / leaf-spine: one leaf switch per rack (a pool's nodes in `nodes_per_rack` groups, by index), a
  spine above the leaves (tiers 2), or pods of switch_radix/2 leaves under a core (tiers 3);
- rail-optimized: every node has a port on each rail switch of its group of `switch_radix` nodes, so such a
  group is one hop wide — one logical switch per rail group, a spine above the groups;
- single-switch or tiers 1: one switch for the fabric;
- pools on no fabric with a topology: one switch per rack;
and one region switch above them when there are several. Regions have no common switch: a job never spans
two sites (their link is a WAN, not a fabric).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grid.render.hostlist import hostlist
from grid.spec.model import Cluster, Fabric, Pool, Region

_FAST_KINDS = ("infiniband", "roce")


@dataclass(frozen=True)
class PoolNodes:
    """The slurmd nodes of one pool, by index."""

    region: str
    pool: Pool
    hostnames: tuple[str, ...]


@dataclass(frozen=True)
class _Switch:
    name: str
    nodes: tuple[str, ...] = ()
    switches: tuple[str, ...] = ()

    def line(self) -> str:
        if self.switches:
            return f"SwitchName={self.name} Switches={','.join(self.switches)}"
        return f"SwitchName={self.name} Nodes={hostlist(self.nodes)}"


def topology_fabric(region: Region, pool: Pool) -> Fabric | None:
    """The fabric whose topology places a pool's nodes: its first InfiniBand/RoCE fabric with a topology,
    else its first fabric with one, else None."""
    described = {f.name: f for f in region.fabrics if f.topology is not None}
    mine = [described[name] for name in pool.fabrics if name in described]
    fast = [f for f in mine if f.kind in _FAST_KINDS]
    return next(iter(fast or mine), None)


def topology_conf(cluster: Cluster, members: Sequence[PoolNodes]) -> str:
    lines = [f"# topology.conf of cluster {cluster.name}, rendered by grid from the spec's fabrics and racks.",
             "# Edits here are drift: grid up writes the spec's topology back."]
    for region in cluster.spec.regions:
        pools = [m for m in members if m.region == region.name and m.hostnames]
        if not pools:
            continue
        switches: list[_Switch] = []
        tops: list[str] = []
        groups: dict[str, list[PoolNodes]] = {}
        for member in pools:
            fabric = topology_fabric(region, member.pool)
            groups.setdefault(fabric.name if fabric else "", []).append(member)
        for fabric_name, grouped in groups.items():
            fabric = next((f for f in region.fabrics if f.name == fabric_name), None)
            made, top = _fabric_switches(region.name, fabric, grouped)
            switches.extend(made)
            tops.extend(top)
        if len(tops) > 1:
            switches.append(_Switch(region.name, switches=tuple(tops)))
        lines.append(f"# region {region.name}")
        lines.extend(s.line() for s in switches)
    return "\n".join(lines) + "\n"


def _racks(region: str, members: Sequence[PoolNodes]) -> list[_Switch]:
    leaves: list[_Switch] = []
    for member in members:
        per_rack = member.pool.nodes_per_rack
        for start in range(0, len(member.hostnames), per_rack):
            leaves.append(_Switch(f"{region}-{member.pool.name}-rack{start // per_rack:02d}",
                                  nodes=member.hostnames[start:start + per_rack]))
    return leaves


def _above(name: str, children: list[_Switch]) -> tuple[list[_Switch], list[str]]:
    """`children` and, when there are several, one switch `name` above them; the top switch names."""
    if len(children) == 1:
        return children, [children[0].name]
    return [*children, _Switch(name, switches=tuple(c.name for c in children))], [name]


def _fabric_switches(region: str, fabric: Fabric | None,
                     members: Sequence[PoolNodes]) -> tuple[list[_Switch], list[str]]:
    """The switches of the pools placed by one fabric (None: by racks only) and the names of the top ones."""
    if fabric is None or fabric.topology is None:
        leaves = _racks(region, members)
        return leaves, [leaf.name for leaf in leaves]
    topology = fabric.topology
    base = f"{region}-{fabric.name}"
    nodes = tuple(name for member in members for name in member.hostnames)
    if topology.kind == "single-switch" or topology.tiers == 1:
        return [_Switch(base, nodes=nodes)], [base]
    if topology.kind == "rail-optimized":
        size = topology.switch_radix
        groups = [_Switch(f"{base}-rail-group{i // size:02d}", nodes=nodes[i:i + size])
                  for i in range(0, len(nodes), size)]
        return _above(f"{base}-spine", groups)
    leaves = _racks(region, members)
    if topology.tiers == 2:
        return _above(f"{base}-spine", leaves)
    per_pod = max(1, topology.switch_radix // 2)  # half a switch's ports face down in a non-blocking fat tree
    pods: list[_Switch] = []
    made: list[_Switch] = []
    for i in range(0, len(leaves), per_pod):
        under, top = _above(f"{base}-pod{i // per_pod:02d}", leaves[i:i + per_pod])
        made.extend(under)
        pods.append(next(s for s in under if s.name == top[0]))
    if len(pods) == 1:
        return made, [pods[0].name]
    return [*made, _Switch(f"{base}-core", switches=tuple(p.name for p in pods))], [f"{base}-core"]
