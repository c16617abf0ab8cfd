"""The state lock of a work directory: a file that names its holder (the lease: grid.state.lease).

`state.lock` appears atomically, content and all (a written temp file hard-linked into place), with
{user, host, pid, command, since, lease_seconds, lease_until, pid_start, token}. A lock is breakable when
  - its holder ran on this host and that process is gone (pid dead, or reused: start time differs), or
  - its holder ran on another host — whose processes we cannot see — and its lease ran out.
Every change other than the create (take-over, renew, release, unlock) re-reads the file
under an flock on `.lock.guard`, so two processes breaking the same stale lock cannot both win.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from grid.state import _osutil as osu
from grid.state.errors import LockHeld, storage_errors
from grid.state.holder import LockHolder, Status
from grid.state.lease import HeldLock, Lease, held, judge, unlock_refused

LOCK_FILE = "state.lock"
GUARD_FILE = ".lock.guard"
DEFAULT_LEASE_SECONDS = 300.0
# A lock file with no readable content is a holder that died between create and write;
# anyone alive finishes that within milliseconds, so after this long it is stale.
UNREADABLE_GRACE_SECONDS = 10.0


def read_lock(workdir: Path) -> LockHolder | None:
    """The current holder, None if unlocked. An unreadable file becomes a placeholder holder."""
    path = workdir / LOCK_FILE
    try:
        raw = path.read_bytes()
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        return LockHolder.from_bytes(raw)
    except (ValueError, KeyError, TypeError):
        since = datetime.fromtimestamp(mtime, UTC)
        until = since + timedelta(seconds=UNREADABLE_GRACE_SECONDS)
        return LockHolder("?", "?", 0, "unknown (unreadable lock file)", osu.iso(since),
                          UNREADABLE_GRACE_SECONDS, osu.iso(until), token=f"unreadable:{raw.hex()[:64]}")


def assess(holder: LockHolder, *, now: datetime | None = None, seen_running_is_live: bool = True) -> Status:
    """On one machine a holder seen running is live whatever its lease (unless `seen_running_is_live` is off:
    an agent's lease, which a running but stuck holder must lose too); one seen gone is stale at once."""
    now = now or osu.utc_now()
    try:
        expired = now >= datetime.fromisoformat(holder.lease_until)
    except ValueError:
        expired = True
    return judge(holder, lease_expired=expired, seen_running_is_live=seen_running_is_live)


class FileLockRecord:
    """`state.lock` in `workdir`: the lease.LockRecord of the file store."""

    def __init__(self, workdir: Path, *, seen_running_is_live: bool = True) -> None:
        self.workdir = workdir
        self.seen_running_is_live = seen_running_is_live

    @property
    def path(self) -> Path:
        return self.workdir / LOCK_FILE

    def claim(self, command: str, lease_seconds: float, token: str, *, break_stale: bool) -> LockHolder:
        with storage_errors(self.workdir, "take the state lock"):
            return self._claim(_fresh(command, lease_seconds, token=token), break_stale=break_stale)

    def _claim(self, mine: LockHolder, *, break_stale: bool) -> LockHolder:
        for _ in range(5):  # retried only when the lock vanishes between our create and our read
            if _create_exclusive(self.path, mine):
                return mine
            current = read_lock(self.workdir)
            if current is None:
                continue
            status = self._assess(current)
            if status == "live" or not break_stale:
                raise _held(current, status)
            with osu.guard(self.workdir / GUARD_FILE):
                again = read_lock(self.workdir)
                if again is None:
                    continue
                # Same token and still breakable: nobody took it over while we were deciding.
                if again.token != current.token or self._assess(again) == "live":
                    raise _held(again, self._assess(again))
                _replace(self.path, mine)
            return mine
        raise _held(read_lock(self.workdir) or mine, "live")

    def extend(self, holder: LockHolder) -> LockHolder | None:
        with osu.guard(self.workdir / GUARD_FILE):
            current = read_lock(self.workdir)
            if current is None or current.token != holder.token:
                return None
            renewed = _fresh(holder.command, holder.lease_seconds, token=holder.token, since=holder.since)
            _replace(self.path, renewed)
        return renewed

    def drop(self, holder: LockHolder) -> None:
        with osu.guard(self.workdir / GUARD_FILE):
            current = read_lock(self.workdir)
            if current is not None and current.token == holder.token:
                self.path.unlink()  # only our own lock: never remove a successor's

    def current(self) -> LockHolder | None:
        return read_lock(self.workdir)

    def _assess(self, holder: LockHolder) -> Status:
        return assess(holder, seen_running_is_live=self.seen_running_is_live)


class StateLock(Lease):
    """The lease over a work directory's `state.lock`."""

    def __init__(self, workdir: Path, command: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        super().__init__(FileLockRecord(workdir), command, lease_seconds=lease_seconds)
        self.workdir = workdir

    @property
    def path(self) -> Path:
        return self.workdir / LOCK_FILE


def held_lock(workdir: Path, command: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
              break_stale: bool = False) -> contextlib.AbstractContextManager[Lease]:
    """Hold the lock for a block, renewing the lease every lease/3 from a daemon thread."""
    return held(StateLock(workdir, command, lease_seconds=lease_seconds), break_stale=break_stale,
                thread_name="grid-lock-renew")


def unlock(workdir: Path, *, force: bool = False) -> LockHolder | None:
    """Remove the lock; without `force` only a stale or expired one. Returns who held it."""
    with storage_errors(workdir, "remove the state lock"), osu.guard(workdir / GUARD_FILE):
        holder = read_lock(workdir)
        if holder is None:
            return None
        if assess(holder) == "live" and not force:
            raise unlock_refused(holder, "its process is still running" if holder.host == osu.this_host()
                                 else f"its lease runs until {holder.lease_until}")
        (workdir / LOCK_FILE).unlink(missing_ok=True)
        return holder


def _fresh(command: str, lease_seconds: float, *, token: str, since: str | None = None) -> LockHolder:
    now = osu.utc_now()
    return LockHolder(
        user=osu.current_user(), host=osu.this_host(), pid=os.getpid(), command=command,
        since=since or osu.iso(now), lease_seconds=lease_seconds,
        lease_until=osu.iso(now + timedelta(seconds=lease_seconds)),
        pid_start=osu.process_start(os.getpid()), token=token)


def _held(holder: LockHolder, status: Status) -> LockHeld:
    if status == "live" and holder.host != osu.this_host():
        # Its processes are invisible from here: only the lease (renewed while it runs) can end it.
        hint = (f"its lease runs until {holder.lease_until} and is renewed while it runs; after that grid "
                "takes the lock over. If that host is gone for good, `grid state unlock SPEC --force` "
                "removes the lock")
    elif status == "live":
        hint = ("wait for it to finish; if that process is gone for good, "
                "`grid state unlock SPEC --force` removes the lock")
    else:
        why = "its process is gone" if status == "stale" else f"its lease ran out at {holder.lease_until}"
        hint = f"the lock is {status} ({why}): `grid state unlock SPEC` removes it"
    return LockHeld(f"the state is locked by {holder.describe()}", hint, holder=holder, status=status)


def _create_exclusive(path: Path, holder: LockHolder) -> bool:
    """Make the lock file appear with its content at once, or return False if it exists.

    The content is written to a temp file first and hard-linked into place (link fails if the name
    exists): a contender never reads a created-but-empty lock. Filesystems without hard links get
    O_CREAT|O_EXCL, where that window exists (an empty file reads as a holder for a short grace).
    """
    temp = osu.write_temp(path.parent, (holder.to_bytes(),), prefix=".state-lock.")
    try:
        os.link(temp, path)
    except FileExistsError:
        return False
    except OSError:
        return _create_exclusive_in_place(path, holder)
    finally:
        temp.unlink(missing_ok=True)
    osu.fsync_dir(path.parent)
    return True


def _create_exclusive_in_place(path: Path, holder: LockHolder) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, osu.FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.write(fd, holder.to_bytes())
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    osu.fsync_dir(path.parent)
    return True


def _replace(path: Path, holder: LockHolder) -> None:
    """Swap the lock content atomically: readers see the old holder or the new one, never a torn file."""
    temp = osu.write_temp(path.parent, (holder.to_bytes(),), prefix=".state-lock.")
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    osu.fsync_dir(path.parent)


__all__ = ["DEFAULT_LEASE_SECONDS", "GUARD_FILE", "LOCK_FILE", "FileLockRecord", "HeldLock", "StateLock",
           "assess", "held_lock", "read_lock", "unlock"]
