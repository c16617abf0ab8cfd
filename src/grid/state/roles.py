"""What a state store does, split by role (Terraform's statemgr is the model): callers ask for the role they
need — a reader, a writer, a locker, the backups, the location — never for a concrete store.

Both stores (grid.state.store.FileStateStore, grid.state.postgres.PostgresStateStore) implement every role;
`StateStore` is all of them at once, what a workspace holds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

from grid.state.holder import LockHolder, Status
from grid.state.lease import HeldLock
from grid.state.model import Envelope, State


@dataclass(frozen=True)
class BackupInfo:
    serial: int
    path: Path
    written_at: str
    problem: str = ""  # empty when the checksum verifies

    @property
    def ok(self) -> bool:
        return not self.problem


@dataclass(frozen=True)
class Restored:
    envelope: Envelope
    from_serial: int
    kept_corrupt: Path | None  # where the damaged current file was set aside, if it was damaged


@dataclass(frozen=True)
class PulumiBackend:
    """Where Pulumi keeps the stacks that go with a state, and the environment its processes need for it.

    `url` never holds a secret (it lands in Pulumi.yaml and in messages). `env` may (PGPASSWORD): give it to
    the Pulumi processes only — never write it to a file, a plan or a log.
    """

    url: str
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __repr__(self) -> str:  # env may hold a password: never in a traceback or a log line
        return f"PulumiBackend(url={self.url!r}, env=<{', '.join(sorted(self.env))}>)"


class StateReader(Protocol):
    def read(self) -> Envelope | None:
        """The verified current envelope (an older format upgraded to today's model); None when there is none."""
        ...


class SerialWriter(Protocol):
    def write(self, state: State, expected_serial: int) -> Envelope:
        """Save `state` as the next serial, if the one stored is still `expected_serial` (else StateConflict)."""
        ...

    def import_envelope(self, raw: bytes) -> bool:
        """Store a verified envelope as it is (`grid state migrate`): into an empty location, or over an older
        version of the same lineage (kept as a backup). True when this very version was already there."""
        ...


class StateLocker(Protocol):
    def lock(self, command: str, *, lease_seconds: float = ...,
             break_stale: bool = ...) -> contextlib.AbstractContextManager[HeldLock]: ...

    def lock_holder(self) -> LockHolder | None: ...

    def lock_status(self) -> Status | None:
        """The holder's status as this store judges it (its clock, its host); None when unlocked."""
        ...

    def unlock(self, *, force: bool = ...) -> LockHolder | None: ...


class StateBackups(Protocol):
    @property
    def backup_location(self) -> str:
        """Where the backups are, for messages."""
        ...

    def backups(self) -> list[BackupInfo]: ...

    def restore(self, serial: int, *, command: str = ...) -> Restored: ...

    def pull(self) -> bytes | None:
        """The current envelope exactly as stored, after full verification; None when there is none."""
        ...


class StateLocation(Protocol):
    @property
    def where(self) -> str:
        """Where the state is kept, as shown to users: never with a password."""
        ...

    @property
    def is_shared(self) -> bool:
        """Kept where a team shares it (a database), rather than in one machine's work directory."""
        ...

    def pulumi_backend(self) -> PulumiBackend:
        """Where Pulumi keeps this state's stacks, and what its processes need to reach them."""
        ...


class StateStore(StateReader, SerialWriter, StateLocker, StateBackups, StateLocation, Protocol):
    """Every role at once: what a workspace holds."""


__all__ = ["BackupInfo", "PulumiBackend", "Restored", "SerialWriter", "StateBackups", "StateLocation",
           "StateLocker", "StateReader", "StateStore"]
