"""Who holds a state lock, as every backend records it, and whether that holder can be seen to be gone."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Literal

from grid.state import _osutil as osu

Status = Literal["live", "stale", "expired"]
"""live: may still be working; stale: its process on this host is gone; expired: its lease ran out."""


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


def gone_from_this_host(holder: LockHolder) -> bool | None:
    """True when the holder ran on this host and its process is gone (or its pid now names another
    process), False when it is still running here; None when it ran elsewhere, where only a lease can tell."""
    if holder.host != osu.this_host() or holder.pid <= 0:
        return None
    if not osu.pid_alive(holder.pid):
        return True
    started = osu.process_start(holder.pid)
    return holder.pid_start is not None and started is not None and started != holder.pid_start
