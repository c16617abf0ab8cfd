"""Failures that are not bugs in grid, as plain errors: what happened and what to do.

A full disk, an unreachable state database, a state written by someone else meanwhile, a Pulumi stack
that the passphrase at hand cannot decrypt: the machine or the people around grid caused them, so they
end in `error:` / `hint:` and exit 1 — never in "internal error … this is a bug in grid".
"""

from __future__ import annotations

import errno
import sys
from typing import TYPE_CHECKING

from grid.errors import GridError

from .console import CommandFailed

if TYPE_CHECKING:
    from grid.engines import EngineFailed

RUN_AGAIN = "then run the command again: state was saved after each completed step"
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
DECRYPT_FAILED = ("failed to decrypt", "incorrect passphrase", "failed to batch decrypt")
DATABASE_ERROR_MODULES = ("psycopg", "psycopg2")


def plain_failure(exc: BaseException) -> CommandFailed | None:
    """The user-facing error for `exc` (or anything that caused it), or None when it is a bug in grid."""
    if isinstance(exc, CommandFailed):
        return exc
    chain = list(_causes(exc))
    # Not imported for a check: an EngineFailed exists only once grid.engines is loaded (it loads the renderer).
    engines = sys.modules.get("grid.engines")
    engine_failed = engines.EngineFailed if engines is not None else ()
    state = sys.modules.get("grid.state")  # likewise a StateError (grid.state loads the database driver's module)
    state_error = state.StateError if state is not None else ()
    for cause in chain:  # a full disk explains whatever failed because of it
        if isinstance(cause, OSError) and cause.errno in NO_SPACE:
            return _no_space(cause)
    for cause in chain:
        if isinstance(cause, state_error):
            return CommandFailed(cause.message, hint=cause.hint or f"check the state's location, {RUN_AGAIN}")
        if isinstance(cause, GridError):  # the core's one failure type: message, hint, exit code
            return CommandFailed(cause.message, hint=cause.hint, code=cause.code)
        if isinstance(cause, engine_failed):  # Pulumi's, or another target's engine
            return pulumi_failure(cause)
        if _database_error(cause):
            return CommandFailed(f"the state database failed: {_first_line(cause)}",
                                 hint=f"check that PostgreSQL is up and reachable (`grid doctor`), {RUN_AGAIN}")
    return None


def pulumi_failure(exc: EngineFailed) -> CommandFailed:
    text = exc.message.lower()
    if any(marker in text for marker in DECRYPT_FAILED):
        return CommandFailed(
            f"Pulumi cannot decrypt the stack of region {exc.region}: the passphrase grid gave it (the work "
            "directory's secrets/pulumi-passphrase) is not the one this stack was encrypted with",
            hint="put back the pulumi-passphrase file of the machine that created the cluster (or the copy in "
                 "your secret store), then run the command again; do not make a new one")
    if "no space left on device" in text or "disk quota exceeded" in text:
        return CommandFailed(f"region {exc.region}: no space left on device",
                             hint=f"free space for the work directory and Pulumi's home, {RUN_AGAIN}")
    return CommandFailed(f"region {exc.region}: {exc.message}", hint=f"fix what Pulumi reports, {RUN_AGAIN}")


def _no_space(exc: OSError) -> CommandFailed:
    full = "disk quota exceeded" if exc.errno == errno.EDQUOT else "no space left on device"
    if exc.filename:
        return CommandFailed(f"{full} writing {exc.filename}",
                             hint=f"free space on that file system (`df -h {exc.filename}`), then run the command "
                                  "again")
    return CommandFailed(full, hint="free space where grid writes (the work directory, or the output you named), "
                                    "then run the command again")


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc`, then what caused it (`raise … from`, or raised while handling), without cycles."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _database_error(exc: BaseException) -> bool:
    # By name: importing psycopg for a check costs every command its start-up time.
    return any(cls.__name__ == "OperationalError" and cls.__module__.split(".")[0] in DATABASE_ERROR_MODULES
               for cls in type(exc).__mro__)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
