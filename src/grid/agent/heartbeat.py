"""Every agent's last heartbeat, kept beside the cluster's state: what `grid agent status` shows.

A small record per agent — its name, regions, the regions it is active for, the commit applied, the last
result, when — in `<state dir>/agents/<name>.json` (written atomically) or a `grid_agent` row in PostgreSQL
(created with the other tables, grid.state.postgres). No secrets: the agent writes what it did, never how
it connects.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grid.state import _osutil as osu
from grid.state.errors import StateError, storage_errors
from grid.state.pglock import connection
from grid.state.postgres import PostgresStateStore, is_postgres

if TYPE_CHECKING:
    import psycopg

AGENTS_DIR = "agents"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class AgentRecord:
    """One agent's heartbeat."""

    agent: str
    regions: tuple[str, ...]
    active_regions: tuple[str, ...] = ()  # the regions it holds the lease of; the others it stands by for
    commit: str = ""  # the commit whose spec it last applied (or checked, by policy)
    result: str = ""  # the last reconcile's result, e.g. "applied", "no-change", "drift", "spec-invalid"
    message: str = ""  # one line on that result (a diagnostic's first line when the spec was refused)
    source: str = ""  # the spec it follows (repo#branch:path, no credentials): agents of one cluster share one
    at: str = ""  # ISO-8601 UTC of the heartbeat; filled in when empty
    host: str = field(default_factory=osu.this_host)
    pid: int = field(default_factory=os.getpid)

    @property
    def role(self) -> str:
        return "active" if self.active_regions else "passive"

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["regions"] = list(self.regions)
        body["active_regions"] = list(self.active_regions)
        return body

    @classmethod
    def from_json(cls, data: Any) -> AgentRecord:
        return cls(agent=str(data["agent"]), regions=tuple(str(r) for r in data.get("regions", ())),
                   active_regions=tuple(str(r) for r in data.get("active_regions", ())),
                   commit=str(data.get("commit", "")), result=str(data.get("result", "")),
                   message=str(data.get("message", "")), source=str(data.get("source", "")),
                   at=str(data.get("at", "")),
                   host=str(data.get("host", "")), pid=int(data.get("pid", 0)))


def check_name(kind: str, value: str) -> str:
    """A region or agent name that can name a file and a lock key."""
    if not _NAME.match(value):
        raise StateError(f"{kind} name {value!r} cannot name an agent's lease or heartbeat",
                         "use letters, digits, '.', '_' and '-' (a DNS label, as in the spec)")
    return value


def _database(url: str, cluster: str) -> contextlib.AbstractContextManager[psycopg.Connection[Any]]:
    """A connection to the state database (its tables made on first use); errors as StateError, password masked."""
    return connection(PostgresStateStore(url, cluster))


def state_directory(store_location: str | None, workdir: Path) -> Path:
    """The directory a file state lives in (the work directory, or file://DIR)."""
    if store_location and store_location.startswith("file://"):
        return Path(store_location[len("file://"):])
    return workdir


def heartbeat(store_location: str | None, workdir: Path, cluster: str, record: AgentRecord) -> None:
    """Record `record` as the agent's latest heartbeat (replacing its previous one)."""
    check_name("agent", record.agent)
    if not record.at:
        record = replace(record, at=osu.iso(osu.utc_now()))
    body = json.dumps(record.to_json(), sort_keys=True)
    if is_postgres(store_location):
        assert store_location is not None
        with _database(store_location, cluster) as conn:
            conn.execute("INSERT INTO grid_agent (cluster, name, body, at) VALUES (%s, %s, %s::jsonb, "
                         "clock_timestamp()) ON CONFLICT (cluster, name) DO UPDATE SET body = EXCLUDED.body, "
                         "at = EXCLUDED.at", (cluster, record.agent, body))
        return
    directory = state_directory(store_location, workdir) / AGENTS_DIR
    with storage_errors(directory, "record the agent's heartbeat"):
        directory.mkdir(mode=osu.DIR_MODE, parents=True, exist_ok=True)
        temp = osu.write_temp(directory, ((body + "\n").encode(),), prefix=f".{record.agent}.")
        try:
            os.replace(temp, directory / f"{record.agent}.json")
        except BaseException:
            temp.unlink(missing_ok=True)
            raise


def agents(store_location: str | None, workdir: Path, cluster: str) -> list[AgentRecord]:
    """Every agent's last heartbeat for the cluster, by name; unreadable records are skipped."""
    raw: list[Any] = []
    if is_postgres(store_location):
        assert store_location is not None
        with _database(store_location, cluster) as conn:
            rows = conn.execute("SELECT body FROM grid_agent WHERE cluster = %s ORDER BY name", (cluster,))
            raw = [row[0] for row in rows.fetchall()]
    else:
        directory = state_directory(store_location, workdir) / AGENTS_DIR
        with storage_errors(directory, "read the agents' heartbeats"):
            for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
                try:
                    raw.append(json.loads(path.read_text()))
                except (OSError, ValueError):
                    continue  # being replaced right now, or damaged: the next heartbeat rewrites it
    found = []
    for data in raw:
        try:
            found.append(AgentRecord.from_json(data))
        except (KeyError, TypeError, ValueError):
            continue
    return sorted(found, key=lambda r: r.agent)


__all__ = ["AGENTS_DIR", "AgentRecord", "agents", "check_name", "heartbeat", "state_directory"]
