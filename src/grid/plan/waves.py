"""The waves of a rolling replacement: which of a plan's replaced nodes leave service together, per pool.

A pool with `update` (grid.spec.lifecycle.Update) replaces its nodes in waves of at most `max_unavailable`,
by node index; each wave is drained, replaced, gated by its health suite and resumed before the next starts.
A pool without `update` keeps what grid did before: one wave with every replaced node. Pools roll
independently of each other (a share is of one pool). Pure: the caller gives the plan, the spec and, to
resume a roll that was interrupted, the nodes of the wave it was in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from grid.plan.model import Action, Plan
from grid.plan.window import window_text
from grid.spec.lifecycle import Update, allowed_nodes, share_text
from grid.spec.model import Cluster, Pool

PoolKey = tuple[str, str]
"""(region, pool)"""

_INDEX = re.compile(r"-([0-9]+)$")


def node_order(address: str) -> tuple[int, str]:
    """Sort key of a node address (`lab/train/node-0007`): by index, then by address (names stay ordered the
    same way whatever their zero padding)."""
    match = _INDEX.search(address)
    return (int(match.group(1)) if match else -1), address


def pool_of(address: str) -> PoolKey:
    """(region, pool) of a node address `region/pool/node-NNNN`."""
    region, pool, _ = address.split("/", 2)
    return region, pool


@dataclass(frozen=True, slots=True)
class PoolWaves:
    """A pool's replaced nodes, wave by wave (each a tuple of node addresses, by index)."""

    region: str
    pool: str
    waves: tuple[tuple[str, ...], ...]
    max_unavailable: int | None = None  # None: the pool has no `update`: every node in one wave
    update: Update | None = None
    pool_size: int = 0
    done: int = 0  # waves an interrupted roll of this pool had finished before the first of these
    total: int = 0  # how many waves that roll had when it started (0: no roll under way)

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(address for wave in self.waves for address in wave)

    @property
    def of(self) -> int:
        """The roll's number of waves, counted since it started."""
        return max(self.total, self.done + len(self.waves))

    def wave_line(self, index: int) -> str:
        """`wave 1/4: lab/train/node-0000, node-0001` (index from 0), numbered as the roll counts since it
        started (a resumed roll's first wave here may be its 3rd)."""
        wave = self.waves[index]
        names = [wave[0], *(address.rsplit("/", 1)[-1] for address in wave[1:])]
        resuming = "resuming " if index == 0 and self.total else ""
        return f"{resuming}wave {self.done + index + 1}/{self.of}: {', '.join(names)}"

    def summary(self) -> str:
        """One line: how the pool's nodes are replaced, and under which policy."""
        count = len(self.nodes)
        head = f"{self.region}/{self.pool}: {count} node{'s' if count != 1 else ''} replaced"
        if self.update is None or self.max_unavailable is None:
            return f"{head} at once (no update policy)"
        update = self.update
        timeout = f", up to {update.drain_timeout} s" if update.drain_timeout is not None else ""
        if self.total:
            head += f" (a roll under way: its waves {self.done + 1}-{self.of} of {self.of} are left)"
        return (f"{head} in {len(self.waves)} wave{'s' if len(self.waves) != 1 else ''} of at most "
                f"{self.max_unavailable} (max_unavailable {share_text(update.max_unavailable, self.pool_size)}); "
                f"drain: {update.drain}{timeout}; health gate: {update.health_gate}; "
                f"window: {window_text(update.window)}")

    def lines(self) -> list[str]:
        return [self.summary(), *(f"  {self.wave_line(i)}" for i in range(len(self.waves)))]


@dataclass(frozen=True, slots=True)
class Roll:
    """Every pool's waves for one plan, in the spec's order of regions and pools."""

    pools: tuple[PoolWaves, ...] = ()

    def of(self, region: str, pool: str) -> PoolWaves | None:
        return next((p for p in self.pools if (p.region, p.pool) == (region, pool)), None)

    @property
    def rolling(self) -> bool:
        """Some pool is replaced in more than one wave (what the plan view says more about)."""
        return any(len(p.waves) > 1 for p in self.pools)

    def lines(self) -> list[str]:
        return [line for pool in self.pools for line in pool.lines()]


def split_waves(nodes: Iterable[str], size: int | None,
                in_flight: Iterable[str] = ()) -> tuple[tuple[str, ...], ...]:
    """`nodes` (deduplicated, by index) in waves of at most `size` (None: one wave). Nodes of `in_flight` (a
    wave an interrupted roll had started) that are among `nodes` come first, as a wave of their own, so a
    resumed roll finishes the wave it was in before it takes out any other node."""
    ordered = sorted(set(nodes), key=node_order)
    if not ordered:
        return ()
    if size is None:
        return (tuple(ordered),)
    if size < 1:
        raise ValueError(f"a wave holds at least one node, not {size}")
    resumed = set(in_flight) & set(ordered)
    first = [address for address in ordered if address in resumed]
    rest = [address for address in ordered if address not in resumed]
    waves = [tuple(first[i:i + size]) for i in range(0, len(first), size)]
    waves += [tuple(rest[i:i + size]) for i in range(0, len(rest), size)]
    return tuple(waves)


def replaced_nodes(plan: Plan) -> dict[PoolKey, list[str]]:
    """The node addresses a plan replaces, per (region, pool)."""
    out: dict[PoolKey, list[str]] = {}
    for change in plan.changes:
        if change.kind == "node" and change.action is Action.REPLACE:
            out.setdefault(pool_of(change.address), []).append(change.address)
    return out


def plan_waves(plan: Plan, cluster: Cluster,
               in_flight: Mapping[PoolKey, Iterable[str]] | None = None,
               progress: Mapping[PoolKey, tuple[int, int]] | None = None,
               quarantined: Iterable[str] = ()) -> Roll:
    """The waves of every pool whose nodes `plan` replaces. `in_flight`: per pool, the nodes of the wave an
    interrupted roll was in (as state records it), which go first; `progress`: per pool, (the wave it was in,
    from 0; how many waves it had), so that waves are numbered as that roll counted them. `quarantined`: nodes
    out of service already (grid.plan.quarantine); those the plan does not replace count against their pool's
    max_unavailable, so a wave is that much smaller (never below one node: a roll must be able to go on)."""
    replaced = replaced_nodes(plan)
    out_of_service: dict[PoolKey, list[str]] = {}
    for address in quarantined:
        out_of_service.setdefault(pool_of(address), []).append(address)
    pools: dict[PoolKey, Pool] = {(region.name, pool.name): pool
                                  for region in cluster.spec.regions for pool in region.pools}
    order = {key: i for i, key in enumerate(pools)}
    out = []
    for key in sorted(replaced, key=lambda k: (order.get(k, len(order)), k)):
        pool = pools.get(key)
        update = pool.update if pool is not None else None
        size = pool.count if pool is not None else 0
        per_wave = allowed_nodes(update.max_unavailable, size) if update is not None else None
        if per_wave is not None:
            already_out = sum(1 for a in out_of_service.get(key, ()) if a not in replaced[key])
            # At least one: a pool shrunk to 0 (or with its share out already) still rolls, one node at a time.
            per_wave = max(1, per_wave - already_out)
        started = (in_flight or {}).get(key, ())
        done, total = (progress or {}).get(key, (0, 0))
        out.append(PoolWaves(key[0], key[1], split_waves(replaced[key], per_wave, started), per_wave, update,
                             size, done, total))
    return Roll(tuple(out))
