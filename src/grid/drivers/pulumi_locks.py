"""What a killed or failed `pulumi` leaves in a DIY backend's lock directory, and which of it is safe to remove.

Pulumi refuses to update a stack while anything but its own lock is listed under
`.pulumi/locks/<org>/<project>/<stack>/`, and reads each entry as a JSON lock {pid, hostname, ...}.
What it can leave there:
  - `<id>.json`, the lock of a run that was killed: stale when its holder ran on this host and is no
    longer a running `pulumi` (at once), or ran on another host and is older than grid's lease (whose
    processes nobody here can see: grid's own lock of that run has expired, or we could not hold ours);
  - `<id>.json.<hex>.tmp`, the file backend's half-written lock (ENOSPC, a kill): Pulumi lists it and
    fails every later run with "unexpected end of JSON input". Stale unless a process here has it open;
  - `<id>.json.attrs` sidecars, and temp files in the stack's history and backups directories (never
    read back, but partial copies of checkpoints: disk space a full disk needs back).
In PostgreSQL the same locks are rows keyed `[<database>/].pulumi/locks/…/<id>.json` whose data is
{"data": "<base64 of the lock JSON>"}, written whole in one statement, so only the first case exists;
"older than the lease" is judged by the database clock.

Callers hold grid's state lock, so no other grid is updating the stack.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from grid.state.lock import DEFAULT_LEASE_SECONDS

_FILEBLOB_TEMP = re.compile(r".+\.[0-9a-f]+\.tmp")  # gocloud fileblob: <name>.<unix nanos in hex>.tmp


def clear_stale_locks(backend_url: str, project: str, region: str, *, lease_seconds: float | None = None,
                      env: Mapping[str, str] | None = None) -> list[Path]:
    """Remove the stale locks and leftovers of stack `region`; returns what was removed (keys as paths).
    `env`: the backend's environment for Pulumi (grid.state.PulumiBackend.env), e.g. its PGPASSWORD."""
    if backend_url.startswith(("postgres://", "postgresql://")):
        from grid.state.postgres import DEFAULT_PG_LEASE_SECONDS  # its store is not loaded for a file backend

        return _clear_pg(backend_url, project, region, lease_seconds or DEFAULT_PG_LEASE_SECONDS,
                         password=(env or {}).get("PGPASSWORD"))
    if not backend_url.startswith("file://"):
        return []
    root = Path(backend_url[len("file://"):]) / ".pulumi"
    lease = lease_seconds or DEFAULT_LEASE_SECONDS
    removed: list[Path] = []
    for lock_dir in root.glob(f"locks/*/{project}/{region}"):
        entries = sorted(lock_dir.iterdir())
        in_use = _open_here([p for p in entries if _FILEBLOB_TEMP.fullmatch(p.name)])
        for path in entries:
            if path.name.endswith(".attrs"):
                if not path.with_name(path.name[:-len(".attrs")]).exists():
                    removed += _unlink(path)  # the sidecar of a lock already gone (or never renamed into place)
            elif _FILEBLOB_TEMP.fullmatch(path.name):
                if path not in in_use:
                    removed += _unlink(path)
            elif path.name.endswith(".json") and stale_lock(path, lease_seconds=lease):
                removed += _unlink(path, path.with_name(path.name + ".attrs"))
    for directory in (root / "history" / project / region, root / "backups" / project / region):
        temps = [p for p in _entries(directory) if _FILEBLOB_TEMP.fullmatch(p.name)]
        in_use = _open_here(temps)
        for temp in temps:
            if temp not in in_use:
                removed += _unlink(temp)
    return removed


def _clear_pg(backend_url: str, project: str, region: str, lease_seconds: float, *,
              password: str | None) -> list[Path]:
    """The same in PostgreSQL (the password given, else PGPASSWORD or ~/.pgpass, as Pulumi's driver takes it)."""
    import psycopg
    from psycopg import sql

    conninfo, table_name, base = pg_blob(backend_url, password)
    table = sql.Identifier(table_name)
    prefix = base + "locks/"
    ours = re.compile(re.escape(prefix) + r"[^/]+/" + re.escape(f"{project}/{region}/") + r"[^/]+\.json")
    removed: list[Path] = []
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute(
            sql.SQL("SELECT key, data::text, updated_at < clock_timestamp() - make_interval(secs => %s) "
                    "FROM {} WHERE key LIKE %s").format(table),
            (lease_seconds, _like_prefix(prefix) + "%")).fetchall()
        for key, data, older_than_lease in rows:
            if ours.fullmatch(key) and stale_lock_content(_pg_lock_content(data), older_than_lease=older_than_lease):
                conn.execute(sql.SQL("DELETE FROM {} WHERE key = %s").format(table), (key,))
                removed.append(Path(key))
    return removed


def pg_blob(backend_url: str, password: str | None) -> tuple[str, str, str]:
    """(connection string, table, key prefix) of Pulumi's postgres blob driver at `backend_url`: the URL without
    grid's `table` parameter (with `password` when given), the table (`pulumi_state` unless named), and
    `<database>/.pulumi/` — Pulumi opens the database as a bucket prefixed with the URL's path (the database
    name), so its keys are `<database>/.pulumi/locks/…`, not `.pulumi/locks/…`."""
    from psycopg.conninfo import make_conninfo

    parts = urlsplit(backend_url)
    query = parse_qsl(parts.query)
    url = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "table"])))
    database = parts.path.lstrip("/")
    base = f"{database}/.pulumi/" if database and not database.endswith("/") else f"{database}.pulumi/"
    return (make_conninfo(url, password=password) if password else url, dict(query).get("table", "pulumi_state"),
            base)


def _pg_lock_content(data: str) -> object:
    """The lock JSON inside a row of Pulumi's postgres blob driver ({"data": "<base64>"}); None if torn."""
    try:
        wrapped: Any = json.loads(data)
        return json.loads(base64.b64decode(wrapped["data"], validate=True))
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def stale_lock(path: Path, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> bool:
    """A lock file whose holder ran on this host and is no longer a running pulumi, or ran elsewhere
    longer ago than the lease."""
    try:
        raw = path.read_bytes()
        older_than_lease = time.time() - path.stat().st_mtime > lease_seconds
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        content = json.loads(raw)
    except ValueError:
        return True  # the file backend renames whole files into place: no live pulumi leaves this
    return stale_lock_content(content, older_than_lease=older_than_lease)


def stale_lock_content(content: object, *, older_than_lease: bool = False) -> bool:
    """The lock's holder ({pid, hostname, ...}) ran on this host and is no longer a running pulumi, or on
    another host and the lock is older than the lease."""
    if not isinstance(content, dict):
        return True  # not a lock any pulumi wrote whole
    try:
        pid, host = int(content["pid"]), str(content["hostname"])
    except (ValueError, KeyError, TypeError):
        return True
    if host != socket.gethostname():
        return older_than_lease
    return not _is_pulumi(pid)


def _is_pulumi(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False  # no such process
    return Path(command.decode(errors="replace")).name == "pulumi"  # else the pid was reused


def _open_here(paths: list[Path]) -> set[Path]:
    """Which of `paths` a running pulumi on this host has open: a write in flight, not a leftover."""
    if not paths:
        return set()
    wanted = {str(p.resolve()): p for p in paths}
    found: set[Path] = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if not _is_pulumi(int(pid)):
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target in wanted:
                found.add(wanted[target])
    return found


def _entries(directory: Path) -> list[Path]:
    try:
        return sorted(directory.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _unlink(path: Path, *also: Path) -> list[Path]:
    try:
        path.unlink()
    except FileNotFoundError:
        return []
    for extra in also:
        extra.unlink(missing_ok=True)
    return [path]
