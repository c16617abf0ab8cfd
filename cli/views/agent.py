"""`grid agent`: its structured log lines (one JSON object per line on stderr) and `grid agent status` as text."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from grid.agent.heartbeat import AgentRecord
from grid.agent.loop import AgentEvent


class LogWriter:
    """Writes each event of the loop as one line: JSON (ts, level, agent, region, event, message, commit, fields)
    or, with log_format text, `ts level event: message`."""

    def __init__(self, agent: str, *, fmt: str = "json", stream: TextIO | None = None) -> None:
        self._agent = agent
        self._fmt = fmt
        self._stream = stream

    def __call__(self, event: AgentEvent) -> None:
        stream = self._stream or sys.stderr
        ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if self._fmt == "text":
            where = f" [{event.region}]" if event.region else ""
            line = f"{ts} {event.level:<7} {event.event}{where}: {event.message}"
        else:
            body: dict[str, Any] = {"ts": ts, "level": event.level, "agent": self._agent, "region": event.region,
                                    "event": event.event, "message": event.message, "commit": event.commit}
            body.update({k: v for k, v in event.fields.items() if k not in body})
            line = json.dumps(body, default=str, ensure_ascii=False)
        try:
            stream.write(line + "\n")
            stream.flush()
        except (OSError, ValueError):  # stderr closed: the metrics and heartbeats still say it
            pass


def age_of(at: str, now: datetime | None = None) -> float | None:
    try:
        then = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return ((now or datetime.now(UTC)) - then).total_seconds()


def _age_text(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def status_document(cluster: str, records: list[AgentRecord]) -> dict[str, Any]:
    return {"format": "grid-agents/v1", "cluster": cluster,
            "agents": [record.to_json() | {"role": record.role, "age_seconds": age_of(record.at)}
                       for record in records]}


def status_lines(cluster: str, records: list[AgentRecord]) -> Iterator[tuple[str, str]]:
    if not records:
        yield f"Cluster {cluster}: no agent has reported yet", "dim"
        return
    yield f"Cluster {cluster}: {len(records)} agent(s)", "bold"
    for r in records:
        regions = ", ".join(r.regions) or "whole cluster"
        role = f"active ({', '.join(r.active_regions)})" if r.active_regions else "passive"
        style = "green" if r.result in ("applied", "no-changes", "no-drift", "drift-repaired") else (
            "red" if r.result in ("failed", "spec-invalid", "commit-refused", "refused") else "yellow")
        yield (f"  {r.agent}  regions {regions}  {role}  commit {r.commit[:12] or '-'}  {r.result or '-'}  "
               f"{_age_text(age_of(r.at))} ago  ({r.host} pid {r.pid})", style)
        if r.message:
            yield f"      {r.message}", "dim"
