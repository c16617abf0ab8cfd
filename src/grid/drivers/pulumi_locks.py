"""Locks a killed `pulumi` leaves in a DIY backend, and which of them are safe to remove.

A lock names its holder ({pid, hostname, ...}). It is stale when that holder ran on this host and is
no longer a running `pulumi` (or the lock is torn: no live pulumi writes one that slowly). Locks of
other hosts, or of a live pulumi here, are left alone. Callers hold grid's state lock, so no other
grid is updating the stack.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def clear_stale_locks(backend_url: str, project: str, region: str) -> list[Path]:
    """Remove the stale locks of stack `region`; returns their keys (as paths)."""
    if backend_url.startswith(("postgres://", "postgresql://")):
        return _clear_pg(backend_url, project, region)
    if not backend_url.startswith("file://"):
        return []
    # Layout: <backend>/.pulumi/locks/<org>/<project>/<stack>/<id>.json
    locks = Path(backend_url[len("file://"):]) / ".pulumi" / "locks"
    removed: list[Path] = []
    for path in locks.glob(f"*/{project}/{region}/*.json"):
        if stale_lock(path):
            for leftover in (path, path.with_name(path.name + ".attrs")):
                leftover.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _clear_pg(backend_url: str, project: str, region: str) -> list[Path]:
    """The same in PostgreSQL: rows keyed `.pulumi/locks/…/<stack>/<id>.json` (password from PGPASSWORD,
    as Pulumi's own driver takes it)."""
    import psycopg
    from psycopg import sql
    from psycopg.types.json import Json

    parts = urlsplit(backend_url)
    query = parse_qsl(parts.query)
    table = sql.Identifier(dict(query).get("table", "pulumi_state"))
    url = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "table"])))
    removed: list[Path] = []
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute(sql.SQL("SELECT key, data FROM {} WHERE key LIKE %s").format(table),
                            (f".pulumi/locks/%/{project}/{region}/%.json",)).fetchall()
        for key, data in rows:
            if stale_lock_content(data.obj if isinstance(data, Json) else data):
                conn.execute(sql.SQL("DELETE FROM {} WHERE key = %s").format(table), (key,))
                removed.append(Path(key))
    return removed


def stale_lock(path: Path) -> bool:
    """A lock file whose holder ran on this host and is no longer a running pulumi process."""
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True  # torn by a kill between create and write
    return stale_lock_content(content)


def stale_lock_content(content: object) -> bool:
    """The lock's holder ({pid, hostname, ...}) ran on this host and is no longer a running pulumi."""
    if not isinstance(content, dict):
        return True  # not a lock any pulumi wrote whole
    try:
        pid, host = int(content["pid"]), str(content["hostname"])
    except (ValueError, KeyError, TypeError):
        return True
    if host != socket.gethostname():
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return True  # no such process
    return Path(command.decode(errors="replace")).name != "pulumi"  # the pid was reused
