"""100,000 node records: timings are printed, not asserted (the targets live in the benchmarks)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from grid.state import FileStateStore, State


def test_100k_node_state_write_and_read(tmp_path: Path, state_factory: Callable[..., State],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    state = state_factory(100_000, regions=8, hosts=False)
    store = FileStateStore(tmp_path)
    store.write(state, 0)  # first write: no previous file to keep

    started = time.perf_counter()
    written = store.write(state, 1)  # a steady-state write: backup of the previous version included
    write_s = time.perf_counter() - started

    started = time.perf_counter()
    envelope = FileStateStore(tmp_path).read()  # a fresh store: full read + checksum + schema validation
    read_s = time.perf_counter() - started

    assert envelope is not None and envelope.checksum == written.checksum
    assert len(envelope.state.resources) == 100_000
    size_mb = store.path.stat().st_size / 1e6
    with capsys.disabled():
        print(f"\n[state 100k nodes] file {size_mb:.1f} MB  write {write_s:.3f}s (target < 1.5)  "
              f"read+verify {read_s:.3f}s (target < 1.0)")
