"""One active agent per (cluster, region): a lease in the state backend, and fencing by the local clock.

Any number of agents may run for a region; the one holding the region's agent lease acts, the others wait.
The lease is a lock record of the state backend (grid.state.lease.LockRecord): a `grid_lock` row keyed
"<cluster>/agent/<region>" in PostgreSQL, or `agent-leases/<region>/state.lock` next to a file state. Judged by
its lease only (never by a holder seen running: a stuck agent must lose it too), so a killed agent's lease
runs out and a standby takes over.

Fencing: an agent is `active` only while its local monotonic clock is before (the start of its last successful
renewal + lease - lease/3). A renewal that fails (the database unreachable) does not extend that, so an agent
cut off from the database stops acting a third of a lease BEFORE its lease can run out in the database and
another agent can take over. `fence()` raises LeaseLost once not active: call it before every side effect and
state write (grid.apply.statewriter.fenced_writes makes every StateWriter call it).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from pathlib import Path

from grid.agent.heartbeat import AgentRecord, agents, check_name, heartbeat, state_directory
from grid.state.errors import LockHeld, LockLost, StateError
from grid.state.holder import LockHolder
from grid.state.lease import LockRecord
from grid.state.lock import FileLockRecord
from grid.state.pglock import PostgresLockRecord
from grid.state.postgres import PostgresStateStore, is_postgres, redact

SAFETY_FRACTION = 1 / 3  # of the lease: how long before the database's expiry an agent stops acting
RENEWALS_PER_LEASE = 6  # several renewals fit in the active window, so one slow round trip costs nothing


class LeaseLost(LockLost):
    """This agent is not (or no longer) the active one for its region: it must not act or write."""


def lease_record(store_location: str | None, workdir: Path, cluster: str, region: str,
                 lease_seconds: float = 60.0) -> LockRecord:
    """The lock record of one region's agent lease, in the backend the state lives in."""
    check_name("region", region)
    if is_postgres(store_location):
        assert store_location is not None
        url = _bounded(store_location, lease_seconds)
        return PostgresLockRecord(PostgresStateStore(url, cluster), key=f"{cluster}/agent/{region}")
    directory = state_directory(store_location, workdir) / "agent-leases" / region
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"cannot make the agent lease directory {directory}: {exc.strerror}",
                         "check the state location (--state) and the work directory") from None
    return FileLockRecord(directory, seen_running_is_live=False)


class AgentLease:
    """The agent lease of one (cluster, region), as one agent sees it.

    `try_acquire()` takes the lease when it is free or ran out (or renews it when ours) and returns `active`;
    while held, a daemon thread renews it every lease/6. `release()` drops it (a standby can take over at once).
    """

    def __init__(self, store_location: str | None, workdir: Path, cluster: str, region: str, agent: str,
                 lease_seconds: float, *, record: LockRecord | None = None) -> None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.cluster = cluster
        self.region = check_name("region", region)
        self.agent = check_name("agent", agent)
        self.lease_seconds = float(lease_seconds)
        self.where = redact(store_location) if store_location else str(workdir)
        self.record = record or lease_record(store_location, workdir, cluster, region, self.lease_seconds)
        self.command = f"grid agent {agent} (region {region})"
        self.last_error: str = ""  # why the last acquire/renewal failed; '' when it worked
        self.standby_of: LockHolder | None = None  # the active agent, as last seen while we stood by
        self._holder: LockHolder | None = None
        self._active_until = 0.0  # time.monotonic() before which we may act
        self._mutex = threading.Lock()  # one record operation at a time (the renewer vs try_acquire)
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    # -- what the loop asks -----------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Holding the lease, and its local deadline (renewal start + lease - lease/3) not yet passed."""
        return self._holder is not None and time.monotonic() < self._active_until

    @property
    def holder(self) -> LockHolder | None:
        """Who holds the lease per the backend (any agent), None when nobody; raises StateError if unreachable."""
        return self.record.current()

    def fence(self) -> None:
        """Raise LeaseLost unless this agent is active: call before every side effect and state write."""
        if self.active:
            return
        why = ("it was taken over or ran out" if self._holder is None
               else "it could not be renewed in time" + (f" ({self.last_error})" if self.last_error else ""))
        raise LeaseLost(f"agent {self.agent} is not the active agent of region {self.region} of cluster "
                        f"{self.cluster}: its lease {why}",
                        "nothing was written; the agent waits and takes the lease again when it is free")

    def try_acquire(self) -> bool:
        """Take (or renew) the lease; True when this agent is now the active one."""
        if not self._mutex.acquire(blocking=False):
            return self.active  # a renewal is under way (perhaps waiting for the database): judge by the clock
        try:
            if self._holder is not None:
                self._renew_locked()
            if self._holder is None:
                self._claim_locked()
        finally:
            self._mutex.release()
        if self._holder is not None:
            self._start_renewer()
        return self.active

    def release(self) -> None:
        """Stop renewing and drop the lease if it is still ours (never a successor's)."""
        self._stop.set()
        renewer, self._renewer = self._renewer, None
        if renewer is not None and renewer is not threading.current_thread():
            renewer.join(timeout=self.lease_seconds)
        with self._mutex:
            holder, self._holder = self._holder, None
            self._active_until = 0.0
            if holder is not None:
                with contextlib.suppress(StateError, OSError):  # unreachable: the lease runs out by itself
                    self.record.drop(holder)

    # -- internals --------------------------------------------------------------------------------

    def _window(self) -> float:
        return self.lease_seconds * (1 - SAFETY_FRACTION)

    def _claim_locked(self) -> None:
        started = time.monotonic()  # before the request: the backend's lease starts no earlier
        try:
            self._holder = self.record.claim(self.command, self.lease_seconds, uuid.uuid4().hex, break_stale=True)
        except LockHeld as exc:
            self.last_error = ""
            self._lost()
            self.standby_of = exc.holder
            return
        except (StateError, OSError) as exc:
            self.last_error = _reason(exc)
            return
        self._active_until = started + self._window()
        self.standby_of = None
        self.last_error = ""

    def _renew_locked(self) -> None:
        holder = self._holder
        if holder is None:
            return
        started = time.monotonic()
        try:
            renewed = self.record.extend(holder)
        except (StateError, OSError) as exc:  # unreachable: the deadline stays where it was
            self.last_error = _reason(exc)
            return
        if renewed is None:
            self._lost()
            self.last_error = "taken over by another agent"
            return
        self._holder = renewed
        self.standby_of = None
        self._active_until = max(self._active_until, started + self._window())
        self.last_error = ""

    def _lost(self) -> None:
        self._holder = None
        self._active_until = 0.0

    def _start_renewer(self) -> None:
        if self._renewer is not None and self._renewer.is_alive():
            return
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew_until_stopped, args=(self._stop,),
                                         name=f"grid-agent-lease-{self.region}", daemon=True)
        self._renewer.start()

    def _renew_until_stopped(self, stop: threading.Event) -> None:
        while not stop.wait(self.lease_seconds / RENEWALS_PER_LEASE):
            with self._mutex:
                if stop.is_set() or self._holder is None:
                    return
                self._renew_locked()


def _bounded(url: str, lease_seconds: float) -> str:
    """The URL with a TCP user timeout of one lease (unless it sets one): a renewal whose packets a partition
    swallows fails after that, instead of hanging for the kernel's retransmissions (many minutes)."""
    if "tcp_user_timeout=" in url:
        return url
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}tcp_user_timeout={max(int(lease_seconds * 1000), 1000)}"


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    return str(message or exc)


__all__ = ["AgentLease", "AgentRecord", "LeaseLost", "agents", "check_name", "heartbeat", "lease_record"]
