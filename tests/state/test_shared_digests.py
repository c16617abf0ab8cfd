"""A large state read back shares one string per distinct host digest, and is the state that was written.

The parser caches no string longer than 64 characters, so 10^5 host records each held their own copy of the
same cluster-wide and hosts-table digests (~24 MB); `grid.state.codec` makes equal ones one object.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from grid.state import FileStateStore, State
from grid.state.codec import FREEZE_RECORDS


def test_equal_host_digests_are_one_object_and_every_value_stays(tmp_path: Path,
                                                                  state_factory: Callable[..., State]) -> None:
    state = state_factory(FREEZE_RECORDS, regions=2)
    table = "sha256:" + "d" * 64  # longer than the parser's string cache takes, as every real digest
    state = state.model_copy(update={"hosts": {a: h.model_copy(update={"hosts_digest": table})
                                               for a, h in state.hosts.items()}})
    first, odd, last = sorted(state.hosts)[0], sorted(state.hosts)[1], sorted(state.hosts)[-1]
    changed = state.hosts[odd].model_copy(update={"cluster_digest": "sha256:" + "e" * 64,
                                                  "hosts_digest": "sha256:" + "f" * 64})
    state = state.model_copy(update={"hosts": {**state.hosts, odd: changed}})
    FileStateStore(tmp_path).write(state, 0)

    read = FileStateStore(tmp_path).read()

    assert read is not None and read.state == state  # every value as written, the odd host's too
    hosts = read.state.hosts
    assert hosts[first].cluster_digest is hosts[last].cluster_digest
    assert hosts[first].hosts_digest is hosts[last].hosts_digest
    assert hosts[odd].cluster_digest == "sha256:" + "e" * 64 and hosts[odd].hosts_digest == "sha256:" + "f" * 64
    assert read.state.model_dump() == state.model_dump()  # what the next write encodes


def test_a_small_state_is_read_as_ever(tmp_path: Path, state_factory: Callable[..., State]) -> None:
    state = state_factory(3)
    FileStateStore(tmp_path).write(state, 0)
    read = FileStateStore(tmp_path).read()
    assert read is not None and read.state == state
