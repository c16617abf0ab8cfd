"""Pending work across regions: what a `--region` run leaves other regions' next runs to do, recorded in state
(State.pending), and cleared by the run that does it."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from grid.state.model import State
from grid.workspace import Workspace


def with_pending(ws: Workspace, state: State, elsewhere: Mapping[str, tuple[str, ...]]) -> State:
    """`state` with the scope's own pending work done (cleared) and what it left to other regions added; a
    whole-cluster run did everything."""
    if ws.regions is None:
        return state.model_copy(update={"pending": {}}) if state.pending else state
    pending = {r: list(lines) for r, lines in state.pending.items() if r not in ws.regions}
    for region, lines in elsewhere.items():
        pending[region] = list(dict.fromkeys([*pending.get(region, []), *lines]))
    return state if pending == state.pending else state.model_copy(update={"pending": pending})


def record_pending(ws: Workspace, state: State, serial: int, elsewhere: Mapping[str, tuple[str, ...]]) -> None:
    """After a run that worked (under its lock): save the pending work (a state partitioned by region only)."""
    # A partitioned store was made by grid.state.scoped, which loaded its module: when that module is not loaded,
    # the state is not partitioned, and every other run starts without loading it.
    partitions = sys.modules.get("grid.state.partitions")
    if partitions is None or not isinstance(ws.store, partitions.PartitionedStore):
        return
    updated = with_pending(ws, state, elsewhere)
    if updated != state:
        ws.store.write(updated, serial)
