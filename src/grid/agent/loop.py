"""The reconcile loop: every interval (± jitter) fetch the spec, validate it, and — when this agent is the active
one of its regions — act on it by policy; check drift on its own schedule; heartbeat; back off on errors.

Nothing escapes a tick: a failure (git down, the database restarting, a node unreachable) becomes a log event
and a shorter, growing wait (capped at the interval); the next tick resumes. A commit that does not validate or
verify is reported and ignored: the last good commit stays in force. `stop` ends the loop at its next safe
point (between steps); the leases are released on the way out.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from grid.agent.config import AgentConfig
from grid.agent.heartbeat import AgentRecord
from grid.agent.policy import Actor, StepResult
from grid.agent.source import Fetched, FetchFailed, Refused
from grid.diagnostics import Diagnostics
from grid.errors import GridError
from grid.workspace import Rejected, Workspace


@dataclass(frozen=True)
class AgentEvent:
    """One structured log line (the CLI writes it as JSON on stderr)."""

    level: str  # debug | info | warning | error
    event: str
    message: str
    region: str = ""
    commit: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)


class Source(Protocol):
    def fetch(self) -> Fetched | FetchFailed | Refused: ...

    def last_good(self) -> Fetched | None: ...

    def mark_good(self, fetched: Fetched) -> None: ...


class Lease(Protocol):
    def try_acquire(self) -> bool: ...

    def fence(self) -> None: ...

    def release(self) -> None: ...


class Metrics(Protocol):
    def reconcile(self, region: str, result: str, seconds: float) -> None: ...

    def drift(self, region: str, found: int, repaired: int) -> None: ...

    def apply_seconds(self, region: str, seconds: float) -> None: ...

    def nodes(self, region: str, counts: dict[str, int]) -> None: ...

    def quarantined(self, region: str, n: int) -> None: ...

    def active(self, region: str, active: bool) -> None: ...

    def commit(self, region: str, sha: str) -> None: ...

    def spec_invalid(self, region: str, invalid: bool) -> None: ...


class Registry(Protocol):
    """Where agents leave their heartbeats (grid.agent.heartbeat, in the state backend)."""

    def heartbeat(self, ws: Workspace, record: AgentRecord) -> None: ...

    def agents(self, ws: Workspace) -> list[AgentRecord]: ...


@dataclass
class Seams:
    """What the loop works through; the defaults are the real ones (grid.agent.wiring)."""

    source: Source
    actor: Actor
    open_spec: Callable[[Path], Workspace | Rejected]
    lease_for: Callable[[Workspace, str], Lease]
    registry: Registry
    metrics: Metrics | None = None
    log: Callable[[AgentEvent], None] = lambda _event: None
    clock: Callable[[], float] = time.monotonic


@dataclass
class _Current:
    fetched: Fetched
    ws: Workspace


class Agent:
    def __init__(self, config: AgentConfig, seams: Seams, *, stop: threading.Event | None = None,
                 rng: random.Random | None = None) -> None:
        self.config = config
        self._s = seams
        self.stop = stop or threading.Event()
        self._rng = rng or random.Random()
        self._current: _Current | None = None
        self._leases: dict[str, Lease] = {}
        self._active: tuple[str, ...] = ()
        self._role_told = False  # the first tick says which role this agent has, active or standby
        self._applied = ""  # the commit whose reconcile finished (done)
        self._reported: set[str] = set()  # commits whose refusal was already logged
        self._next_drift = 0.0
        self.failures = 0  # consecutive ticks that failed
        self.result, self.message = "starting", ""
        self.last_tick = seams.clock()

    # -- running ----------------------------------------------------------------------------------------

    def run(self) -> None:
        self._log("info", "started", f"following {self.config.source_id} (policy {self.config.policy})",
                  regions=list(self.config.regions), listen=self.config.listen)
        try:
            while not self.stop.is_set():
                self.stop.wait(self.tick())
        finally:
            self.close()

    def close(self) -> None:
        for lease in self._leases.values():
            lease.release()
        self._leases.clear()
        self._active = ()
        self._log("info", "stopped", "leases released; stopped")

    def tick(self) -> float:
        """One round; the seconds to wait before the next."""
        try:
            ok = self._tick()
        except Exception as exc:  # noqa: BLE001 - never a traceback out of the loop: say why, back off, resume
            ok = False
            self.result, self.message = "failed", _reason(exc)
            self._log("error", "tick-failed", self.message, error=type(exc).__name__)
        self.failures = 0 if ok else self.failures + 1
        self.last_tick = self._s.clock()
        return self._wait(ok)

    def health(self) -> tuple[bool, str]:
        stale = self._s.clock() - self.last_tick
        active = ",".join(self._active) or "none"
        commit = self._current.fetched.sha[:12] if self._current else "none"
        line = f"{self.result}: {self.message}" if self.message else self.result
        text = f"commit {commit}, active for {active}, last result {line}"
        if self.failures >= 3:
            return False, f"failing ({self.failures} ticks in a row): {text}"
        if stale > 3 * self.config.interval + 3600:  # a step runs longer than any apply should
            return False, f"no tick for {stale:.0f}s: {text}"
        return True, text

    # -- one tick ---------------------------------------------------------------------------------------

    def _tick(self) -> bool:
        ok = self._take(self._s.source.fetch())
        if self._current is None and (good := self._s.source.last_good()) is not None:
            self._take(good, remembered=True)  # a restart while the remote is unreachable
        if self._current is None or self.stop.is_set():
            return ok
        ws = self._current.ws
        self._active = self._acquire(ws)
        step: StepResult | None = None
        drift_due = 0 < self._next_drift <= self._s.clock()
        if not self._active:
            self._standby(ws)
        elif (refusal := self._other_source(ws)) is not None:
            if (self.result, self.message) != ("refused", refusal):  # said when it starts, not every tick
                self._log("error", "refused", refusal)
            self.result, self.message = "refused", refusal
        elif self._applied != self._current.fetched.sha and not (self.result == "waiting-approval" and drift_due):
            step = self._s.actor.reconcile(ws, self._current.fetched.tree, self._fence)
            self._after(step, "reconcile")
            if step.done:
                self._applied = self._current.fetched.sha
        elif drift_due:  # while a plan waits for approval, drift is still checked on its schedule
            step = self._s.actor.drift(ws, self._fence)
            self._after(step, "drift")
            if step.done:
                self._next_drift = self._s.clock() + self.config.drift_interval
        if step is not None and not self._next_drift and (step.done or step.result == "waiting-approval"):
            self._next_drift = self._s.clock() + self.config.drift_interval  # the schedule starts once converged
        self._beat(ws)
        return ok and (step is None or step.done or step.result == "waiting-approval")

    def _take(self, fetched: Fetched | FetchFailed | Refused, *, remembered: bool = False) -> bool:
        """Make a fetched commit current when it verifies and validates; False when the fetch failed."""
        if isinstance(fetched, FetchFailed):
            keeping = f"; keeping commit {self._current.fetched.sha[:12]}" if self._current else ""
            self.result, self.message = "fetch-failed", fetched.reason + keeping
            self._log("warning", "fetch-failed", f"cannot fetch {self.config.source_id}: {fetched.reason}{keeping}")
            return False
        if isinstance(fetched, Refused):
            if fetched.sha not in self._reported:
                self._reported.add(fetched.sha)
                self._log("error", "commit-refused", fetched.reason + self._keeping(), commit=fetched.sha)
            self.result, self.message = "commit-refused", fetched.reason
            return True
        if self._current is not None and self._current.fetched.sha == fetched.sha:
            return True
        if fetched.sha in self._reported:
            return True  # refused before: said once, the last good commit stays
        opened = self._open(fetched)
        if isinstance(opened, str):
            self._reported.add(fetched.sha)
            self.result, self.message = "spec-invalid", opened.splitlines()[0]
            self._log("error", "spec-invalid", opened + self._keeping(), commit=fetched.sha)
            self._spec_invalid(True)
            return True
        self._current = _Current(fetched, opened)
        self._spec_invalid(False)
        self._s.source.mark_good(fetched)
        self._log("info", "commit", ("resumed from the last good commit" if remembered else "new commit")
                  + f" {fetched.sha[:12]}", commit=fetched.sha)
        return True

    def _open(self, fetched: Fetched) -> Workspace | str:
        spec = fetched.file(self.config.path)
        if not spec.is_file():
            return f"{self.config.path} is not in commit {fetched.sha[:12]} of {self.config.repo}"
        opened = self._s.open_spec(spec)
        if isinstance(opened, Rejected):
            return _diagnostics_text(self.config.path, opened.diagnostics)
        known = {r.name for r in opened.cluster.spec.regions}
        if unknown := [r for r in self.config.regions if r not in known]:
            return (f"{self.config.path}: region(s) {', '.join(unknown)} of this agent are not in the spec "
                    f"(it has {', '.join(sorted(known)) or 'none'})")
        return opened

    def _acquire(self, ws: Workspace) -> tuple[str, ...]:
        """The regions this agent is active for: all of its regions, or none (half a cluster is not acted on)."""
        regions = self._regions(ws)
        for gone in set(self._leases) - set(regions):
            self._leases.pop(gone).release()
        held = []
        for region in regions:
            if region not in self._leases:
                self._leases[region] = self._s.lease_for(ws, region)
            if self._leases[region].try_acquire():
                held.append(region)
        if held and len(held) < len(regions):  # let an agent that holds the rest have them all
            for region in held:
                self._leases[region].release()
            held = []
        for region in regions:
            self._metric("active", region, region in held)
        if tuple(held) != self._active or not self._role_told:
            self._role_told = True
            self._log("info", "active" if held else "standby",
                      f"active for {', '.join(held)}" if held else "standing by: another agent holds the lease")
        return tuple(held)

    def _fence(self) -> None:
        for region in self._active:
            self._leases[region].fence()

    def _standby(self, ws: Workspace) -> None:
        if self.result in ("starting", "failed", "fetch-failed"):
            self.result, self.message = "standby", "another agent is active"

    def _other_source(self, ws: Workspace) -> str | None:
        """Why this agent must not act: a live agent of the cluster follows another repo#branch:path."""
        horizon = max(3 * self.config.interval, 2 * self.config.lease_seconds)
        for record in self._s.registry.agents(ws):
            other = record.source
            if record.agent == self.config.name or not other or other == self.config.source_id:
                continue
            if _age(record.at) <= horizon:
                return (f"refused: agent {record.agent} follows another spec source ({other}); this agent "
                        f"follows {self.config.source_id}. Run every agent of cluster {ws.cluster.name} on one "
                        "repo, branch and path")
        return None

    def _after(self, step: StepResult, kind: str) -> None:
        self.result, self.message = step.result, step.message
        level = "info" if step.done or step.result == "waiting-approval" else "error"
        self._log(level, kind, step.message, result=step.result, seconds=step.seconds, **step.fields)
        ws = self._current.ws if self._current else None
        for region in self._active:
            self._metric("reconcile", region, step.result, step.seconds)
            if kind == "drift":
                self._metric("drift", region, step.drift_found, step.drift_repaired)
            if step.applied:
                self._metric("apply_seconds", region, step.seconds)
        if ws is not None and self._s.metrics is not None:
            self._node_metrics(ws)

    def _node_metrics(self, ws: Workspace) -> None:
        _, state = ws.read_state()
        for region in self._active:
            counts: dict[str, int] = {}
            for address, host in state.hosts.items():
                if address.split("/", 1)[0] == region:
                    counts[host.status] = counts.get(host.status, 0) + 1
            self._metric("nodes", region, counts)
            self._metric("quarantined", region, sum(1 for a in state.quarantined if a.split("/", 1)[0] == region))

    def _beat(self, ws: Workspace) -> None:
        assert self._current is not None
        record = AgentRecord(agent=self.config.name, regions=self._regions(ws), active_regions=self._active,
                             commit=self._applied or self._current.fetched.sha, result=self.result,
                             message=self.message[:300], source=self.config.source_id)
        for region in self._regions(ws):
            self._metric("commit", region, self._applied or self._current.fetched.sha)
        try:
            self._s.registry.heartbeat(ws, record)
        except (GridError, OSError) as exc:
            self._log("warning", "heartbeat-failed", _reason(exc))

    # -- helpers ----------------------------------------------------------------------------------------

    def _regions(self, ws: Workspace) -> tuple[str, ...]:
        return self.config.regions or tuple(r.name for r in ws.cluster.spec.regions)

    def _wait(self, ok: bool) -> float:
        interval = self.config.interval
        # after failures, back off: quickly at first, then every interval
        wait = interval if ok else min(interval, max(1.0, interval / 8) * 2 ** (self.failures - 1))
        wait *= 1 + self.config.jitter * self._rng.uniform(-1, 1)
        if self._active and self._next_drift:
            wait = min(wait, max(0.0, self._next_drift - self._s.clock()))
        return max(0.05, wait)

    def _keeping(self) -> str:
        if self._current is None:
            return "; nothing applied (no good commit yet)"
        return f"; nothing applied, commit {self._current.fetched.sha[:12]} stays in force"

    def _spec_invalid(self, invalid: bool) -> None:
        regions = self.config.regions or (self._regions(self._current.ws) if self._current else ())
        for region in regions:
            self._metric("spec_invalid", region, invalid)

    def _metric(self, name: str, *args: Any) -> None:
        if self._s.metrics is not None:
            getattr(self._s.metrics, name)(*args)

    def _log(self, level: str, event: str, message: str, *, commit: str | None = None, **fields: Any) -> None:
        sha = commit if commit is not None else (self._current.fetched.sha if self._current else "")
        self._s.log(AgentEvent(level, event, message, ",".join(self._active or self.config.regions), sha,
                               fields))


def _diagnostics_text(path: str, diagnostics: Diagnostics) -> str:
    lines = [f"{path} is not a valid spec ({len(diagnostics.errors)} error(s)):"]
    for d in diagnostics.errors:
        where = f"{d.source.line}:{d.source.col}: " if d.source else ""
        lines.append(f"  {where}{d.summary}" + (f" (hint: {d.hint})" if d.hint else ""))
    return "\n".join(lines)


def _age(at: str) -> float:
    try:
        then = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return float("inf")
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return (datetime.now(UTC) - then).total_seconds()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, GridError):
        return exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def regions_text(regions: Sequence[str]) -> str:
    return ", ".join(regions) or "the whole cluster"
