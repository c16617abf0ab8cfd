"""`grid status SPEC`: one look at a running cluster — its nodes per Slurm partition and their state, the jobs
running, the last apply, the drift recorded, and the accelerators in use per region.

Reads; never locks or writes the state. What grid knows comes from the state (history, host records); what
Slurm knows is asked of the controller over SSH (grid.drivers.slurm). A Slurm that does not answer is shown as
such, with the rest of the status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grid.errors import OperationFailed
from grid.render.hostlist import hostlist
from grid.resources import Kind, ResourceGraph
from grid.slurm_status import SlurmJob, SlurmNodeState
from grid.spec.model import Cluster
from grid.spec.scheduler import partitions
from grid.state.model import State
from grid.workspace import Workspace, graph_for

JOBS_SHOWN = 5
"""Running jobs listed by name (the count covers all)."""


@dataclass(frozen=True)
class NodeStatus:
    hostname: str
    state: str  # Slurm's (idle, mixed, allocated, drained, down...), or "unknown to slurm"
    flags: tuple[str, ...] = ()
    reason: str = ""
    jobs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"hostname": self.hostname, "state": self.state, "flags": list(self.flags), "reason": self.reason,
                "jobs": self.jobs}


@dataclass(frozen=True)
class PartitionStatus:
    name: str
    default: bool
    nodes: tuple[NodeStatus, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "default": self.default, "nodes": [n.to_dict() for n in self.nodes]}


@dataclass(frozen=True)
class SchedulerStatus:
    controller: str
    partitions: tuple[PartitionStatus, ...] = ()
    running: int = 0
    pending: int = 0
    jobs: tuple[SlurmJob, ...] = ()  # the first running ones, JOBS_SHOWN at most
    error: str = ""  # what kept Slurm from answering; the rest is empty then

    def to_dict(self) -> dict[str, Any]:
        return {"controller": self.controller, "error": self.error,
                "partitions": [p.to_dict() for p in self.partitions],
                "jobs": {"running": self.running, "pending": self.pending,
                         "shown": [{**j.to_dict(), "nodes": hostlist(j.nodes)} for j in self.jobs]}}


@dataclass(frozen=True)
class Capacity:
    """Accelerators of one region: how many its nodes have and, with a scheduler, how many jobs hold."""

    region: str
    total: int
    allocated: int | None  # None: no scheduler answered, grid cannot know
    models: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "total": self.total, "allocated": self.allocated, "models": list(self.models)}


@dataclass(frozen=True)
class LastApply:
    serial: int
    at: str
    command: str
    user: str
    outcome: str
    changes: int

    def to_dict(self) -> dict[str, Any]:
        return {"serial": self.serial, "at": self.at, "command": self.command, "user": self.user,
                "outcome": self.outcome, "changes": self.changes}


@dataclass(frozen=True)
class HostProblem:
    address: str
    status: str  # drifted or failed
    detail: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "status": self.status, "detail": list(self.detail)}


@dataclass(frozen=True)
class Quarantined:
    """A node grid took out of service for failing a health check (grid up --heal), as state records it."""

    address: str
    check: str
    device: str
    since: str
    replacement: str  # "" until grid chose one (on_failure: replace)
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "check": self.check, "device": self.device, "since": self.since,
                "replacement": self.replacement, "detail": self.detail}


@dataclass(frozen=True)
class Status:
    cluster: str
    serial: int
    nodes: int
    last_apply: LastApply | None
    drift: tuple[HostProblem, ...]
    capacity: tuple[Capacity, ...]
    scheduler: SchedulerStatus | None = None
    interrupted: tuple[str, ...] = field(default=())
    quarantined: tuple[Quarantined, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "serial": self.serial, "nodes": self.nodes,
                "quarantined": [q.to_dict() for q in self.quarantined],
                "last_apply": self.last_apply.to_dict() if self.last_apply else None,
                "drift": [d.to_dict() for d in self.drift], "interrupted": list(self.interrupted),
                "capacity": [c.to_dict() for c in self.capacity],
                "scheduler": self.scheduler.to_dict() if self.scheduler else None}


@dataclass(frozen=True)
class SlurmSeen:
    """What the controller said, or why it said nothing."""

    controller: str
    nodes: Sequence[SlurmNodeState] = ()
    jobs: Sequence[SlurmJob] = ()
    error: str = ""


def status(ws: Workspace) -> Status:
    envelope, state = ws.read_state()
    if envelope is None or not state.resources:
        raise OperationFailed(f"cluster {ws.cluster.name} is not up", hint=f"run `grid up {ws.spec_path}`")
    graph = graph_for(ws, state)
    seen = _ask_slurm(ws, state, graph) if ws.cluster.spec.scheduler is not None else None
    return status_of(ws.cluster, state, envelope.serial, graph, seen)


def status_of(cluster: Cluster, state: State, serial: int, graph: ResourceGraph, seen: SlurmSeen | None) -> Status:
    """The status from the state, the spec's expansion and what Slurm said (None: no scheduler)."""
    nodes = [n for n in graph.of_kind(Kind.NODE) if n.address in state.resources]
    last = state.history[-1] if state.history else None
    drift = tuple(HostProblem(h.address, h.status, tuple(h.drift) or ((h.error,) if h.error else ()))
                  for h in sorted(state.hosts.values(), key=lambda h: h.address) if h.status in ("drifted", "failed"))
    by_host = {node.name: node for node in seen.nodes} if seen is not None else {}
    capacity: list[Capacity] = []
    for region in dict.fromkeys(n.region for n in nodes):
        members = [n for n in nodes if n.region == region]
        total = sum(int(n.attrs.get("accelerators") or 0) for n in members)
        models = tuple(sorted({str(n.attrs["accelerator"]) for n in members if n.attrs.get("accelerators")}))
        allocated = None
        if seen is not None and not seen.error:
            allocated = sum(g.count for n in members if (s := by_host.get(str(n.attrs["hostname"])))
                            for g in s.gres_used)
        capacity.append(Capacity(region, total, allocated, models))
    return Status(cluster.name, serial, len(nodes),
                  LastApply(last.serial, last.at, last.command, last.user, last.outcome, len(last.changes))
                  if last else None, drift, tuple(capacity),
                  _scheduler_status(cluster, graph, state, seen) if seen is not None else None,
                  tuple(state.interrupted),
                  tuple(Quarantined(q.address, q.check, q.device, q.since, q.replacement, q.detail)
                        for _, q in sorted(state.quarantined.items())))


def _scheduler_status(cluster: Cluster, graph: ResourceGraph, state: State, seen: SlurmSeen) -> SchedulerStatus:
    if seen.error:
        return SchedulerStatus(seen.controller, error=seen.error)
    assert cluster.spec.scheduler is not None
    by_host = {node.name: node for node in seen.nodes}
    jobs_on: dict[str, int] = {}
    for job in seen.jobs:
        for host in job.nodes:
            jobs_on[host] = jobs_on.get(host, 0) + 1
    hosts_of: dict[tuple[str, str], list[str]] = {}
    for node in graph.of_kind(Kind.NODE):
        if node.address in state.resources:
            hosts_of.setdefault((node.region, str(node.attrs["pool"])), []).append(str(node.attrs["hostname"]))
    shown: list[PartitionStatus] = []
    for plan in partitions(cluster, cluster.spec.scheduler):
        members: list[NodeStatus] = []
        for host in (h for key in plan.pools for h in hosts_of.get(key, ())):
            said = by_host.get(host)
            members.append(NodeStatus(host, said.state, said.flags, said.reason, jobs_on.get(host, 0))
                           if said is not None else NodeStatus(host, "unknown to slurm"))
        shown.append(PartitionStatus(plan.name, plan.default, tuple(members)))
    running = [job for job in seen.jobs if job.state == "running"]
    return SchedulerStatus(seen.controller, tuple(shown), len(running),
                           sum(job.state == "pending" for job in seen.jobs), tuple(running[:JOBS_SHOWN]))


def _ask_slurm(ws: Workspace, state: State, graph: ResourceGraph) -> SlurmSeen:
    from grid.apply.remote import cluster_remote
    from grid.drivers.slurm import SlurmUnavailable, controller_of

    ssh = ws.cluster.spec.defaults.ssh
    remote = cluster_remote(ws.workdir, state, ws.cluster)
    controller = controller_of(ws.cluster, graph, remote, sudo=ssh.user != "root")
    try:
        return SlurmSeen(controller.hostname, controller.nodes(), controller.jobs())
    except SlurmUnavailable as exc:
        return SlurmSeen(controller.hostname, error=exc.message)
    finally:
        remote.close()
