"""History lives inside the state, so every backup carries the story of how it came to be."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from grid.state._osutil import current_user, iso, utc_now
from grid.state.model import ChangeRecord, HistoryEntry, State


def append_history(state: State, entry: HistoryEntry, *, limit: int | None = None) -> State:
    """A new State with `entry` appended; `limit` keeps only the newest entries."""
    history = [*state.history, entry]
    if limit is not None:
        history = history[-limit:] if limit > 0 else []
    return state.model_copy(update={"history": history})


def history_entry(serial: int, command: str, *, changes: Iterable[ChangeRecord] = (),
                  outcome: Literal["applied", "partial", "failed"] = "applied",
                  spec_digest: str = "") -> HistoryEntry:
    """An entry stamped with now (UTC) and the current user."""
    return HistoryEntry(serial=serial, at=iso(utc_now()), command=command, user=current_user(),
                        spec_digest=spec_digest, changes=list(changes), outcome=outcome)
