"""What grid remembers about a cluster, and how it is stored, locked, backed up and restored.

Pure values live in `grid.state.model`; `FileStateStore` keeps them on disk, `PostgresStateStore` in a
team's database (`open_store` picks one from a location). Callers ask for the role they need (grid.state.roles:
reader, writer, locker, backups, location); the lock's lease is written once (grid.state.lease). Failures are
`StateError` subclasses carrying a message and a recovery hint; nothing here prints or exits.

Names load on first use: Pulumi's worker process needs only the lock's constants, not the stores and models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grid import lazy_names

if TYPE_CHECKING:
    from grid.state.backends import open_store, pulumi_backend
    from grid.state.codec import canonical_json, checksum_of
    from grid.state.errors import (
        RESTORE_HINT,
        BackupNotFound,
        LockHeld,
        LockLost,
        StateConflict,
        StateCorrupted,
        StateError,
        StateMissing,
        StateTooNew,
        StateUnavailable,
    )
    from grid.state.history import append_history, history_entry
    from grid.state.holder import LockHolder
    from grid.state.lease import HeldLock
    from grid.state.lock import DEFAULT_LEASE_SECONDS, StateLock, assess, held_lock, read_lock, unlock
    from grid.state.model import (
        FORMAT_VERSION,
        ChangeRecord,
        Envelope,
        HistoryEntry,
        HostRecord,
        ResourceRecord,
        State,
        empty_state,
    )
    from grid.state.paths import workdir_for
    from grid.state.postgres import PostgresStateStore, redact
    from grid.state.roles import (
        BackupInfo,
        PulumiBackend,
        Restored,
        SerialWriter,
        StateBackups,
        StateLocation,
        StateLocker,
        StateReader,
        StateStore,
    )
    from grid.state.store import DEFAULT_KEEP, FileStateStore

_MODULES: dict[str, tuple[str, ...]] = {
    "grid.state.backends": ("open_store", "pulumi_backend"),
    "grid.state.codec": ("canonical_json", "checksum_of"),
    "grid.state.errors": (
        "RESTORE_HINT", "BackupNotFound", "LockHeld", "LockLost", "StateConflict", "StateCorrupted",
        "StateError", "StateMissing", "StateTooNew", "StateUnavailable",
    ),
    "grid.state.history": ("append_history", "history_entry"),
    "grid.state.holder": ("LockHolder",),
    "grid.state.lease": ("HeldLock",),
    "grid.state.lock": ("DEFAULT_LEASE_SECONDS", "StateLock", "assess", "held_lock", "read_lock", "unlock"),
    "grid.state.model": (
        "FORMAT_VERSION", "ChangeRecord", "Envelope", "HistoryEntry", "HostRecord", "ResourceRecord", "State",
        "empty_state",
    ),
    "grid.state.paths": ("workdir_for",),
    "grid.state.postgres": ("PostgresStateStore", "redact"),
    "grid.state.roles": (
        "BackupInfo", "PulumiBackend", "Restored", "SerialWriter", "StateBackups", "StateLocation",
        "StateLocker", "StateReader", "StateStore",
    ),
    "grid.state.store": ("DEFAULT_KEEP", "FileStateStore"),
}
_HOMES = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "DEFAULT_KEEP", "DEFAULT_LEASE_SECONDS", "FORMAT_VERSION", "RESTORE_HINT",
    "BackupInfo", "BackupNotFound", "ChangeRecord", "Envelope", "FileStateStore", "HeldLock",
    "HistoryEntry", "HostRecord", "LockHeld", "LockHolder", "LockLost", "PostgresStateStore", "PulumiBackend",
    "ResourceRecord", "Restored", "SerialWriter", "State", "StateBackups",
    "StateConflict", "StateCorrupted", "StateError", "StateLocation", "StateLock", "StateLocker", "StateMissing",
    "StateReader", "StateStore", "StateTooNew", "StateUnavailable",
    "append_history", "assess", "canonical_json", "checksum_of", "empty_state", "held_lock", "history_entry",
    "open_store", "pulumi_backend", "read_lock", "redact", "unlock", "workdir_for",
]


__getattr__ = lazy_names.loader(__name__, _HOMES)
