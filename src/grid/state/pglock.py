"""The state lock of a PostgreSQL store: one `grid_lock` row per cluster (the lease: grid.state.lease).

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
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from grid.state import _osutil as osu
from grid.state.errors import LockHeld, StateError
from grid.state.holder import LockHolder, Status
from grid.state.lease import Lease, held, judge, unlock_refused

if TYPE_CHECKING:
    import psycopg

_COLUMNS = "holder_user, host, pid, command, since, lease_seconds, lease_until, pid_start, token"
_SELECT = f"SELECT {_COLUMNS}, lease_until <= clock_timestamp() AS expired FROM grid_lock WHERE cluster = %s"
_CLAIM_ATTEMPTS = 5


class Database(Protocol):
    """Where the row lives: one cluster's state database (grid.state.postgres.PostgresStateStore)."""

    @property
    def cluster(self) -> str: ...

    def connect(self) -> psycopg.Connection[Any]: ...

    def failure(self, exc: BaseException, doing: str = ...) -> StateError: ...


def _holder(row: tuple[Any, ...]) -> LockHolder:
    return LockHolder(user=str(row[0]), host=str(row[1]), pid=int(row[2]), command=str(row[3]),
                      since=osu.iso(row[4]), lease_seconds=float(row[5]), lease_until=osu.iso(row[6]),
                      pid_start=None if row[7] is None else int(row[7]), token=str(row[8]))


def _status(row: tuple[Any, ...]) -> Status:
    return judge(_holder(row), lease_expired=bool(row[9]), seen_running_is_live=False)


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
def connection(db: Database) -> Iterator[psycopg.Connection[Any]]:
    """A connection to `db`, closed after the block; a database error as the store's StateError (password masked)."""
    import psycopg

    conn = db.connect()
    try:
        yield conn
    except psycopg.Error as exc:
        raise db.failure(exc) from None
    finally:
        conn.close()


class PostgresLockRecord:
    """The `grid_lock` row of one cluster: the lease.LockRecord of the PostgreSQL store."""

    def __init__(self, db: Database, *, key: str | None = None) -> None:
        self.db = db
        self.key = key or db.cluster  # the row's name: the cluster's state lock, or another lease (an agent's)

    def claim(self, command: str, lease_seconds: float, token: str, *, break_stale: bool) -> LockHolder:
        for _ in range(_CLAIM_ATTEMPTS):
            found = self._claim(command, lease_seconds, token, break_stale=break_stale)
            if found is not None:
                return found
        raise StateError("the state lock kept changing hands; try again")

    def _claim(self, command: str, lease_seconds: float, token: str, *, break_stale: bool) -> LockHolder | None:
        """The row now ours; None when it was released between our insert and our look (try again)."""
        cluster = self.key
        me = (cluster, token, osu.current_user(), osu.this_host(), os.getpid(),
              osu.process_start(os.getpid()), command, lease_seconds, lease_seconds)
        with connection(self.db) as conn, conn.transaction():
            row = conn.execute(
                "INSERT INTO grid_lock (cluster, token, holder_user, host, pid, pid_start, command, since, "
                "lease_seconds, lease_until) VALUES (%s, %s, %s, %s, %s, %s, %s, clock_timestamp(), %s, "
                "clock_timestamp() + make_interval(secs => %s)) ON CONFLICT (cluster) DO NOTHING "
                f"RETURNING {_COLUMNS}", me).fetchone()
            if row is None:
                # Someone holds it: look under a row lock, so two breakers of an expired lock cannot both win.
                current = conn.execute(_SELECT + " FOR UPDATE", (cluster,)).fetchone()
                if current is None:
                    return None
                status = _status(current)
                if status == "live" or not break_stale:
                    raise held_error(_holder(current), status)
                row = conn.execute(
                    "UPDATE grid_lock SET token = %s, holder_user = %s, host = %s, pid = %s, pid_start = %s, "
                    "command = %s, since = clock_timestamp(), lease_seconds = %s, "
                    "lease_until = clock_timestamp() + make_interval(secs => %s) WHERE cluster = %s "
                    f"RETURNING {_COLUMNS}", (*me[1:], cluster)).fetchone()
        assert row is not None
        return _holder(row)

    def extend(self, holder: LockHolder) -> LockHolder | None:
        with connection(self.db) as conn:
            row = conn.execute(
                "UPDATE grid_lock SET lease_until = clock_timestamp() + make_interval(secs => %s) "
                f"WHERE cluster = %s AND token = %s RETURNING {_COLUMNS}",
                (holder.lease_seconds, self.key, holder.token)).fetchone()
        return None if row is None else _holder(row)

    def drop(self, holder: LockHolder) -> None:
        with contextlib.suppress(StateError), connection(self.db) as conn:  # else the lease runs out
            conn.execute("DELETE FROM grid_lock WHERE cluster = %s AND token = %s", (self.key, holder.token))

    def current(self) -> LockHolder | None:
        found = current_holder(self.db, key=self.key)
        return found[0] if found else None


class PostgresLock(Lease):
    """The lease over a cluster's `grid_lock` row."""

    def __init__(self, db: Database, command: str, *, lease_seconds: float) -> None:
        super().__init__(PostgresLockRecord(db), command, lease_seconds=lease_seconds)
        self.store = db


def held_pg_lock(db: Database, command: str, *, lease_seconds: float,
                 break_stale: bool = False) -> contextlib.AbstractContextManager[Lease]:
    """Hold the lock for a block, renewing the lease every lease/3 from a daemon thread."""
    return held(PostgresLock(db, command, lease_seconds=lease_seconds), break_stale=break_stale,
                thread_name="grid-pglock-renew")


def current_holder(db: Database, *, key: str | None = None) -> tuple[LockHolder, Status] | None:
    with connection(db) as conn:
        row = conn.execute(_SELECT, (key or db.cluster,)).fetchone()
    return None if row is None else (_holder(row), _status(row))


def remove_lock(db: Database, *, force: bool = False) -> LockHolder | None:
    """Delete the lock row; without `force` only a stale or expired one. Returns who held it."""
    with connection(db) as conn, conn.transaction():
        row = conn.execute(_SELECT + " FOR UPDATE", (db.cluster,)).fetchone()
        if row is None:
            return None
        holder = _holder(row)
        if _status(row) == "live" and not force:
            raise unlock_refused(holder, f"its lease runs until {holder.lease_until}")
        conn.execute("DELETE FROM grid_lock WHERE cluster = %s AND token = %s", (db.cluster, holder.token))
    return holder
