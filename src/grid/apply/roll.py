"""Rolling replacement: the nodes a plan replaces in pools with an `update` policy go in waves (grid.plan.waves),
each drained in Slurm, replaced, gated by a health suite and resumed before the next starts.

Every step is recorded first (State.rolls: the wave and its phase), so a run killed anywhere is resumed by the
next `grid up` at the same wave: nodes not yet replaced are planned again (the wave's apply left the later
waves' nodes as they were, and state's spec digest too), and nodes replaced but not yet gated or resumed are
finished first. Until a wave is resumed its regions stay marked unfinished, so even a roll whose last wave was
replaced and then killed is seen by the next plan. A failing gate stops the roll: the later waves are untouched,
the wave's nodes stay drained and the record stays, so `grid up` gates them again. `update.window` keeps new
waves from starting outside it (a wave under way is finished). The pure half is grid.apply.roll_waves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from grid.apply import drain
from grid.apply.context import ApplyResult, now
from grid.apply.drain import SlurmControl
from grid.apply.events import Event, EventSink, Failure
from grid.apply.health_runner import run_suite
from grid.apply.roll_waves import Phase, Schedule, Wave, later_nodes, records_for, roll_key, wave_graph, wave_plan
from grid.apply.statewriter import StateWriter
from grid.errors import OperationFailed
from grid.health.suites import Suite
from grid.killpoints import kill_point
from grid.plan.model import Plan
from grid.plan.waves import pool_of
from grid.plan.window import next_opening
from grid.resources import ResourceGraph
from grid.spec.model import Cluster
from grid.state.model import ChangeRecord, HealthRun, HistoryEntry, State
from grid.workspace import Workspace

SERVING_TIMEOUT = 60
"""Seconds a resumed wave's nodes get to be in service in Slurm (responding, idle or running jobs)."""

ApplyWave = Callable[[Plan, ResourceGraph, bool], ApplyResult]
"""(the wave's plan, its graph, whether it is the last wave) → what its apply did (grid.apply.run)."""


@dataclass(frozen=True)
class GateResult:
    """A health gate's outcome: the run as history stores it and, per failing node, what failed."""

    run: HealthRun | None
    failing: dict[str, list[str]] = field(default_factory=dict)  # node address → result lines


HealthGate = Callable[[State, ResourceGraph, Sequence[str]], GateResult]
"""(state, graph, node addresses) → the quick suite's verdict on them."""


class RollSlurm:
    """Slurm seen from a roll: drains, requeues, waits and resumes a wave's nodes (none without a scheduler
    or before a controller exists)."""

    def __init__(self, cluster: Cluster, graph: ResourceGraph, connect: drain.SlurmConnect, workdir: Path,
                 *, clock: drain.Clock = drain.Clock()) -> None:
        self.cluster, self.graph, self.connect, self.workdir, self.clock = cluster, graph, connect, workdir, clock

    def _hostnames(self, state: State, nodes: Sequence[str]) -> list[str]:
        return [str(state.resources[a].attrs.get("hostname")) for a in nodes
                if a in state.resources and state.resources[a].attrs.get("hostname")]

    def drain(self, state: State, wave: Wave, schedule: Schedule, *, emit: EventSink,
              allow_job_impact: bool) -> None:
        controller = drain.controller_of(self.cluster, self.graph, state, ())
        if self.cluster.spec.scheduler is None or controller is None or not wave.all_nodes:
            return
        default = self.cluster.spec.scheduler.drain_timeout
        with self.connect(self.workdir, state, self.cluster) as controller_for:
            slurm = controller_for(controller.hostname, controller.ip)
            known = {n.name for n in slurm.nodes()}
            names = [h for h in self._hostnames(state, wave.all_nodes) if h in known]
            if not names:
                return
            slurm.drain(names, f"{drain.DRAIN_REASON_PREFIX} rolling replacement wave {wave.label}")
            emit(Event("drain", "started", message=f"drained {', '.join(names)} (wave {wave.label}): no new jobs "
                                                   "start there"))
            requeue: list[str] = []
            timeouts = [default]
            for address in wave.all_nodes:
                update = schedule.update_of(address)
                # The pool's own timeout, else the scheduler's; pools sharing a wave wait for the longest.
                timeouts.append(update.drain_timeout if update is not None and update.drain_timeout is not None
                                else default)
                if update is not None and update.drain == "requeue":
                    requeue += self._hostnames(state, [address])
            timeout = max(timeouts[1:] or timeouts)
            if requeue and hasattr(slurm, "requeue"):
                running = slurm.jobs_on(requeue)
                ids = sorted({str(j.id) for jobs in running.values() for j in jobs})
                if ids:
                    slurm.requeue(ids)
                    emit(Event("drain", "info", message=f"requeued job(s) {', '.join(ids)} (drain: requeue)"))
            left = _wait(slurm, names, timeout, emit, self.clock)
        if not left:
            emit(Event("drain", "done", message=f"no jobs left on {', '.join(names)}"))
            return
        summary = "; ".join(f"{host}: job(s) {', '.join(ids)}" for host, ids in left.items())
        if allow_job_impact:
            emit(Event("drain", "info", message=f"timed out after {timeout} s; going on ({drain.ALLOW_FLAG}): "
                                                f"these jobs end with their nodes: {summary}"))
            return
        raise OperationFailed(
            f"wave {wave.label} of the rolling replacement: jobs are still running after waiting {timeout} s "
            f"(update.drain_timeout): {summary}; nothing of this wave was replaced (its nodes stay drained)",
            hint=f"wait for the jobs to end and run `grid up` again (it resumes at wave {wave.label}), use "
                 f"`drain: requeue`, raise the timeout, or pass {drain.ALLOW_FLAG}")

    def resume(self, state: State, nodes: Sequence[str], emit: EventSink) -> None:
        controller = drain.controller_of(self.cluster, self.graph, state, ())
        if self.cluster.spec.scheduler is None or controller is None:
            return
        with self.connect(self.workdir, state, self.cluster) as controller_for:
            slurm = controller_for(controller.hostname, controller.ip)
            known = {n.name for n in slurm.nodes()}
            names = [h for h in self._hostnames(state, nodes) if h in known]
            if names:
                slurm.resume(names)
                self._serving(slurm, names, emit)

    def _serving(self, slurm: SlurmControl, names: list[str], emit: EventSink) -> None:
        """Wait until Slurm has `names` back in service (a new slurmd registers a moment after it starts): the
        next wave must not take nodes out while these are not serving yet."""
        deadline = self.clock.now() + SERVING_TIMEOUT
        while True:
            states = {n.name: n for n in slurm.nodes()}
            waiting = [h for h in names if h in states and not getattr(states[h], "usable", True)]
            if not waiting:
                emit(Event("drain", "done", message=f"resumed {', '.join(names)}: in service"))
                return
            if self.clock.now() >= deadline:
                emit(Event("drain", "info", message=f"resumed {', '.join(names)}; {', '.join(waiting)} not in "
                                                    f"service after {SERVING_TIMEOUT} s (`grid status` shows why)"))
                return
            self.clock.sleep(1.0)


def _wait(slurm: drain.SlurmControl, hostnames: list[str], timeout: int, emit: EventSink,
          clock: drain.Clock) -> dict[str, list[str]]:
    """Poll until no jobs run on `hostnames` or `timeout` s passed; job ids still running, by host."""
    deadline = clock.now() + timeout
    said = ""
    while True:
        found = slurm.jobs_on(hostnames)
        running = {h: [str(j.id) for j in found.get(h, ())] for h in hostnames if found.get(h)}
        remaining = deadline - clock.now()
        if not running or remaining <= 0:
            return running
        text = "; ".join(f"{len(ids)} job(s) on {host}" for host, ids in running.items())
        if text != said:
            emit(Event("drain", "info", message=f"waiting for {text} (drain, up to {timeout} s)"))
            said = text
        clock.sleep(min(drain.POLL_SECONDS, remaining))


def window_closed(schedule: Schedule, cluster: Cluster, at: datetime | None = None) -> str | None:
    """Why no new wave may start now (`window closed until …`), or None. A wave under way is not held back."""
    if schedule.resuming or not schedule.waves:
        return None
    moment = at or datetime.now(UTC)
    waiting = []
    for pool in {pool_of(a) for a in schedule.waves[0].nodes}:
        update = schedule.updates.get(pool)
        if update is None or update.window is None:
            continue
        opens = next_opening(update.window, moment)
        if opens is None or opens > moment:
            waiting.append(f"{'/'.join(pool)}: window closed until "
                           f"{opens.isoformat(timespec='minutes') if opens else 'never'}")
    return "; ".join(sorted(waiting)) or None


@dataclass
class Roller:
    """One run's roll over its waves (see the module doc)."""

    cluster: Cluster
    graph: ResourceGraph
    writer: StateWriter
    schedule: Schedule
    apply_wave: ApplyWave
    slurm: RollSlurm
    gate: HealthGate
    emit: EventSink
    allow_job_impact: bool = False
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _digest: str = ""  # of the spec the roll applies

    def run(self, plan: Plan) -> ApplyResult:
        self._digest = plan.spec_digest
        result = ApplyResult(self.writer.state, (), serial=self.writer.serial)
        waves = self.schedule.waves
        for index, wave in enumerate(waves):
            if index > 0 and (closed := window_closed(Schedule(self.schedule.roll, waves[index:],
                                                               self.schedule.updates), self.cluster,
                                                      self.clock())):
                self.emit(Event("roll", "info", message=f"{closed}; waves {wave.label} on start when it opens "
                                                        "(run `grid up` then)"))
                return result
            result = self._wave(plan, index, wave)
            if not result.ok:
                return result
        return result

    def _phase(self, wave: Wave, phase: Phase, started: str) -> None:
        records = records_for(wave, self._digest, started, phase)
        self.writer.update(lambda s: s.model_copy(update={"rolls": {**s.rolls, **records}}))

    def _wave(self, plan: Plan, index: int, wave: Wave) -> ApplyResult:
        started = now()
        self.emit(Event("roll", "started", message=wave.line()))
        self._phase(wave, "drain", started)
        self.slurm.drain(self.writer.state, wave, self.schedule, emit=self.emit,
                         allow_job_impact=self.allow_job_impact)
        kill_point("roll.wave.drained")
        self._phase(wave, "replace", started)
        later = later_nodes(self.schedule, index)
        last = index == len(self.schedule.waves) - 1
        part = wave_plan(plan, wave, later, first=index == 0, last=last,
                         applied_digest=self.writer.state.spec_digest)
        result = ApplyResult(self.writer.state, (), serial=self.writer.serial)
        if part.has_changes:
            result = self.apply_wave(part, wave_graph(self.graph, self.writer.state, later), last)
            if not result.ok:
                self.emit(Event("roll", "failed", message=f"wave {wave.label}: the apply failed; the later waves "
                                                          "are untouched"))
                return result
        regions = sorted({a.split("/", 1)[0] for a in wave.all_nodes})
        # Until the wave is resumed, the next plan must see this run as unfinished (grid.apply.engine).
        self.writer.update(lambda s: s.model_copy(update={"interrupted": sorted({*s.interrupted, *regions})}))
        kill_point("roll.wave.replaced")
        self.emit(Event("roll", "info", message=f"wave {wave.label}: replaced"))
        self._phase(wave, "gate", started)
        gated = [a for a in wave.all_nodes if (u := self.schedule.update_of(a)) is not None
                 and u.health_gate != "none"]
        verdict = self.gate(self.writer.state, self.graph, gated) if gated else GateResult(None)
        kill_point("roll.wave.gated")
        if verdict.failing:
            return self._stopped(wave, verdict, result)
        if gated:
            self.emit(Event("roll", "info", message=f"wave {wave.label}: health gate passed on {len(gated)} "
                                                    f"node(s)"))
        self._phase(wave, "resume", started)
        self.slurm.resume(self.writer.state, wave.all_nodes, self.emit)
        kill_point("roll.wave.resumed")
        done_pools = {roll_key(*pool_of(a)) for a in wave.all_nodes}
        serial = self.writer.serial + 1
        self.writer.update(lambda s: _finish_wave(s, wave, done_pools, regions, verdict.run,
                                                  applied=part.has_changes, serial=serial))
        self.emit(Event("roll", "done", message=f"wave {wave.label} replaced, "
                                                f"{'health gate passed, ' if gated else ''}resumed"))
        return ApplyResult(self.writer.state, (), result.configured, result.untouched, serial=self.writer.serial)

    def _stopped(self, wave: Wave, verdict: GateResult, result: ApplyResult) -> ApplyResult:
        lines = [line for node in sorted(verdict.failing) for line in verdict.failing[node]]
        message = (f"wave {wave.label}: the health gate failed on {', '.join(sorted(verdict.failing))}: "
                   f"{'; '.join(lines)}; the roll stopped (later waves untouched, these nodes stay drained)")
        entry = HistoryEntry(serial=self.writer.serial + 1, at=now(), command="up", outcome="failed",
                             spec_digest=self.writer.state.spec_digest, health=verdict.run, message=message,
                             changes=[ChangeRecord(address=a, action=f"roll-wave {wave.label}", cause="health")
                                      for a in wave.all_nodes])
        self.writer.update(lambda s: s.model_copy(update={"history": [*s.history, entry][-200:]}))
        self.emit(Event("roll", "failed", message=message))
        failures = (*result.failures, Failure("health", ", ".join(sorted(verdict.failing)), message))
        return ApplyResult(self.writer.state, failures, result.configured, result.untouched,
                           serial=self.writer.serial)


def _finish_wave(state: State, wave: Wave, pools: set[str], regions: list[str], health: HealthRun | None, *,
                 applied: bool, serial: int) -> State:
    """The wave is done: its roll records dropped, its regions no longer unfinished, its history entry (the
    wave's apply's, or a new one for a wave an interrupted run had replaced) says `roll-wave k/n`."""
    changes = [ChangeRecord(address=a, action=f"roll-wave {wave.label}") for a in wave.all_nodes]
    history = list(state.history)
    if applied and history:
        last = history[-1]
        kept = [c for c in last.changes if c.address not in set(wave.all_nodes)]
        history[-1] = last.model_copy(update={"changes": [*changes, *kept], "health": health})
    else:
        history.append(HistoryEntry(serial=serial, at=now(), command="up", spec_digest=state.spec_digest,
                                    changes=changes,
                                    health=health, message=f"finished wave {wave.label} of a roll a stopped run "
                                                           "had replaced"))
    # A quarantined node the wave replaced is a new machine that passed the gate: no longer out of service.
    cleared = [a for a in wave.all_nodes if a in state.quarantined]
    if cleared:
        history[-1] = history[-1].model_copy(update={"changes": [
            *history[-1].changes, *(ChangeRecord(address=a, action="resume", cause="health") for a in cleared)]})
    return state.model_copy(update={
        "rolls": {k: r for k, r in state.rolls.items() if k not in pools},
        "interrupted": [r for r in state.interrupted if r not in regions],
        "history": history[-200:],
        "quarantined": {a: q for a, q in state.quarantined.items() if a not in cleared},
    })


def report_gate(state: State, graph: ResourceGraph, nodes: Sequence[str], *, workspace: Workspace) -> GateResult:
    """The quick suite over `nodes` (grid.apply.health_runner.run_suite), as a roll's gate."""
    report = run_suite(workspace, state, graph, Suite.QUICK, nodes=list(nodes))
    failing: dict[str, list[str]] = {}
    for node in report.nodes:
        if node.failed:
            failing[node.address] = [r.line() for r in node.failed]
    return GateResult(report.record(), failing)
