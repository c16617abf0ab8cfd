"""The state lock: a file that names its holder, with stale detection and a renewable lease.

`state.lock` appears atomically, content and all (a written temp file hard-linked into place), with
{user, host, pid, command, since, lease_seconds, lease_until, pid_start, token}. A lock is breakable when
  - its holder ran on this host and that process is gone (pid dead, or reused: start time differs), or
  - its holder ran on another host — whose processes we cannot see — and its lease ran out.
Every change other than the create (take-over, renew, release, unlock) re-reads the file
under an flock on `.lock.guard`, so two processes breaking the same stale lock cannot both win.
The lease renewal (`renewing`) and the same-host liveness test (`gone_from_this_host`) are shared with
the PostgreSQL lock (grid.state.pglock).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

from grid.state import _osutil as osu
from grid.state.errors import LockHeld, LockLost, StateError, storage_errors

LOCK_FILE = "state.lock"
GUARD_FILE = ".lock.guard"
DEFAULT_LEASE_SECONDS = 300.0
# A lock file with no readable content is a holder that died between create and write;
# anyone alive finishes that within milliseconds, so after this long it is stale.
UNREADABLE_GRACE_SECONDS = 10.0

Status = Literal["live", "stale", "expired"]


@dataclass(frozen=True)
class LockHolder:
    user: str
    host: str
    pid: int
    command: str
    since: str
    lease_seconds: float
    lease_until: str
    pid_start: int | None = None
    token: str = ""

    def describe(self) -> str:
        return f"{self.user}@{self.host} pid {self.pid} running '{self.command}' since {self.since}"

    def to_bytes(self) -> bytes:
        return (json.dumps(dataclasses.asdict(self), indent=1) + "\n").encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> LockHolder:
        data: Any = json.loads(raw)
        return cls(user=str(data["user"]), host=str(data["host"]), pid=int(data["pid"]),
                   command=str(data["command"]), since=str(data["since"]),
                   lease_seconds=float(data["lease_seconds"]), lease_until=str(data["lease_until"]),
                   pid_start=None if data.get("pid_start") is None else int(data["pid_start"]),
                   token=str(data.get("token", "")))


class HeldLock(Protocol):
    """What a caller holding the lock may do: see who it is, and check it was not lost."""

    @property
    def holder(self) -> LockHolder | None: ...

    def check(self) -> None: ...


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


def gone_from_this_host(holder: LockHolder) -> bool | None:
    """True when the holder ran on this host and its process is gone (or its pid now names another
    process), False when it is still running here; None when it ran elsewhere, where only a lease can tell."""
    if holder.host != osu.this_host() or holder.pid <= 0:
        return None
    if not osu.pid_alive(holder.pid):
        return True
    started = osu.process_start(holder.pid)
    return holder.pid_start is not None and started is not None and started != holder.pid_start


def assess(holder: LockHolder, *, now: datetime | None = None) -> Status:
    gone = gone_from_this_host(holder)
    if gone is not None:
        return "stale" if gone else "live"  # we can see it (not) running: its lease does not matter
    now = now or osu.utc_now()
    try:
        until = datetime.fromisoformat(holder.lease_until)
    except ValueError:
        return "expired"
    return "expired" if now >= until else "live"


class StateLock:
    def __init__(self, workdir: Path, command: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.workdir = workdir
        self.command = command
        self.lease_seconds = lease_seconds
        self._holder: LockHolder | None = None
        self.lost: LockLost | None = None  # set by the renewal thread when someone took the lock

    @property
    def path(self) -> Path:
        return self.workdir / LOCK_FILE

    @property
    def holder(self) -> LockHolder | None:
        return self._holder

    def acquire(self, *, break_stale: bool = False) -> LockHolder:
        with storage_errors(self.workdir, "take the state lock"):
            return self._acquire(break_stale=break_stale)

    def _acquire(self, *, break_stale: bool) -> LockHolder:
        mine = self._fresh(token=uuid.uuid4().hex)
        for _ in range(5):  # retried only when the lock vanishes between our create and our read
            if _create_exclusive(self.path, mine):
                self._holder = mine
                return mine
            current = read_lock(self.workdir)
            if current is None:
                continue
            status = assess(current)
            if status == "live" or not break_stale:
                raise _held(current, status)
            with osu.guard(self.workdir / GUARD_FILE):
                again = read_lock(self.workdir)
                if again is None:
                    continue
                # Same token and still breakable: nobody took it over while we were deciding.
                if again.token != current.token or assess(again) == "live":
                    raise _held(again, assess(again))
                _replace(self.path, mine)
            self._holder = mine
            return mine
        raise _held(read_lock(self.workdir) or mine, "live")

    def renew(self) -> LockHolder:
        """Push lease_until forward; LockLost if the lock is no longer ours."""
        if self._holder is None:
            raise LockLost("the state lock is not held", "acquire it first")
        with osu.guard(self.workdir / GUARD_FILE):
            current = read_lock(self.workdir)
            if current is None or current.token != self._holder.token:
                raise lost_error(current)
            renewed = self._fresh(token=self._holder.token, since=self._holder.since)
            _replace(self.path, renewed)
        self._holder = renewed
        return renewed

    def release(self) -> None:
        if self._holder is None:
            return
        with osu.guard(self.workdir / GUARD_FILE):
            current = read_lock(self.workdir)
            if current is not None and current.token == self._holder.token:
                self.path.unlink()  # only our own lock: never remove a successor's
        self._holder = None

    def check(self) -> None:
        if self.lost is not None:
            raise self.lost

    def _fresh(self, *, token: str, since: str | None = None) -> LockHolder:
        now = osu.utc_now()
        return LockHolder(
            user=osu.current_user(), host=osu.this_host(), pid=os.getpid(), command=self.command,
            since=since or osu.iso(now), lease_seconds=self.lease_seconds,
            lease_until=osu.iso(now + timedelta(seconds=self.lease_seconds)),
            pid_start=osu.process_start(os.getpid()), token=token)


@contextlib.contextmanager
def held_lock(workdir: Path, command: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
              break_stale: bool = False) -> Iterator[StateLock]:
    """Hold the lock for a block, renewing the lease every lease/3 from a daemon thread."""
    lock = StateLock(workdir, command, lease_seconds=lease_seconds)
    lock.acquire(break_stale=break_stale)
    try:
        with renewing(lock, "grid-lock-renew"):
            yield lock
    finally:
        lock.release()


def unlock(workdir: Path, *, force: bool = False) -> LockHolder | None:
    """Remove the lock; without `force` only a stale or expired one. Returns who held it."""
    with storage_errors(workdir, "remove the state lock"), osu.guard(workdir / GUARD_FILE):
        holder = read_lock(workdir)
        if holder is None:
            return None
        status = assess(holder)
        if status == "live" and not force:
            why = ("its process is still running" if holder.host == osu.this_host()
                   else f"its lease runs until {holder.lease_until}")
            raise LockHeld(
                f"the state is locked by {holder.describe()}, and {why}",
                "wait for it to finish; `grid state unlock SPEC --force` removes it anyway "
                "(only if you are sure it is gone: two writers corrupt the record of what exists)",
                holder=holder, status=status)
        (workdir / LOCK_FILE).unlink(missing_ok=True)
        return holder


class Renewable(Protocol):
    """A held lock with a lease: the file lock here, the PostgreSQL row lock in grid.state.pglock."""

    lease_seconds: float
    lost: LockLost | None

    def renew(self) -> LockHolder: ...


@contextlib.contextmanager
def renewing(lock: Renewable, name: str) -> Iterator[None]:
    """Renew `lock`'s lease every lease/3 from a daemon thread while the block runs.

    When someone took the lock over, `lock.lost` is set (the holder's `check()` raises it) and renewal
    stops; a failure to reach the storage is retried: the lease has two more chances before it runs out.
    """
    stop = threading.Event()

    def renew_until_stopped() -> None:
        while not stop.wait(lock.lease_seconds / 3):
            try:
                lock.renew()
            except LockLost as exc:
                lock.lost = exc
                return
            except (OSError, StateError):  # a full disk, an NFS hiccup, the database away for a moment
                continue

    renewer = threading.Thread(target=renew_until_stopped, name=name, daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join(timeout=5)


def lost_error(taker: LockHolder | None) -> LockLost:
    who = taker.describe() if taker else "nobody (it was removed)"
    return LockLost(f"the state lock was broken while this command held it; now held by {who}",
                    "check the state with `grid state history SPEC` before running again")


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
