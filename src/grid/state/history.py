"""History lives inside the state, so every backup carries the story of how it came to be."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

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


ACCOUNT_ADDRESS = "account/"
"""A change of a history entry at `account/<name>`, action `remove`: an account the apply removed from the nodes."""


def accounts_removed(applied_spec: Any, spec: Any) -> list[str]:
    """Accounts grid manages (the admin and the users) in the spec as last applied (`State.applied_spec`)
    that `spec` (the same JSON form) no longer has."""
    return sorted(_accounts(applied_spec) - _accounts(spec))


def account_removals(names: Iterable[str]) -> list[ChangeRecord]:
    return [ChangeRecord(address=ACCOUNT_ADDRESS + name, action="remove", cause="spec") for name in names]


def removed_accounts_of(entry: HistoryEntry) -> list[str]:
    """The accounts `entry`'s apply removed from the nodes."""
    return [c.address.removeprefix(ACCOUNT_ADDRESS) for c in entry.changes
            if c.address.startswith(ACCOUNT_ADDRESS) and c.action == "remove"]


def _accounts(spec: Any) -> set[str]:
    inner = spec.get("spec") if isinstance(spec, dict) else None
    configuration = inner.get("configuration") if isinstance(inner, dict) else None
    if not isinstance(configuration, dict):
        return set()
    users = configuration.get("users")
    names = {u["name"] for u in users if isinstance(u, dict) and isinstance(u.get("name"), str)} \
        if isinstance(users, list) else set()
    admin = configuration.get("admin_user")
    return names | ({admin} if isinstance(admin, str) else set())
