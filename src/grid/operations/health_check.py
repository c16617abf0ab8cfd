"""`grid check --suite quick|full`: a health suite (grid.health) on the nodes of a running cluster, what grid WOULD
do about the failing ones per pool (grid.plan.quarantine: `grid up --heal` does it), and the run recorded in the
state's history.

`quick` runs on every node (seconds, safe on busy nodes). `full` loads the devices, so with a scheduler it runs
only on nodes Slurm has drained (or state holds quarantined); without one it runs everywhere and says so. The
history entry is written under the state lock; when another run holds it, the results are still returned, with
why they were not recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from grid.apply.context import now
from grid.apply.health_runner import HealthReport, NodeHealth, run_suite
from grid.errors import OperationFailed
from grid.health.suites import Suite
from grid.plan.quarantine import QuarantineDecision, decide_quarantine
from grid.resources import Kind, ResourceGraph
from grid.spec.model import Cluster
from grid.state.errors import LockHeld, StateConflict
from grid.state.history import history_entry
from grid.state.model import State
from grid.workspace import Workspace, graph_for

HISTORY_KEPT = 200  # as `grid up` keeps it
FULL_LOADS = "the full suite loads the devices (it is meant for drained nodes)"

Started = Callable[[int, str], None]
"""Sees how many nodes the suite runs on, and a note about which (may be empty), before it runs."""


@dataclass(frozen=True)
class PoolAdvice:
    """One pool with failing nodes: what `grid up --heal` would do about them."""

    region: str
    pool: str
    on_failure: str
    decision: QuarantineDecision

    def line(self) -> str:
        if self.decision.stop:
            what = (f"take out {', '.join(a.rsplit('/', 1)[-1] for a in self.decision.quarantine)}, then stop"
                    if self.decision.quarantine else "stop")
            return f"{self.region}/{self.pool}: {self.decision.message} — `grid up --heal` would {what}"
        if self.decision.quarantine:
            return f"{self.region}/{self.pool}: {self.decision.message} — `grid up --heal` does it"
        return f"{self.region}/{self.pool}: {self.decision.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "pool": self.pool, "on_failure": self.on_failure,
                "take_out": list(self.decision.quarantine), "left_in_service": list(self.decision.left_in_service),
                "stop": self.decision.stop, "limit": self.decision.limit, "message": self.line()}


@dataclass(frozen=True)
class HealthChecked:
    cluster: str
    report: HealthReport
    pools: tuple[PoolAdvice, ...] = ()
    note: str = ""  # which nodes the suite ran on, when not all of them, or that it loaded the devices
    recorded: bool = True
    not_recorded: str = ""  # why the history entry was not written

    @property
    def ok(self) -> bool:
        return not self.report.failing

    def to_dict(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "ok": self.ok, **self.report.to_dict(),
                "pools": [p.to_dict() for p in self.pools], "note": self.note,
                "recorded": self.recorded, "not_recorded": self.not_recorded}


def check_health(ws: Workspace, suite: Suite, *, on_start: Started | None = None,
                 on_node: Callable[[NodeHealth], None] | None = None) -> HealthChecked:
    _, state = ws.read_state()
    if not state.resources:
        raise OperationFailed(f"cluster {ws.cluster.name} is not up", hint=f"run `grid up {ws.spec_path}`")
    graph = graph_for(ws, state)
    nodes, note = _nodes_for(ws, state, graph, suite)
    if on_start is not None:
        on_start(len(nodes) if nodes is not None else _node_count(graph, state), note)
    report = run_suite(ws, state, graph, suite, nodes=nodes, on_node=on_node)
    pools = advise(ws.cluster, graph, state, report)
    recorded, why = _record(ws, report, f"check --suite {suite.value}") if report.nodes else (
        False, "no node was checked: nothing recorded in history")
    return HealthChecked(ws.cluster.name, report, pools, note, recorded, why)


def advise(cluster: Cluster, graph: ResourceGraph, state: State, report: HealthReport) -> tuple[PoolAdvice, ...]:
    """Per pool with a failing node: grid.plan.quarantine's decision, with the nodes state holds out already."""
    pool_of = {n.address: (n.region, str(n.attrs["pool"])) for n in graph.of_kind(Kind.NODE)}
    failing: dict[tuple[str, str], list[str]] = {}
    for address in report.failing:
        if address in pool_of:
            failing.setdefault(pool_of[address], []).append(address)
    advice = []
    for region in cluster.spec.regions:
        for pool in region.pools:
            key = (region.name, pool.name)
            if key not in failing:
                continue
            out = [a for a in state.quarantined if pool_of.get(a) == key]
            decision = decide_quarantine(pool.health, pool.count, out, failing[key])
            advice.append(PoolAdvice(region.name, pool.name, pool.health.on_failure if pool.health else "report",
                                     decision))
    return tuple(advice)


def _nodes_for(ws: Workspace, state: State, graph: ResourceGraph, suite: Suite) -> tuple[Collection[str] | None, str]:
    """The nodes to run `suite` on (None: all) and what to say about the choice."""
    if suite is Suite.QUICK:
        return None, ""
    if ws.cluster.spec.scheduler is None:
        return None, f"no scheduler: running on every node; {FULL_LOADS}"
    drained = _drained_hostnames(ws, state, graph)
    chosen = [n.address for n in graph.of_kind(Kind.NODE) if n.address in state.resources and (
        str(n.attrs["hostname"]) in drained or n.address in state.quarantined)]
    rest = _node_count(graph, state) - len(chosen)
    if not chosen:
        return chosen, (f"no node is drained in Slurm or quarantined: {FULL_LOADS}; drain the nodes to check "
                        "first (scontrol update nodename=... state=drain reason=...)")
    return chosen, (f"on the {len(chosen)} node(s) drained in Slurm or quarantined, not the {rest} in service: "
                    f"{FULL_LOADS}") if rest else ""


def _drained_hostnames(ws: Workspace, state: State, graph: ResourceGraph) -> set[str]:
    from grid.apply.remote import cluster_remote
    from grid.drivers.slurm import SSH_TIMEOUT, SlurmUnavailable, controller_of

    ssh = ws.cluster.spec.defaults.ssh
    remote = cluster_remote(ws.workdir, state, ws.cluster, timeout=SSH_TIMEOUT)
    try:
        controller = controller_of(ws.cluster, graph, remote, sudo=ssh.user != "root")
        return {n.name for n in controller.nodes() if n.state == "drained"}
    except SlurmUnavailable as exc:
        raise OperationFailed(f"Slurm did not say which nodes are drained: {exc.message}",
                              hint="the full suite runs only on drained nodes; `grid check --suite quick` needs "
                                   "no Slurm") from None
    finally:
        remote.close()


def _node_count(graph: ResourceGraph, state: State) -> int:
    return sum(1 for n in graph.of_kind(Kind.NODE) if n.address in state.resources)


def _record(ws: Workspace, report: HealthReport, command: str) -> tuple[bool, str]:
    """One history entry for the run, under the state lock; (False, why) when it could not be written."""
    from grid.operations.engines import locked

    try:
        with locked(ws, command):
            envelope, state = ws.read_state()
            if envelope is None:
                return False, "there is no state to record it in"
            entry = history_entry(envelope.serial + 1, command, outcome="failed" if report.failing else "applied",
                                  spec_digest=state.spec_digest).model_copy(
                update={"health": report.record(), "at": now()})  # the time format `grid up` writes
            written = ws.store.write(state.model_copy(update={"history": [*state.history, entry][-HISTORY_KEPT:]}),
                                     envelope.serial)
            # A recorded check would otherwise cost the next `grid plan` its full time (the seal names the file).
            from grid.operations.planning import seal_saved

            seal_saved(ws, written, written.state)
    except LockHeld as exc:
        return False, f"history not recorded: {exc.message}"
    except StateConflict as exc:
        return False, f"history not recorded: {exc.message}"
    return True, ""
