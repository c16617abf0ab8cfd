"""Typed failures of the state layer: a user-facing message plus a recovery hint.

The CLI turns these into `error:` / `hint:` lines; the core never prints.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from pathlib import Path

from grid.errors import GridError
from grid.state.holder import LockHolder

RESTORE_HINT = "`grid state restore SPEC` lists backups; `grid state restore SPEC SERIAL` brings one back"


class StateError(GridError):
    """Where the state lives, or what it holds, stops the command (grid.errors.GridError: message + hint)."""


class StateUnavailable(StateError):
    """Where the state lives failed us: a full disk, a read-only or unreadable directory, an unreachable
    database. Nothing was changed there; running the command again once the cause is gone continues."""


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


# What the operator can fix, and how; other OS errors (grid bugs, simulated crashes) propagate as they are.
_STORAGE_PROBLEMS = {
    errno.ENOSPC: ("no space left on the device", "free space on that filesystem (`df -h {where}`)"),
    errno.EDQUOT: ("the disk quota is exhausted", "free space within your quota (`quota`, `du -sh {where}`)"),
    errno.EROFS: ("the filesystem is read-only", "use a writable work directory (--workdir) or remount it"),
    errno.EACCES: ("permission denied", "check the owner and mode of {where}"),
    errno.EPERM: ("operation not permitted", "check the owner and mode of {where}"),
    errno.EIO: ("an I/O error from the device", "check the disk (`dmesg`)"),
}


@contextlib.contextmanager
def storage_errors(where: Path, doing: str) -> Iterator[None]:
    """Turn the OS errors an operator can fix (full disk, read-only, permissions, I/O) into StateUnavailable.

    Callers write temp files and rename them into place, so when this fires the stored state is as it was.
    """
    try:
        yield
    except OSError as exc:
        problem = _STORAGE_PROBLEMS.get(exc.errno or 0)
        if problem is None:
            raise
        what, fix = problem
        raise StateUnavailable(f"cannot {doing} in {where}: {what}; the stored state is unchanged",
                               f"{fix.format(where=where)}, then run the command again") from None
