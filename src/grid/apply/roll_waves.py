"""The pure half of a rolling replacement (grid.apply.roll): which waves a run goes through, and for one wave
the resource graph and the plan its apply is given.

A wave's apply must change only that wave's nodes: in its graph the nodes of later waves keep the attributes
the last apply made (state records them), so Pulumi leaves them alone, and its plan holds only its own changes
(every other change of the plan goes with the first wave). Until the last wave, state's applied spec digest
stays as it was, so a run stopped between waves is planned again with the remaining nodes to replace.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from grid.plan.model import Action, Plan
from grid.plan.waves import PoolKey, Roll, node_order, plan_waves, pool_of
from grid.resources import Kind, Resource, ResourceGraph
from grid.spec.lifecycle import Update
from grid.spec.model import Cluster
from grid.state.model import RollRecord, State

Phase = Literal["drain", "replace", "gate", "resume"]


def roll_key(region: str, pool: str) -> str:
    """The key of a pool in State.rolls."""
    return f"{region}/{pool}"


@dataclass(frozen=True, slots=True)
class Wave:
    """One wave of a run: every rolling pool's share of it. `nodes` are replaced by its apply; `finishing` were
    replaced by a run that stopped before their health gate or resume (only those two steps are left)."""

    number: int  # from 1, as the roll counts them since it started
    total: int
    nodes: tuple[str, ...]
    finishing: tuple[str, ...] = ()
    resumed: bool = False  # the wave an interrupted run was in

    @property
    def label(self) -> str:
        return f"{self.number}/{self.total}"

    @property
    def all_nodes(self) -> tuple[str, ...]:
        return tuple(sorted({*self.nodes, *self.finishing}, key=node_order))

    def line(self) -> str:
        verb = "resuming" if self.resumed else "starting"
        names = ", ".join(self.all_nodes)
        return f"{verb} wave {self.label}: {names}" if names else f"{verb} wave {self.label}"


@dataclass(frozen=True, slots=True)
class Schedule:
    """The waves of one `grid up`, with every pool's update policy (None: a pool replaced at once)."""

    roll: Roll
    waves: tuple[Wave, ...]
    updates: Mapping[PoolKey, Update | None]

    def update_of(self, address: str) -> Update | None:
        return self.updates.get(pool_of(address))

    @property
    def resuming(self) -> bool:
        return bool(self.waves) and self.waves[0].resumed


def in_flight(state: State) -> dict[PoolKey, list[str]]:
    """Per pool, the nodes of the wave an interrupted roll was in."""
    return {(r.region, r.pool): list(r.nodes) for r in state.rolls.values()}


def schedule(cluster: Cluster, plan: Plan, state: State) -> Schedule | None:
    """The run's waves, or None when nothing rolls: no pool the plan replaces nodes of has an `update` policy
    and no roll is under way (grid then applies the plan at once, as before)."""
    roll = plan_waves(plan, cluster, in_flight(state), quarantined=state.quarantined)
    pending = {a for p in roll.pools for a in p.nodes}
    known = set(state.resources)
    # A record whose nodes are gone from state and plan alike (the cluster was destroyed meanwhile) says nothing.
    records = [r for r in state.rolls.values() if any(n in pending or n in known for n in r.nodes)]
    if not records and not any(p.update is not None for p in roll.pools):
        return None
    updates = {(r.name, p.name): p.update for r in cluster.spec.regions for p in r.pools}
    count = max((len(p.waves) for p in roll.pools), default=0)
    finishing = tuple(sorted({n for r in records for n in r.nodes if n not in pending and n in known},
                             key=node_order))
    offset = min((r.wave for r in records), default=0)
    started = {n for r in records for n in r.nodes}
    carries_on = bool(started & pending)  # the interrupted wave still has nodes to replace: it is wave 1 here
    waves: list[Wave] = []
    if finishing and not carries_on:
        waves.append(Wave(offset + 1, 0, (), finishing, resumed=True))
    first = offset + len(waves)
    for i in range(count):
        nodes = tuple(sorted((a for p in roll.pools if i < len(p.waves) for a in p.waves[i]), key=node_order))
        resumed = bool(records) and i == 0 and carries_on
        waves.append(Wave(first + i + 1, 0, nodes, finishing if resumed else (), resumed=resumed))
    total = max([offset + len(waves), *(r.waves for r in records)]) if records else len(waves)
    total = max(total, offset + len(waves))
    waves = [dataclasses.replace(w, total=total) for w in waves]
    return Schedule(roll, tuple(waves), updates)


def wave_graph(graph: ResourceGraph, state: State, later: Collection[str]) -> ResourceGraph:
    """`graph` with the nodes of `later` as state records them (what the last apply made of them)."""
    if not later:
        return graph

    def kept(res: Resource) -> Resource:
        record = state.resources.get(res.address)
        if res.kind is not Kind.NODE or res.address not in later or record is None:
            return res
        return Resource(res.address, res.kind, res.region, dict(record.attrs))

    return ResourceGraph(graph.cluster, tuple(kept(r) for r in graph.resources))


def wave_plan(plan: Plan, wave: Wave, later: Collection[str], *, first: bool, last: bool,
              applied_digest: str) -> Plan:
    """The part of `plan` a wave applies: its own nodes' replacements, and with the first wave every change that
    is not a rolled node's (creations, deletions, updates, configuration, unfinished regions). Nodes of `later`
    waves get none of their changes. Every wave but the last keeps `applied_digest` (state's) as its digest."""
    rolled = {a for w in (wave,) for a in w.nodes} | set(later)

    def mine(address: str) -> bool:
        return address in wave.nodes or (first and address not in rolled)

    changes = tuple(c if mine(c.address) or c.action is Action.NOOP else dataclasses.replace(c, action=Action.NOOP)
                    for c in plan.changes)
    config = tuple(h for h in plan.config if mine(h.address))
    return dataclasses.replace(plan, changes=changes, config=config,
                               unfinished=plan.unfinished if first else (),
                               spec_digest=plan.spec_digest if last else applied_digest)


def without_rolled(plan: Plan, schedule_: Schedule) -> Plan:
    """`plan` with the rolled nodes' changes left out (what a run drains before its first wave)."""
    rolled = {a for w in schedule_.waves for a in w.nodes}
    return dataclasses.replace(plan, changes=tuple(c for c in plan.changes if c.address not in rolled))


def later_nodes(schedule_: Schedule, index: int) -> tuple[str, ...]:
    """The nodes replaced by the waves after the `index`-th (from 0) of the run."""
    return tuple(a for w in schedule_.waves[index + 1:] for a in w.nodes)


def records_for(wave: Wave, spec_digest: str, started_at: str,
                phase: Phase = "drain") -> dict[str, RollRecord]:
    """The RollRecord of every pool taking part in `wave`, by State.rolls key."""
    pools: dict[PoolKey, list[str]] = {}
    for address in wave.all_nodes:
        pools.setdefault(pool_of(address), []).append(address)
    return {roll_key(*key): RollRecord(region=key[0], pool=key[1], spec_digest=spec_digest, waves=wave.total,
                                       wave=wave.number - 1, nodes=nodes, phase=phase,
                                       started_at=started_at)
            for key, nodes in pools.items()}
