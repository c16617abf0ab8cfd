"""Typed failures of the state layer: a user-facing message plus a recovery hint.

The CLI turns these into `error:` / `hint:` lines; the core never prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grid.state.lock import LockHolder

RESTORE_HINT = "`grid state restore SPEC` lists backups; `grid state restore SPEC SERIAL` brings one back"


class StateError(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class StateCorrupted(StateError):
    """The file cannot be trusted: bad JSON, checksum mismatch or wrong schema. Nothing overwrites it."""


class StateTooNew(StateError):
    """Written by a newer grid; we must not read (or rewrite) what we don't understand."""


class StateConflict(StateError):
    """Someone else wrote the state between our read and our write."""

    def __init__(self, message: str, hint: str = "", *, expected: int = 0, actual: int = 0) -> None:
        super().__init__(message, hint)
        self.expected = expected
        self.actual = actual


class StateMissing(StateError):
    """state.json is gone but backups exist: starting over would forget real resources."""


class BackupNotFound(StateError):
    pass


class LockHeld(StateError):
    """Someone else holds the state lock; `status` says whether it may be broken."""

    def __init__(self, message: str, hint: str = "", *, holder: LockHolder, status: str) -> None:
        super().__init__(message, hint)
        self.holder = holder
        self.status = status


class LockLost(StateError):
    """Our lock was broken and taken by someone else while we held it."""
