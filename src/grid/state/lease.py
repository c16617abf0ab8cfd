"""A state lock held under a renewable lease, written once over each backend's lock record.

A backend keeps one lock record per state — `state.lock` in the work directory (grid.state.lock), a
`grid_lock` row in PostgreSQL (grid.state.pglock) — and offers the atomic steps on it (`LockRecord`):
claim it (taking over one that is breakable), extend it, drop it, say who holds it. `Lease` is the lock a
command holds over such a record: `held` takes it for a block and renews it every lease/3 from a daemon
thread; when someone took it over meanwhile, `check()` raises LockLost. A holder that dies stops renewing,
and once its lease runs out (or, on this host, once its process is gone) others may take the lock over.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Protocol

from grid.state.errors import LockHeld, LockLost, StateError
from grid.state.holder import LockHolder, Status, gone_from_this_host

UNLOCK_FORCE_HINT = ("wait for it to finish; `grid state unlock SPEC --force` removes it anyway "
                     "(only if you are sure it is gone: two writers corrupt the record of what exists)")


class LockRecord(Protocol):
    """The atomic steps a backend offers on its lock record."""

    def claim(self, command: str, lease_seconds: float, token: str, *, break_stale: bool) -> LockHolder:
        """Create the record naming us, or take over a breakable one when `break_stale`; LockHeld if held."""
        ...

    def extend(self, holder: LockHolder) -> LockHolder | None:
        """Push the lease of `holder` forward; None when the record is no longer its (taken over, removed)."""
        ...

    def drop(self, holder: LockHolder) -> None:
        """Remove the record if it is still `holder`'s: never a successor's."""
        ...

    def current(self) -> LockHolder | None: ...


class HeldLock(Protocol):
    """What a caller holding the lock may do: see who it is, and check it was not lost."""

    @property
    def holder(self) -> LockHolder | None: ...

    def check(self) -> None: ...


class Lease:
    """A lock over `record`: acquire / renew / release, and `lost` once someone took it over."""

    def __init__(self, record: LockRecord, command: str, *, lease_seconds: float) -> None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.record = record
        self.command = command
        self.lease_seconds = lease_seconds
        self._holder: LockHolder | None = None
        self.lost: LockLost | None = None  # set by the renewal thread when someone took the lock

    @property
    def holder(self) -> LockHolder | None:
        return self._holder

    def check(self) -> None:
        if self.lost is not None:
            raise self.lost

    def acquire(self, *, break_stale: bool = False) -> LockHolder:
        self._holder = self.record.claim(self.command, self.lease_seconds, os.urandom(16).hex(),
                                         break_stale=break_stale)
        return self._holder

    def renew(self) -> LockHolder:
        """Push the lease forward; LockLost if the lock is no longer ours."""
        if self._holder is None:
            raise LockLost("the state lock is not held", "acquire it first")
        renewed = self.record.extend(self._holder)
        if renewed is None:
            raise lost_error(self.record.current())
        self._holder = renewed
        return renewed

    def release(self) -> None:
        if self._holder is not None:
            self.record.drop(self._holder)
        self._holder = None


@contextlib.contextmanager
def held(lease: Lease, *, break_stale: bool = False, thread_name: str = "grid-lock-renew") -> Iterator[Lease]:
    """Hold `lease` for a block, renewing it every lease/3 from a daemon thread; released at the end."""
    lease.acquire(break_stale=break_stale)
    try:
        with renewing(lease, thread_name):
            yield lease
    finally:
        lease.release()


@contextlib.contextmanager
def renewing(lease: Lease, name: str) -> Iterator[None]:
    """Renew `lease` every lease/3 from a daemon thread while the block runs.

    When someone took the lock over, `lease.lost` is set (the holder's `check()` raises it) and renewal
    stops; a failure to reach the storage is retried: the lease has two more chances before it runs out.
    """
    stop = threading.Event()

    def renew_until_stopped() -> None:
        while not stop.wait(lease.lease_seconds / 3):
            try:
                lease.renew()
            except LockLost as exc:
                lease.lost = exc
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


def judge(holder: LockHolder, *, lease_expired: bool, seen_running_is_live: bool) -> Status:
    """A holder's status: stale when its process is gone from this host, else by its lease.

    `seen_running_is_live`: a holder seen running on this host is live whatever its lease says (the file
    lock, on one machine); otherwise its lease decides (the database's clock is the judge of team state)."""
    gone = gone_from_this_host(holder)
    if gone:
        return "stale"
    if gone is False and seen_running_is_live:
        return "live"
    return "expired" if lease_expired else "live"


def lost_error(taker: LockHolder | None) -> LockLost:
    who = taker.describe() if taker else "nobody (it was removed)"
    return LockLost(f"the state lock was broken while this command held it; now held by {who}",
                    "check the state with `grid state history SPEC` before running again")


def unlock_refused(holder: LockHolder, why: str) -> LockHeld:
    """`grid state unlock` without --force, of a lock whose holder may be alive."""
    return LockHeld(f"the state is locked by {holder.describe()}, and {why}", UNLOCK_FORCE_HINT,
                    holder=holder, status="live")


__all__ = ["HeldLock", "Lease", "LockRecord", "held", "judge", "lost_error", "renewing", "unlock_refused"]
