"""Small OS helpers shared by the store and the lock: durable files, a flock guard, who/where/when."""

from __future__ import annotations

import contextlib
import fcntl
import gc
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def current_user() -> str:
    # getpass.getuser()'s rule without importing getpass (and termios with it: ~4 ms of every lock's start-up)
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if user := os.environ.get(name):
            return user
    try:
        import pwd

        return pwd.getpwuid(os.getuid())[0]
    except (KeyError, OSError):  # no passwd entry and no $USER, e.g. in a bare container
        return str(os.getuid())


def this_host() -> str:
    return os.uname().nodename  # what socket.gethostname() returns on Linux, without importing socket (~8 ms)


def write_temp(directory: Path, chunks: tuple[bytes, ...], prefix: str) -> Path:
    """Write `chunks` to a new 0600 file in `directory` and fsync it; the caller renames it into place.

    Same directory as the target so the rename is atomic (same filesystem).
    """
    fd, name = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb", closefd=False) as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(name)
        raise
    os.close(fd)
    return Path(name)


def fsync_dir(directory: Path) -> None:
    """Make a rename/link/unlink in `directory` durable: without this a crash can undo it."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def guard(path: Path) -> Iterator[None]:
    """Exclusive flock on `path` for short check-then-act sections.

    flock is per open file description, so two threads of one process also exclude each other,
    and the kernel drops it when a process dies — no stale guard can outlive its holder.
    The guard file is never deleted: unlinking a flock file lets two processes lock different inodes.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building or dumping ~10^5 objects.

    Each generation-2 collection rescans every object allocated so far; with 100k records that
    roughly doubles decode/encode time. The values built here hold no reference cycles.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def pid_alive(pid: int) -> bool:
    if pid <= 0:  # 0 and negatives address process groups in kill(2), never a single holder
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def process_start(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat); None if unknown.

    A pid can be reused after its process exits; the (pid, start time) pair cannot.
    """
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = raw.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])  # fields[0] is field 3 (state), so field 22 is fields[19]
    except (IndexError, ValueError):
        return None
