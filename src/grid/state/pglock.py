"""The state lock of a PostgreSQL store: one `grid_lock` row per cluster, with a lease.

The row appears atomically (INSERT … ON CONFLICT DO NOTHING) naming its holder, like `state.lock` does for the
file store, with the same LockHolder / LockHeld / LockLost values and messages. The holder may be on any CI
runner, whose processes nobody else can see, so there the lease decides: it is judged by the database clock,
renewed every lease/3 while the holder works, and a holder that dies stops renewing — after `lease_seconds`
anyone may take the lock over (`break_stale`) or `grid state unlock` it. A holder that ran on this host and
whose process is gone is stale at once, as with the file lock: nobody waits out the lease of a known-dead run.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from grid.state import _osutil as osu
from grid.state.errors import LockHeld, LockLost, StateError
from grid.state.lock import LockHolder, Status, gone_from_this_host, lost_error, renewing

if TYPE_CHECKING:
    import psycopg

    from grid.state.postgres import PostgresStateStore

_COLUMNS = "holder_user, host, pid, command, since, lease_seconds, lease_until, pid_start, token"
_SELECT = f"SELECT {_COLUMNS}, lease_until <= clock_timestamp() AS expired FROM grid_lock WHERE cluster = %s"


def _holder(row: tuple[Any, ...]) -> LockHolder:
    return LockHolder(user=str(row[0]), host=str(row[1]), pid=int(row[2]), command=str(row[3]),
                      since=osu.iso(row[4]), lease_seconds=float(row[5]), lease_until=osu.iso(row[6]),
                      pid_start=None if row[7] is None else int(row[7]), token=str(row[8]))


def _status(row: tuple[Any, ...]) -> Status:
    if gone_from_this_host(_holder(row)):
        return "stale"
    return "expired" if row[9] else "live"


def held_error(holder: LockHolder, status: Status) -> LockHeld:
    if status == "stale":
        hint = "the lock is stale (its process on this host is gone): `grid state unlock SPEC` removes it"
    elif status == "live":
        hint = (f"wait for it to finish (its lease runs until {holder.lease_until} and is renewed while it "
                "works); if it died, the lock frees itself when the lease runs out, or "
                "`grid state unlock SPEC --force` removes it now")
    else:
        hint = (f"the lock is expired (its lease ran out at {holder.lease_until}): "
                "`grid state unlock SPEC` removes it")
    return LockHeld(f"the state is locked by {holder.describe()}", hint, holder=holder, status=status)


@contextlib.contextmanager
def _connection(store: PostgresStateStore) -> Iterator[psycopg.Connection[Any]]:
    import psycopg

    conn = store.connect()
    try:
        yield conn
    except psycopg.Error as exc:
        raise store.failure(exc) from None
    finally:
        conn.close()


class PostgresLock:
    """A held (or to-be-held) lock row; the HeldLock protocol plus acquire/renew/release."""

    def __init__(self, store: PostgresStateStore, command: str, *, lease_seconds: float) -> None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.store = store
        self.command = command
        self.lease_seconds = lease_seconds
        self._holder: LockHolder | None = None
        self.lost: LockLost | None = None

    @property
    def holder(self) -> LockHolder | None:
        return self._holder

    def check(self) -> None:
        if self.lost is not None:
            raise self.lost

    def acquire(self, *, break_stale: bool = False) -> LockHolder:
        token = uuid.uuid4().hex
        me = (self.store.cluster, token, osu.current_user(), osu.this_host(), os.getpid(),
              osu.process_start(os.getpid()), self.command, self.lease_seconds, self.lease_seconds)
        with _connection(self.store) as conn, conn.transaction():
            row = conn.execute(
                "INSERT INTO grid_lock (cluster, token, holder_user, host, pid, pid_start, command, since, "
                "lease_seconds, lease_until) VALUES (%s, %s, %s, %s, %s, %s, %s, clock_timestamp(), %s, "
                "clock_timestamp() + make_interval(secs => %s)) ON CONFLICT (cluster) DO NOTHING "
                f"RETURNING {_COLUMNS}", me).fetchone()
            if row is None:
                # Someone holds it: look under a row lock, so two breakers of an expired lock cannot both win.
                current = conn.execute(_SELECT + " FOR UPDATE", (self.store.cluster,)).fetchone()
                if current is None:  # released between our insert and our look: it is free now
                    raise _Retry
                status = _status(current)
                if status == "live" or not break_stale:
                    raise held_error(_holder(current), status)
                row = conn.execute(
                    "UPDATE grid_lock SET token = %s, holder_user = %s, host = %s, pid = %s, pid_start = %s, "
                    "command = %s, since = clock_timestamp(), lease_seconds = %s, "
                    "lease_until = clock_timestamp() + make_interval(secs => %s) WHERE cluster = %s "
                    f"RETURNING {_COLUMNS}", (*me[1:], self.store.cluster)).fetchone()
        assert row is not None
        self._holder = _holder(row)
        return self._holder

    def renew(self) -> LockHolder:
        """Push the lease forward; LockLost when the row is no longer ours."""
        if self._holder is None:
            raise LockLost("the state lock is not held", "acquire it first")
        with _connection(self.store) as conn:
            row = conn.execute(
                "UPDATE grid_lock SET lease_until = clock_timestamp() + make_interval(secs => %s) "
                f"WHERE cluster = %s AND token = %s RETURNING {_COLUMNS}",
                (self.lease_seconds, self.store.cluster, self._holder.token)).fetchone()
            if row is None:
                now = conn.execute(_SELECT, (self.store.cluster,)).fetchone()
                raise lost_error(_holder(now) if now else None)
        self._holder = _holder(row)
        return self._holder

    def release(self) -> None:
        if self._holder is None:
            return
        with contextlib.suppress(StateError), _connection(self.store) as conn:  # else the lease runs out
            conn.execute("DELETE FROM grid_lock WHERE cluster = %s AND token = %s",
                         (self.store.cluster, self._holder.token))
        self._holder = None


class _Retry(Exception):
    pass


@contextlib.contextmanager
def held_pg_lock(store: PostgresStateStore, command: str, *, lease_seconds: float,
                 break_stale: bool = False) -> Iterator[PostgresLock]:
    """Hold the lock for a block, renewing the lease every lease/3 from a daemon thread."""
    lock = PostgresLock(store, command, lease_seconds=lease_seconds)
    for attempt in range(5):
        try:
            lock.acquire(break_stale=break_stale)
            break
        except _Retry:
            if attempt == 4:
                raise StateError("the state lock kept changing hands; try again") from None
    try:
        with renewing(lock, "grid-pglock-renew"):
            yield lock
    finally:
        lock.release()


def current_holder(store: PostgresStateStore) -> tuple[LockHolder, Status] | None:
    with _connection(store) as conn:
        row = conn.execute(_SELECT, (store.cluster,)).fetchone()
    return None if row is None else (_holder(row), _status(row))


def remove_lock(store: PostgresStateStore, *, force: bool = False) -> LockHolder | None:
    """Delete the lock row; without `force` only a stale or expired one. Returns who held it."""
    with _connection(store) as conn, conn.transaction():
        row = conn.execute(_SELECT + " FOR UPDATE", (store.cluster,)).fetchone()
        if row is None:
            return None
        holder = _holder(row)
        if _status(row) == "live" and not force:
            raise LockHeld(
                f"the state is locked by {holder.describe()}, and its lease runs until {holder.lease_until}",
                "wait for it to finish; `grid state unlock SPEC --force` removes it anyway "
                "(only if you are sure it is gone: two writers corrupt the record of what exists)",
                holder=holder, status="live")
        conn.execute("DELETE FROM grid_lock WHERE cluster = %s AND token = %s", (store.cluster, holder.token))
    return holder
