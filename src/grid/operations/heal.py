"""`grid up --heal`: find failing nodes with the quick health suite, take them out of service within each pool's
`health.max_unhealthy`, and replace them (`on_failure: replace`) or resume them once they pass again
(`on_failure: quarantine`).

Under the run's lock, one step at a time, each written to state before the next (a killed heal is completed by
the next one, from what state records):
1. the quick suite on every node state has (in service, quarantined, replacements);
2. per pool, grid.plan.quarantine.decide_quarantine: which failing nodes go out of service now;
3. those are drained in Slurm (reason `grid: quarantined: <check>`; jobs elsewhere are untouched) and recorded;
4. beyond max_unhealthy: stop, saying why (nothing else changes);
5. a replacement takes the pool's next free index (grid.plan.slots): created and configured as `grid up` does,
   checked (the gate), resumed in Slurm; only then the failed node is retired and removed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from grid.apply import run
from grid.apply.events import Event, EventSink
from grid.apply.heal import (
    UNREACHABLE,
    entry,
    quarantine_reason,
    quarantine_record,
    set_slots,
    slurm_for,
    with_history,
    write,
)
from grid.apply.health_runner import HealthReport, NodeHealth, run_suite
from grid.errors import OperationFailed
from grid.health.suites import Suite
from grid.identity import Identity, resolve_identity
from grid.operations.engines import Engines, locked
from grid.operations.outcome import Outcome
from grid.operations.planning import PlanOptions, plan_against
from grid.operations.up import Approve, UpOptions
from grid.plan.quarantine import QuarantineDecision, decide_quarantine
from grid.plan.slots import replacement_slots, slots_key
from grid.resources import Kind, ResourceGraph, node_address
from grid.spec.model import Pool
from grid.state.model import QuarantineRecord, State
from grid.workspace import Workspace, graph_for

HealthCheck = Callable[[Workspace, State, ResourceGraph, Suite, Collection[str], "Callable[[NodeHealth], None] | None"],
                       HealthReport]
"""(workspace, state, graph, suite, nodes, on_node) → the suite's report on those nodes."""


def _run_suite(ws: Workspace, state: State, graph: ResourceGraph, suite: Suite, nodes: Collection[str],
               on_node: Callable[[NodeHealth], None] | None) -> HealthReport:
    return run_suite(ws, state, graph, suite, nodes=nodes, on_node=on_node)


@dataclass(frozen=True)
class Healed:
    """What a heal did, step by step; `stopped` says why it stopped early ("" when it went through)."""

    report: HealthReport
    decisions: tuple[tuple[str, QuarantineDecision], ...] = ()  # ("region/pool", decision) of pools with failures
    quarantined: tuple[str, ...] = ()
    resumed: tuple[str, ...] = ()
    replacing: tuple[tuple[str, str], ...] = ()  # (failed node, its replacement)
    replaced: tuple[tuple[str, str], ...] = ()
    gate: HealthReport | None = None
    applies: tuple[Outcome, ...] = field(default=())
    stopped: str = ""

    @property
    def ok(self) -> bool:
        return not self.stopped and all(o.ok for o in self.applies)


@dataclass(frozen=True)
class _PoolRef:
    region: str
    pool: Pool

    @property
    def key(self) -> str:
        return slots_key(self.region, self.pool.name)

    @property
    def on_failure(self) -> str:
        return self.pool.health.on_failure if self.pool.health is not None else "report"


def heal(ws: Workspace, options: UpOptions, *, approve: Approve, emit: EventSink, engines: Engines = Engines(),
         on_node: Callable[[NodeHealth], None] | None = None, check: HealthCheck = _run_suite) -> Healed:
    with locked(ws, "up --heal"):
        _, state = ws.read_state()
        if not state.resources:
            raise OperationFailed(f"cluster {ws.cluster.name} is not up: nothing to heal",
                                  hint=f"run `grid up {ws.spec_path}` first")
        identity = resolve_identity(ws.workdir, ws.cluster.name, state)
        run.ensure_scheduler_secrets(ws, state)
        graph = graph_for(ws, state)
        pools = _pools_of(ws, graph)
        replacements = {r.replacement for r in state.quarantined.values() if r.replacement}
        nodes = [n.address for n in graph.of_kind(Kind.NODE) if n.address in state.resources
                 and n.address not in replacements]  # a replacement is checked by its gate
        emit(Event("heal", "started", message=f"quick health suite on {len(nodes)} node(s)"))
        report = check(ws, state, graph, Suite.QUICK, nodes, on_node)
        healed = _quarantine(ws, state, graph, pools, report, engines, emit)
        if healed.stopped:
            return healed
        healed = _resume_passing(ws, graph, pools, healed, engines, emit)
        return _replace(ws, options, healed, approve=approve, emit=emit, engines=engines, identity=identity,
                        check=check, on_node=on_node)


def _pools_of(ws: Workspace, graph: ResourceGraph) -> dict[str, _PoolRef]:
    """{node address: its pool} for the graph's nodes."""
    specs = {(r.name, p.name): _PoolRef(r.name, p) for r in ws.cluster.spec.regions for p in r.pools}
    return {n.address: specs[(n.region, str(n.attrs.get("pool")))] for n in graph.of_kind(Kind.NODE)
            if (n.region, str(n.attrs.get("pool"))) in specs}


def _quarantine(ws: Workspace, state: State, graph: ResourceGraph, pools: dict[str, _PoolRef],
                report: HealthReport, engines: Engines, emit: EventSink) -> Healed:
    """Steps 2-4: decide per pool, drain and record what the limit allows, stop beyond it."""
    failing_by_pool: dict[str, list[str]] = {}
    for address in report.failing:
        if address in pools and address not in state.quarantined:
            failing_by_pool.setdefault(pools[address].key, []).append(address)
    by_key = {ref.key: ref for ref in pools.values()}
    decisions: list[tuple[str, QuarantineDecision]] = []
    for key, failing in failing_by_pool.items():
        ref = by_key[key]
        out = [a for a in state.quarantined if a in pools and pools[a].key == key]
        decision = decide_quarantine(ref.pool.health, ref.pool.count, out, failing)
        decisions.append((key, decision))
        emit(Event("heal", "failed" if decision.stop else "info", key, decision.message))
    health = {n.address: n for n in report.nodes}
    taken = [address for _, d in decisions for address in d.quarantine]
    stops = [f"{key}: {d.message}" for key, d in decisions if d.stop]
    if taken:
        with slurm_for(ws, state, graph, engines.slurm, emit) as slurm:
            for address in taken:
                node = health[address]
                try:
                    slurm.drain(node.hostname, quarantine_reason(node.failed))
                except UNREACHABLE as exc:
                    raise OperationFailed(f"could not drain {node.hostname} in Slurm to quarantine it: {exc}",
                                          hint="bring the Slurm controller back and run `grid up --heal` again"
                                          ) from exc
                # Recorded node by node: a heal killed after a drain finds it quarantined.
                write(ws, functools.partial(_add_record, record=quarantine_record(address, node.failed)))
    message = "; ".join(stops)
    changes = [(a, "quarantine") for a in taken]
    write(ws, lambda s, serial: with_history(s, entry(serial, changes, health=report.record(), message=message,
                                                      failed=bool(stops))))
    return Healed(report, tuple(decisions), tuple(taken), stopped=message)


def _resume_passing(ws: Workspace, graph: ResourceGraph, pools: dict[str, _PoolRef], healed: Healed,
                    engines: Engines, emit: EventSink) -> Healed:
    """Nodes quarantined in pools with `on_failure: quarantine` that pass now go back into service."""
    _, state = ws.read_state()
    passing = {n.address: n for n in healed.report.nodes if not n.failed}
    back = [a for a in state.quarantined if a in passing and a in pools and pools[a].on_failure == "quarantine"]
    if not back:
        return healed
    with slurm_for(ws, state, graph, engines.slurm, emit) as slurm:
        for address in back:
            slurm.resume(passing[address].hostname)
            write(ws, functools.partial(_drop_record, address=address, changes=[(address, "resume")],
                                        message=f"{address} passes the quick suite again"))
    return _with(healed, resumed=tuple(back))


def _replace(ws: Workspace, options: UpOptions, healed: Healed, *, approve: Approve, emit: EventSink,
             engines: Engines, identity: Identity, check: HealthCheck,
             on_node: Callable[[NodeHealth], None] | None) -> Healed:
    """Step 5 for pools with `on_failure: replace`, from wherever state says a replacement stands."""
    _, state = ws.read_state()
    chosen = _choose_slots(ws, state, emit)
    _, state = ws.read_state()
    pending = {a: r.replacement for a, r in state.quarantined.items()
               if r.replacement and _index(state, a) in _slots_of(ws, state, a)[1]}
    if not pending and not chosen and not _retiring(ws, state):
        return healed
    healed = _with(healed, replacing=tuple(pending.items()))
    if pending:
        made = _apply(ws, options, approve=approve, emit=emit, engines=engines, identity=identity)
        healed = _with(healed, applies=(*healed.applies, made))
        if not made.ok:
            return _with(healed, stopped="the run that makes the replacement nodes did not work"
                                         f"{_why(made)}; the failed nodes stay quarantined (`grid up --heal` "
                                         "tries again)")
        _, state = ws.read_state()
        graph = graph_for(ws, state)
        new = [n for n in pending.values() if n in state.resources]
        emit(Event("heal", "started", message=f"health gate (quick suite) on {', '.join(new)}"))
        gate = check(ws, state, graph, Suite.QUICK, new, on_node)
        healed = _with(healed, gate=gate)
        failing = set(gate.failing)
        with slurm_for(ws, state, graph, engines.slurm, emit) as slurm:
            for node in gate.nodes:
                if node.address in failing:
                    slurm.drain(node.hostname, quarantine_reason(node.failed))
                else:
                    slurm.resume(node.hostname)
        passed = [(old, n) for old, n in pending.items() if n in state.resources and n not in failing]
        for old, _ in passed:  # the failed node's index is retired: the next run removes it
            write(ws, functools.partial(_retire, ws, address=old))
        message = "" if not failing else (
            f"replacement {', '.join(sorted(failing))} failed its health gate: "
            f"{'; '.join(r.line() for n in gate.nodes for r in n.failed)}; the failed node(s) "
            f"{', '.join(old for old, n in pending.items() if n in failing)} stay quarantined")
        write(ws, lambda s, serial: with_history(s, entry(serial, [(n, "gate") for n in new], health=gate.record(),
                                                          message=message, failed=bool(failing))))
        if failing:
            return _with(healed, stopped=message)
    removed = _apply(ws, options, approve=approve, emit=emit, engines=engines, identity=identity)
    healed = _with(healed, applies=(*healed.applies, removed))
    if not removed.ok:
        return _with(healed, stopped=f"the run that removes the replaced nodes did not work{_why(removed)}; "
                                     "`grid up --heal` tries again")
    _, state = ws.read_state()
    done = [(a, r.replacement) for a, r in state.quarantined.items()
            if r.replacement and a not in state.resources]
    for old, new_node in done:
        emit(Event("heal", "done", old, f"replaced by {new_node}"))
        write(ws, functools.partial(_drop_record, address=old, changes=[(old, "replace"), (new_node, "create")],
                                    message=f"{old} replaced by {new_node}"))
    return _with(healed, replaced=tuple(done))


def _slots_of(ws: Workspace, state: State, address: str) -> tuple[list[int], list[int]]:
    """(retired, replacing) of the pool of a node state records."""
    record = state.resources.get(address)
    key = slots_key(address.split("/", 1)[0], str(record.attrs.get("pool")) if record else "")
    slots = state.slots.get(key)
    return (list(slots.retired), list(slots.replacing)) if slots else ([], [])


def _index(state: State, address: str) -> int:
    record = state.resources.get(address)
    return int(record.attrs.get("index", -1)) if record else int(address.rsplit("-", 1)[-1])


def _pool_spec(ws: Workspace, region: str, name: str) -> Pool | None:
    return next((p for r in ws.cluster.spec.regions if r.name == region for p in r.pools if p.name == name), None)


def _choose_slots(ws: Workspace, state: State, emit: EventSink) -> list[str]:
    """Quarantined nodes of `replace` pools get their replacement's index (the pool's next free one), recorded."""
    chosen: list[str] = []
    for address, record in state.quarantined.items():
        resource = state.resources.get(address)
        if record.replacement or resource is None:
            continue
        region, pool_name = resource.region, str(resource.attrs.get("pool"))
        pool = _pool_spec(ws, region, pool_name)
        if pool is None or pool.health is None or pool.health.on_failure != "replace":
            continue
        _, now = ws.read_state()
        key = slots_key(region, pool_name)
        index = _index(now, address)
        new_index = replacement_slots(pool.count, now.slots.get(key), [index])[index]
        new = node_address(region, pool_name, new_index)
        emit(Event("heal", "info", address, f"replaced by {new} (the pool's next free slot, index {new_index})"))

        def choose(s: State, _serial: int, a: str = address, n: str = new, i: int = index, k: str = key) -> State:
            slots = s.slots.get(k)
            replacing = [*(slots.replacing if slots else []), i]
            s = set_slots(s, *k.split("/", 1), replacing=replacing)
            return s.model_copy(update={"quarantined": {
                **s.quarantined, a: s.quarantined[a].model_copy(update={"replacement": n})}})
        write(ws, choose)
        chosen.append(address)
    return chosen


def _add_record(state: State, _serial: int, *, record: QuarantineRecord) -> State:
    return state.model_copy(update={"quarantined": {**state.quarantined, record.address: record}})


def _drop_record(state: State, serial: int, *, address: str, changes: list[tuple[str, str]], message: str
                 ) -> State:
    kept = {k: v for k, v in state.quarantined.items() if k != address}
    return with_history(state.model_copy(update={"quarantined": kept}), entry(serial, changes, message=message))


def _retire(ws: Workspace, state: State, _serial: int, *, address: str) -> State:
    region, pool = address.split("/", 1)[0], str(state.resources[address].attrs.get("pool"))
    retired, replacing = _slots_of(ws, state, address)
    index = _index(state, address)
    return set_slots(state, region, pool, replacing=[i for i in replacing if i != index],
                     retired=sorted({*retired, index}))


def _retiring(ws: Workspace, state: State) -> bool:
    """A quarantined node whose index is retired (its replacement passed) that is still to be removed."""
    return any(r.replacement and _index(state, a) in _slots_of(ws, state, a)[0] for a, r in state.quarantined.items())


def _apply(ws: Workspace, options: UpOptions, *, approve: Approve, emit: EventSink, engines: Engines,
           identity: Identity) -> Outcome:
    """Plan and apply what state and the spec say now, as `grid up` does (the approval asked the same way)."""
    envelope, state = ws.read_state()
    stacks = engines.stacks(ws, identity, options.trust_new_hosts, False)
    planned = plan_against(ws, envelope, state, public_key=identity.keypair.public_key,
                           options=PlanOptions(probe=True), identity=identity, slurm=engines.slurm)
    if planned.plan.errors:
        return Outcome("plan-errors", planned.plan, serial=planned.serial)
    if not planned.plan.has_changes:
        return Outcome("no-changes", planned.plan, serial=planned.serial)
    approve(planned, identity)
    applied = run.up(ws, planned.plan, emit=emit, stacks=stacks, ansible=engines.ansible(ws),
                     options=run.UpOptions(command="up --heal", allow_job_impact=options.allow_job_impact,
                                           slurm=engines.slurm),
                     inputs=run.RunInputs(envelope, state, planned.graph, planned.host_digests, identity))
    return Outcome("applied" if applied.ok else "failed", planned.plan, applied, serial=applied.serial or None)


def _why(outcome: Outcome) -> str:
    if outcome.applied is not None and outcome.applied.failures:
        return f" ({outcome.applied.failures[0]})"
    if outcome.plan is not None and outcome.plan.errors:
        return f" (the plan has errors: {'; '.join(outcome.plan.errors)})"
    return ""


def _with(healed: Healed, **changes: object) -> Healed:
    import dataclasses

    return dataclasses.replace(healed, **changes)  # type: ignore[arg-type]
