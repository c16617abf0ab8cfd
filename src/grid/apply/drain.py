"""Jobs and the nodes grid removes: the Slurm nodes a plan deletes or replaces are drained before the
infrastructure changes, and grid waits for their jobs up to the spec's `scheduler.drain_timeout`.

A drain that does not finish in time stops the run before any infrastructure changes, unless the user accepts
the loss (`--allow-job-impact`). A controller that cannot be asked leaves no way to know about jobs: the run
stops too, unless the controller goes with the nodes (it is itself deleted or replaced) or the user accepts.
Draining is idempotent, so a run killed while it waits is simply run again. grid's drains carry a reason
starting with `grid:` (DRAIN_REASON_PREFIX), which tells them from an operator's; a replaced node comes back
under the same name, still drained, and is resumed once the run has configured it.

Slurm is reached through `SlurmControl`, the methods of grid.drivers.slurm.SlurmController this module uses
(a fake stands in for it in unit tests). No scheduler in the spec: nothing here runs, and nothing is asked.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from grid.apply.events import Event, EventSink
from grid.drivers.slurm import SlurmController, SlurmUnavailable
from grid.errors import OperationFailed
from grid.killpoints import kill_point
from grid.plan.jobs import JobImpact, JobRef, NodeJobs
from grid.plan.model import Action, Plan
from grid.render.slurm import controller_hosts
from grid.resources import Kind, ResourceGraph
from grid.spec.model import Cluster
from grid.state.model import State

DRAIN_REASON_PREFIX = "grid:"
QUARANTINE_REASON_PREFIX = "grid: quarantined: "
"""A node grid took out of service for failing a health check (grid up --heal): only a heal resumes it."""
REASONS = {Action.DELETE: "grid: removed from the spec", Action.REPLACE: "grid: replaced by grid up"}
ALLOW_FLAG = "--allow-job-impact"
POLL_SECONDS = 5.0


class SlurmJobView(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def user(self) -> str: ...


class SlurmNodeView(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def reason(self) -> str: ...


class SlurmControl(Protocol):
    """What grid asks of a running slurmctld (grid.drivers.slurm.SlurmController has these methods)."""

    def nodes(self) -> Sequence[SlurmNodeView]: ...
    def jobs(self) -> Sequence[SlurmJobView]: ...
    def jobs_on(self, hostnames: list[str]) -> Mapping[str, Sequence[SlurmJobView]]: ...
    def drain(self, hostnames: list[str], reason: str) -> None: ...
    def resume(self, hostnames: list[str]) -> None: ...


ControllerFor = Callable[[str, str], SlurmControl]
"""(controller hostname, its connect address) → the controller to ask."""
SlurmConnect = Callable[[Path, State, Cluster], AbstractContextManager[ControllerFor]]
"""(work dir, state, cluster) → connections to the cluster's Slurm controller for as long as the context lasts."""

# What a controller that cannot be asked raises: the driver's word for it (an SSH failure, slurmctld down, a
# command that failed) and a connection's own error.
UNREACHABLE: tuple[type[Exception], ...] = (SlurmUnavailable, OSError)


@dataclass(frozen=True)
class Clock:
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class Leaving:
    """A node the plan deletes or replaces that exists (state records it)."""

    address: str
    hostname: str
    action: Action


@dataclass(frozen=True)
class Controller:
    address: str  # its resource address
    hostname: str
    ip: str
    leaving: bool  # the plan deletes or replaces it too


def leaving_nodes(plan: Plan, state: State) -> list[Leaving]:
    out: list[Leaving] = []
    for change in plan.pending:
        record = state.resources.get(change.address)
        if change.kind != Kind.NODE.value or change.action not in REASONS or record is None:
            continue
        out.append(Leaving(change.address, str(record.attrs.get("hostname") or ""), change.action))
    return [node for node in out if node.hostname]


def controller_of(cluster: Cluster, graph: ResourceGraph, state: State, leaving: Sequence[Leaving]
                  ) -> Controller | None:
    """The primary slurmctld node, when state records it (None: no controller has been made yet)."""
    hosts = controller_hosts(cluster, graph)
    if not hosts:
        return None
    hostname, ip = hosts[0]
    address = next((n.address for n in graph.of_kind(Kind.NODE) if n.attrs.get("hostname") == hostname), "")
    if address not in state.resources or not ip:
        return None
    return Controller(address, hostname, ip, any(n.address == address for n in leaving))


@dataclass(frozen=True)
class _Removal:
    """The nodes a run removes (which of them Slurm has is asked later), its controller and the timeout."""

    nodes: tuple[Leaving, ...]
    controller: Controller | None
    timeout: int


def _removal(cluster: Cluster, graph: ResourceGraph, state: State, plan: Plan) -> _Removal | None:
    scheduler = cluster.spec.scheduler
    if scheduler is None:
        return None
    leaving = leaving_nodes(plan, state)
    if not leaving:
        return None
    return _Removal(tuple(leaving), controller_of(cluster, graph, state, leaving), scheduler.drain_timeout)


def survey(cluster: Cluster, graph: ResourceGraph, state: State, plan: Plan, connect: ControllerFor
           ) -> JobImpact | None:
    """For the plan: the jobs on each Slurm node it deletes or replaces (None: no scheduler, no such node, or no
    controller made yet). A controller that cannot be asked gives every leaving node, its jobs `unknown`."""
    removal = _removal(cluster, graph, state, plan)
    if removal is None or removal.controller is None:
        return None
    controller = connect(removal.controller.hostname, removal.controller.ip)
    try:
        slurm_nodes = _slurm_nodes(controller, removal.nodes)
        found = controller.jobs_on([n.hostname for n in slurm_nodes]) if slurm_nodes else {}
    except UNREACHABLE as exc:
        nodes = tuple(NodeJobs(n.address, n.hostname, n.action.value) for n in removal.nodes
                      if n.address != removal.controller.address)
        return JobImpact(nodes, removal.timeout, unknown=_unreachable(removal.controller, exc)) if nodes else None
    if not slurm_nodes:
        return None
    return JobImpact(tuple(NodeJobs(n.address, n.hostname, n.action.value, _refs(found.get(n.hostname, ())))
                           for n in slurm_nodes), removal.timeout)


def drain_leaving(cluster: Cluster, graph: ResourceGraph, state: State, plan: Plan, connect: ControllerFor, *,
                  emit: EventSink, allow_job_impact: bool, clock: Clock = Clock()) -> tuple[str, ...]:
    """Drain the Slurm nodes the plan removes and wait for their jobs; returns the hostnames drained.

    Raises OperationFailed, before anything has changed but the drains, when jobs are still running at the
    timeout or the controller cannot be asked, unless `allow_job_impact`."""
    removal = _removal(cluster, graph, state, plan)
    if removal is None:
        return ()
    if removal.controller is None:
        emit(Event("drain", "skipped", message="no Slurm controller has been made yet: no jobs to wait for"))
        return ()
    controller = connect(removal.controller.hostname, removal.controller.ip)
    try:
        if removal.controller.leaving:
            _controller_state_loss(removal.controller, controller, emit, allow_job_impact)
        nodes = _slurm_nodes(controller, removal.nodes)
        if not nodes:
            return ()
        for action, reason in REASONS.items():
            if names := [n.hostname for n in nodes if n.action is action]:
                controller.drain(names, reason)
                emit(Event("drain", "started", message=f"drained {', '.join(names)} ({action.value}): no new "
                                                       "jobs start there"))
        kill_point("drain.drained")  # a run killed here is run again: it drains again and waits
        running = _wait(controller, [n.hostname for n in nodes], removal.timeout, emit, clock)
    except UNREACHABLE as exc:
        _go_on_unknown(removal, exc, emit, allow_job_impact)
        return ()
    if not running:
        emit(Event("drain", "done", message=f"no jobs left on {', '.join(n.hostname for n in nodes)}"))
        return tuple(n.hostname for n in nodes)
    summary = _running_text(running)
    if not allow_job_impact:
        emit(Event("drain", "failed", message=f"timed out after {removal.timeout} s: {summary}"))
        raise OperationFailed(
            f"jobs are still running on nodes this run would delete or replace, after waiting "
            f"{removal.timeout} s (scheduler.drain_timeout): {summary}; nothing was changed (the nodes stay "
            "drained: no new jobs start there)",
            hint=f"wait for the jobs to end (or cancel them: scancel {' '.join(_ids(running))}) and run grid "
                 f"again, raise scheduler.drain_timeout, or pass {ALLOW_FLAG} to go on and end them with the nodes")
    emit(Event("drain", "info", message=f"timed out after {removal.timeout} s; going on ({ALLOW_FLAG}): "
                                        f"these jobs end with their nodes: {summary}"))
    return tuple(n.hostname for n in nodes)


def resume_kept(cluster: Cluster, graph: ResourceGraph, state: State, connect: ControllerFor, *,
                emit: EventSink) -> tuple[str, ...]:
    """After a run that worked: resume the nodes of the spec that grid drained (a replaced node comes back under
    its name, still drained; a run killed while it waited left its drains). An operator's drains stay."""
    if cluster.spec.scheduler is None:
        return ()
    controller = controller_of(cluster, graph, state, ())
    if controller is None:
        return ()
    wanted = {str(n.attrs.get("hostname")) for n in graph.of_kind(Kind.NODE)}
    slurm = connect(controller.hostname, controller.ip)
    try:
        names = sorted(n.name for n in slurm.nodes()
                       if n.name in wanted and (n.reason or "").startswith(DRAIN_REASON_PREFIX)
                       and not (n.reason or "").startswith(QUARANTINE_REASON_PREFIX))
        if names:
            slurm.resume(names)
    except UNREACHABLE as exc:
        emit(Event("drain", "info", message=f"could not resume the nodes grid drained ({exc}); `grid up` tries "
                                            "again next time"))
        return ()
    if names:
        emit(Event("drain", "done", message=f"resumed {', '.join(names)} (drained by grid)"))
    return tuple(names)


# -- helpers ------------------------------------------------------------------------------------------------

def _slurm_nodes(controller: SlurmControl, leaving: Sequence[Leaving]) -> list[Leaving]:
    """Those of the leaving nodes Slurm has as nodes (login and controller nodes are not Slurm nodes)."""
    known = {n.name for n in controller.nodes()}
    return [n for n in leaving if n.hostname in known]


def _wait(controller: SlurmControl, hostnames: list[str], timeout: int, emit: EventSink, clock: Clock
          ) -> dict[str, tuple[JobRef, ...]]:
    """Poll until no jobs run on `hostnames` or `timeout` seconds passed; the jobs still running (by host)."""
    deadline = clock.now() + timeout
    said = ""
    while True:
        found = controller.jobs_on(hostnames)
        running = {h: _refs(found.get(h, ())) for h in hostnames if found.get(h)}
        if not running:
            return {}
        remaining = deadline - clock.now()
        if remaining <= 0:
            return running
        text = "; ".join(f"{len(jobs)} job(s) on {host}" for host, jobs in running.items())
        if text != said:  # said again only when what it waits for changes
            emit(Event("drain", "info", message=f"waiting for {text} (drain, up to {timeout} s)"))
            said = text
        clock.sleep(min(POLL_SECONDS, remaining))


def _controller_state_loss(leaving: Controller, controller: SlurmControl, emit: EventSink,
                           allow_job_impact: bool) -> None:
    """A controller node deleted or replaced takes slurmctld's state (StateSaveLocation is on the node) with it:
    every job Slurm knows is forgotten (running ones go on, unaccounted). Refused while Slurm knows jobs, unless
    `allow_job_impact`."""
    jobs = list(controller.jobs())
    if not jobs:
        return
    shown = ", ".join(f"{job.id} {job.name} ({job.user})" for job in jobs[:5]) + (
        f" and {len(jobs) - 5} more" if len(jobs) > 5 else "")
    what = (f"this run deletes or replaces the Slurm controller {leaving.hostname}, and its state with it: "
            f"{len(jobs)} job(s) Slurm knows would be forgotten ({shown})")
    if allow_job_impact:
        emit(Event("drain", "info", message=f"{what}; going on ({ALLOW_FLAG})"))
        return
    emit(Event("drain", "failed", message=what))
    raise OperationFailed(what + "; nothing was changed",
                          hint=f"let the jobs end (squeue on {leaving.hostname}) and run grid again, or pass "
                               f"{ALLOW_FLAG} to go on without them")


def _go_on_unknown(removal: _Removal, exc: Exception, emit: EventSink, allow_job_impact: bool) -> None:
    assert removal.controller is not None
    why = _unreachable(removal.controller, exc)
    names = ", ".join(n.hostname for n in removal.nodes)
    if removal.controller.leaving:
        emit(Event("drain", "info", message=f"{why}; it is deleted or replaced in this run too, so its jobs go "
                                            f"with it: going on without draining {names}"))
        return
    if allow_job_impact:
        emit(Event("drain", "info", message=f"{why}; going on without draining {names} ({ALLOW_FLAG}): any jobs "
                                            "there end with the nodes"))
        return
    emit(Event("drain", "failed", message=why))
    raise OperationFailed(
        f"{why}, so grid cannot know whether jobs run on the nodes this run would delete or replace ({names}); "
        "nothing was changed",
        hint=f"bring the controller back (`grid up` repairs its daemons once nothing is removed) and run grid "
             f"again, or pass {ALLOW_FLAG} to go on without draining")


def _unreachable(controller: Controller, exc: Exception) -> str:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"the Slurm controller {controller.hostname} ({controller.ip}) cannot be asked: {detail}"


def _refs(jobs: Sequence[SlurmJobView]) -> tuple[JobRef, ...]:
    return tuple(JobRef(str(j.id), j.name, j.user) for j in jobs)


def _running_text(running: Mapping[str, Sequence[JobRef]]) -> str:
    return "; ".join(f"{host}: {', '.join(j.label() + (f' ({j.user})' if j.user else '') for j in jobs)}"
                     for host, jobs in running.items())


def _ids(running: Mapping[str, Sequence[JobRef]]) -> list[str]:
    return sorted({j.job_id for jobs in running.values() for j in jobs})


@contextmanager
def pinned_controllers(workdir: Path, state: State, cluster: Cluster) -> Iterator[ControllerFor]:
    """The real controller: grid.drivers.slurm over SSH with the cluster's key and pinned host keys."""
    from grid.apply.remote import cluster_remote

    ssh = cluster.spec.defaults.ssh
    remote = cluster_remote(workdir, state, cluster)
    try:
        # scontrol update (drain, resume) needs root or SlurmUser: another login user goes through sudo.
        yield lambda hostname, ip: SlurmController(remote, hostname, ip, sudo=ssh.user != "root")
    finally:
        remote.close()


# -- a run's two moments ------------------------------------------------------------------------------------

def before_infrastructure(workdir: Path, cluster: Cluster, graph: ResourceGraph, state: State, plan: Plan, *,
                          connect: SlurmConnect, emit: EventSink, allow_job_impact: bool,
                          clock: Clock = Clock()) -> tuple[str, ...]:
    """`drain_leaving` for a run (no SSH at all without a scheduler or a Slurm node to remove)."""
    if cluster.spec.scheduler is None or not leaving_nodes(plan, state):
        return ()
    with connect(workdir, state, cluster) as controller_for:
        return drain_leaving(cluster, graph, state, plan, controller_for, emit=emit,
                             allow_job_impact=allow_job_impact, clock=clock)


def after_run(workdir: Path, cluster: Cluster, graph: ResourceGraph, before: State, after: State, *,
              drained: Sequence[str], connect: SlurmConnect, emit: EventSink) -> None:
    """`resume_kept` once a run worked, when Slurm ran before it (a first bring-up drained nothing)."""
    if cluster.spec.scheduler is None or (not drained and controller_of(cluster, graph, before, ()) is None):
        return
    with connect(workdir, after, cluster) as controller_for:
        resume_kept(cluster, graph, after, controller_for, emit=emit)


def plan_with_jobs(workdir: Path, cluster: Cluster, graph: ResourceGraph, state: State, plan: Plan, *,
                   connect: SlurmConnect) -> Plan:
    """`plan` with the jobs on the Slurm nodes it removes (`survey`), when it removes any."""
    if cluster.spec.scheduler is None or not leaving_nodes(plan, state):
        return plan
    try:
        with connect(workdir, state, cluster) as controller_for:
            impact = survey(cluster, graph, state, plan, controller_for)
    except OperationFailed:  # no key here to reach the nodes with: the plan cannot say
        return plan
    return dataclasses.replace(plan, jobs=impact) if impact is not None else plan
