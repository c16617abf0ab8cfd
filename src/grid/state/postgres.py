"""Team state in PostgreSQL: the StateStore Protocol over a few tables, and Pulumi's stacks beside it.

Tables (created on first use; see docs/plan-format.md "Team state"):
    grid_state_head    cluster → current serial and lineage: the row `write` locks (SELECT … FOR UPDATE)
    grid_state         (cluster, serial) → the envelope bytes exactly as FileStateStore writes them; the
                       current row plus the previous `keep` rows (the backups)
    grid_lock          cluster → holder and a lease judged by the database clock (grid.state.pglock)
    grid_agent         (cluster, agent name) → the agent's last heartbeat (grid.agent.heartbeat)
    grid_pulumi_state  Pulumi's DIY backend table (`postgres://…?table=grid_pulumi_state`), pre-created so
                       two region workers starting at once do not race to create it
The password of a URL is never printed or stored: messages use `redact(url)`; Pulumi gets it in PGPASSWORD,
in the environment of its processes only (`pulumi_backend`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from grid.state import _osutil as osu
from grid.state import codec
from grid.state.errors import (
    BackupNotFound,
    StateConflict,
    StateCorrupted,
    StateError,
    StateTooNew,
    StateUnavailable,
)
from grid.state.history import append_history, history_entry
from grid.state.holder import LockHolder, Status
from grid.state.lease import Lease
from grid.state.model import Envelope, State
from grid.state.pglock import current_holder, held_pg_lock, remove_lock
from grid.state.roles import BackupInfo, PulumiBackend, Restored
from grid.state.store import DEFAULT_KEEP, new_lineage, refuse_import

if TYPE_CHECKING:
    import psycopg

SCHEMES = ("postgres://", "postgresql://")
PULUMI_TABLE = "grid_pulumi_state"
DEFAULT_PG_LEASE_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 10
_SCHEMA_LOCK = 0x67726964  # "grid": one schema creator at a time (pg_advisory_xact_lock)
_TABLES = ("grid_state_head", "grid_state", "grid_lock", "grid_agent", PULUMI_TABLE)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS grid_state_head (
    cluster text PRIMARY KEY, serial bigint NOT NULL DEFAULT 0, lineage text NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS grid_state (
    cluster text NOT NULL, serial bigint NOT NULL, lineage text NOT NULL, checksum text NOT NULL,
    body bytea NOT NULL, written_at timestamptz NOT NULL DEFAULT now(), written_by text NOT NULL DEFAULT '',
    PRIMARY KEY (cluster, serial));
CREATE TABLE IF NOT EXISTS grid_lock (
    cluster text PRIMARY KEY, token text NOT NULL, holder_user text NOT NULL, host text NOT NULL,
    pid integer NOT NULL, pid_start bigint, command text NOT NULL, since timestamptz NOT NULL,
    lease_seconds double precision NOT NULL, lease_until timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS grid_agent (
    cluster text NOT NULL, name text NOT NULL, body jsonb NOT NULL, at timestamptz NOT NULL,
    PRIMARY KEY (cluster, name));
CREATE TABLE IF NOT EXISTS {PULUMI_TABLE} (
    key TEXT PRIMARY KEY, data JSON NOT NULL, updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS {PULUMI_TABLE}_key_prefix_idx ON {PULUMI_TABLE} (key text_pattern_ops);
"""


def is_postgres(location: str | None) -> bool:
    return bool(location) and str(location).startswith(SCHEMES)


def redact(url: str) -> str:
    """The URL with its password (user-info or `password=` parameter) replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostinfo}"
    query = "&".join("password=***" if item.lower().startswith("password=") else item
                     for item in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def password_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.password is not None:
        return unquote(parts.password)
    return dict(parse_qsl(parts.query)).get("password")


def scrub(text: str, url: str) -> str:
    """`text` with every appearance of the URL's password (raw or percent-encoded) masked."""
    secret = password_of(url)
    raw = urlsplit(url).password
    for value in {secret, raw} - {None, ""}:
        text = text.replace(str(value), "***")
    return text


class PostgresStateStore:
    """One cluster's state in a PostgreSQL database; implements grid.state.StateStore."""

    def __init__(self, url: str, cluster: str, *, keep: int = DEFAULT_KEEP,
                 lease_seconds: float = DEFAULT_PG_LEASE_SECONDS) -> None:
        if not is_postgres(url):
            raise ValueError("a postgres:// URL is expected")
        if keep < 0:
            raise ValueError("keep must be >= 0")
        self.url = url
        self.cluster = cluster
        self.keep = keep
        self.lease_seconds = lease_seconds
        self._mutex = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None
        self._schema_ready = False

    @property
    def location(self) -> str:
        return redact(self.url)

    @property
    def where(self) -> str:
        return self.location

    @property
    def is_shared(self) -> bool:
        return True

    @property
    def backup_location(self) -> str:
        return self.location

    def describe(self) -> str:
        return f"cluster '{self.cluster}' in {self.location}"

    # -- connections -----------------------------------------------------------------------------

    def connect(self) -> psycopg.Connection[Any]:
        """A new autocommit connection (callers open transactions explicitly)."""
        import psycopg

        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                   application_name="grid")
        except psycopg.Error as exc:
            raise self.failure(exc, "cannot connect to") from None
        if not self._schema_ready:
            try:
                self._ensure_schema(conn)
            except psycopg.Error as exc:
                conn.close()
                raise self.failure(exc, "cannot prepare the tables in") from None
            self._schema_ready = True
        return conn

    def failure(self, exc: BaseException, doing: str = "failed talking to") -> StateError:
        detail = " ".join(str(exc).split())
        return StateUnavailable(f"{doing} the state database {self.location}: {scrub(detail, self.url)}",
                          "check that the server runs and that the URL and credentials "
                          "(--state / GRID_STATE) are right")

    def _ensure_schema(self, conn: psycopg.Connection[Any]) -> None:
        # Check first: a role that may only read/write existing tables (no CREATE) must work too.
        probe = "SELECT " + ", ".join(f"to_regclass('{t}') IS NOT NULL" for t in _TABLES)
        found = conn.execute(probe.encode()).fetchone()
        if found is not None and all(found):
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute(_SCHEMA.encode())

    @contextlib.contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor[Any]]:
        """A transaction on the store's connection; database errors become StateError (password masked)."""
        import psycopg

        with self._mutex:
            if self._conn is None or self._conn.closed:
                self._conn = self.connect()
            try:
                with self._conn.transaction(), self._conn.cursor() as cur:
                    yield cur
            except psycopg.Error as exc:
                if self._conn.broken or isinstance(exc, psycopg.OperationalError):
                    self.close()
                raise self.failure(exc) from None

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
            self._conn = None

    # -- StateStore ------------------------------------------------------------------------------

    def read(self) -> Envelope | None:
        loaded = self._current()
        return None if loaded is None else codec.decode(loaded[1], self._name(loaded[0]))

    def pull(self) -> bytes | None:
        loaded = self._current()
        if loaded is None:
            return None
        codec.verify(loaded[1], self._name(loaded[0]))
        return loaded[1]

    def write(self, state: State, expected_serial: int) -> Envelope:
        body, digest = codec.encode_state(state)
        with self._tx() as cur:
            serial, lineage = self._lock_head(cur)
            if serial != expected_serial:
                raise StateConflict(
                    f"the state changed since it was read (serial {serial} in the database, "
                    f"{expected_serial} expected): another grid wrote it",
                    "run the command again so it plans against the new state",
                    expected=expected_serial, actual=serial)
            lineage = lineage or new_lineage()
            checksum = codec.envelope_checksum(digest, serial=serial + 1, lineage=lineage)
            raw = b"".join(codec.envelope_chunks(body, digest, serial=serial + 1, lineage=lineage))
            self._insert(cur, serial + 1, lineage, checksum, raw)
        return Envelope(serial=serial + 1, lineage=lineage, checksum=checksum, state=state)

    def lock(self, command: str, *, lease_seconds: float | None = None,
             break_stale: bool = False) -> contextlib.AbstractContextManager[Lease]:
        return held_pg_lock(self, command, lease_seconds=lease_seconds or self.lease_seconds,
                            break_stale=break_stale)

    def lock_holder(self) -> LockHolder | None:
        found = current_holder(self)
        return found[0] if found else None

    def lock_status(self) -> Status | None:
        """'live' or 'expired' by the database clock, 'stale' when its holder ran here and is gone; None when
        unlocked."""
        found = current_holder(self)
        return found[1] if found else None

    def unlock(self, *, force: bool = False) -> LockHolder | None:
        return remove_lock(self, force=force)

    def backups(self) -> list[BackupInfo]:
        """Earlier versions kept in the table, newest first, each with its checksum verified."""
        with self._tx() as cur:
            cur.execute("SELECT s.serial, s.written_at, s.body FROM grid_state s JOIN grid_state_head h "
                        "ON h.cluster = s.cluster WHERE s.cluster = %s AND s.serial <> h.serial "
                        "ORDER BY s.written_at DESC, s.serial DESC", (self.cluster,))
            rows = cur.fetchall()
        found = []
        for serial, written_at, body in rows:
            try:
                codec.verify(bytes(body), self._name(serial))
                problem = ""
            except (StateCorrupted, StateTooNew) as exc:
                problem = exc.message
            where = Path(f"grid_state/{self.cluster}/{serial}")
            found.append(BackupInfo(int(serial), where, osu.iso(written_at), problem))
        return found

    def restore(self, serial: int, *, command: str = "") -> Restored:
        """Make backup `serial` current under a new serial; every earlier row stays as it was."""
        with self._tx() as cur:
            current, lineage = self._lock_head(cur)
            cur.execute("SELECT body FROM grid_state WHERE cluster = %s AND serial = %s",
                        (self.cluster, serial))
            row = cur.fetchone()
            if row is None:
                cur.execute("SELECT serial FROM grid_state WHERE cluster = %s AND serial < %s "
                            "ORDER BY serial DESC", (self.cluster, current))
                have = ", ".join(str(r[0]) for r in cur.fetchall()) or "none"
                raise BackupNotFound(f"there is no backup with serial {serial} (available: {have})",
                                     "`grid state restore SPEC` lists backups")
            try:
                backup = codec.decode(bytes(row[0]), self._name(serial))
            except StateCorrupted as exc:
                hint = "pick another serial from `grid state restore SPEC`"
                raise StateCorrupted(exc.message, hint) from None
            cur.execute("SELECT coalesce(max(serial), 0) FROM grid_state WHERE cluster = %s", (self.cluster,))
            top = cur.fetchone()
            new_serial = max(current, int(top[0]) if top else 0) + 1
            state = backup.state
            if command:
                state = append_history(state, history_entry(new_serial, command))
            body, digest = codec.encode_state(state)
            lineage = backup.lineage or lineage or new_lineage()
            checksum = codec.envelope_checksum(digest, serial=new_serial, lineage=lineage)
            raw = b"".join(codec.envelope_chunks(body, digest, serial=new_serial, lineage=lineage))
            self._insert(cur, new_serial, lineage, checksum, raw)
        envelope = Envelope(serial=new_serial, lineage=lineage, checksum=checksum, state=state)
        return Restored(envelope, serial, None)

    def import_envelope(self, raw: bytes) -> bool:
        """Store a verified envelope as it is (serial, lineage, checksum kept): `grid state migrate`.

        Accepted into an empty location, or over an older version of the same lineage (kept as a backup).
        True when this very version was already here.
        """
        envelope = codec.decode(raw, "the migrated state")
        with self._tx() as cur:
            serial, lineage = self._lock_head(cur)
            if serial:
                cur.execute("SELECT checksum FROM grid_state WHERE cluster = %s AND serial = %s",
                            (self.cluster, serial))
                row = cur.fetchone()
                refuse_import(self.describe(), serial, lineage, row[0] if row else "", envelope)
                if serial == envelope.serial:
                    return True  # the very same version is already here
            self._insert(cur, envelope.serial, envelope.lineage, envelope.checksum, raw)
        return False

    # -- internals -------------------------------------------------------------------------------

    def _name(self, serial: int) -> str:
        return f"the state of {self.describe()} (serial {serial})"

    def _current(self) -> tuple[int, bytes] | None:
        with self._tx() as cur:
            cur.execute("SELECT s.serial, s.body FROM grid_state_head h JOIN grid_state s ON "
                        "s.cluster = h.cluster AND s.serial = h.serial WHERE h.cluster = %s", (self.cluster,))
            row = cur.fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def _lock_head(self, cur: psycopg.Cursor[Any]) -> tuple[int, str]:
        """Current (serial, lineage), the head row locked until the transaction ends; (0, '') when new."""
        cur.execute("INSERT INTO grid_state_head (cluster) VALUES (%s) ON CONFLICT (cluster) DO NOTHING",
                    (self.cluster,))
        cur.execute("SELECT serial, lineage FROM grid_state_head WHERE cluster = %s FOR UPDATE",
                    (self.cluster,))
        row = cur.fetchone()
        return (int(row[0]), str(row[1])) if row else (0, "")

    def _insert(self, cur: psycopg.Cursor[Any], serial: int, lineage: str, checksum: str, raw: bytes) -> None:
        who = f"{osu.current_user()}@{osu.this_host()}"
        cur.execute("INSERT INTO grid_state (cluster, serial, lineage, checksum, body, written_by) "
                    "VALUES (%s, %s, %s, %s, %s, %s)", (self.cluster, serial, lineage, checksum, raw, who))
        cur.execute("UPDATE grid_state_head SET serial = %s, lineage = %s WHERE cluster = %s",
                    (serial, lineage, self.cluster))
        # The `keep` most recently written besides the current one (by time, as the file store prunes).
        cur.execute("DELETE FROM grid_state WHERE cluster = %s AND serial <> %s AND serial NOT IN (SELECT "
                    "serial FROM grid_state WHERE cluster = %s AND serial <> %s "
                    "ORDER BY written_at DESC, serial DESC LIMIT %s)",
                    (self.cluster, serial, self.cluster, serial, self.keep))

    # -- Pulumi ----------------------------------------------------------------------------------

    def pulumi_backend(self) -> PulumiBackend:
        """The same database for Pulumi; its password, if the URL has one, in PGPASSWORD for Pulumi's
        processes (where its driver looks): never in Pulumi.yaml or on a command line."""
        secret = password_of(self.url)
        return PulumiBackend(self.pulumi_backend_url(), {"PGPASSWORD": secret} if secret else {})

    def pulumi_backend_url(self) -> str:
        """Pulumi's DIY postgres backend URL for the same database, without the password.

        Pulumi's driver (lib/pq) defaults to sslmode=require where libpq prefers; grid passes libpq's default
        unless the URL says otherwise, so both connect the same way.
        """
        parts = urlsplit(self.url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("password", "table")]
        if not any(k == "sslmode" for k, _ in query):
            query.append(("sslmode", "prefer"))
        query.append(("table", PULUMI_TABLE))
        netloc = parts.netloc.rpartition("@")
        userinfo = netloc[0].split(":", 1)[0]
        host = f"{userinfo}@{netloc[2]}" if userinfo else netloc[2]
        return urlunsplit(("postgres", host, parts.path, urlencode(query), ""))
