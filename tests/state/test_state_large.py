"""100,000 node records survive a steady-state write and a fresh read intact.

How fast: bench/plan_scale.py (its `populated` scenario times `state_read`, the full read + checksum + schema
validation of the 100k-node state); no timing is claimed here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from grid.state import FileStateStore, State


def test_100k_node_state_write_and_read(tmp_path: Path, state_factory: Callable[..., State]) -> None:
    state = state_factory(100_000, regions=8, hosts=False)
    store = FileStateStore(tmp_path)
    store.write(state, 0)  # first write: no previous file to keep
    written = store.write(state, 1)  # a steady-state write: backup of the previous version included

    envelope = FileStateStore(tmp_path).read()  # a fresh store: full read + checksum + schema validation

    assert envelope is not None and envelope.checksum == written.checksum
    assert len(envelope.state.resources) == 100_000
