"""grid.apply.roll and grid.apply.roll_waves: a rolling replacement's waves, the graph and plan each wave's apply
gets, and its bookkeeping (drain, replace, gate, resume; records; history) with fakes of Slurm and the apply."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from grid.apply.context import ApplyResult
from grid.apply.events import Event
from grid.apply.roll import GateResult, Roller, RollSlurm, window_closed
from grid.apply.roll_waves import Schedule, Wave, schedule, wave_graph, wave_plan
from grid.apply.statewriter import StateWriter
from grid.errors import OperationFailed
from grid.plan import Action, Plan, make_plan
from grid.resources import ResourceGraph, expand
from grid.spec import spec_digest
from grid.spec.model import Cluster
from grid.state.model import ResourceRecord, RollRecord, State
from support.fake_slurm import FakeSlurm, Job, Node
from support.fakes import MemoryStateStore
from support.paths import EXAMPLES
from support.specs import applied_state, cluster_from

TRAIN = [f"lab/train/node-{i:04d}" for i in range(4)]
HOSTS = [f"lab-train-{i:04d}" for i in range(4)]


def _spec(per_node: int, update: dict[str, Any] | None = None, **pool: Any) -> Cluster:
    def edit(data: dict[str, Any]) -> None:
        train = data["spec"]["regions"][0]["pools"][1]
        train.update(count=4, **pool)
        train["accelerator"]["per_node"] = per_node
        train["update"] = update if update is not None else {"max_unavailable": 1, "drain_timeout": 30}

    return cluster_from(EXAMPLES / "health" / "cluster.yaml", edit)


def _case(update: dict[str, Any] | None = None, **pool: Any) -> tuple[Cluster, ResourceGraph, State, Plan]:
    before = _spec(8, update, **pool)
    state = applied_state(expand(before)).model_copy(update={"spec_digest": "sha256:before"})
    after = _spec(4, update, **pool)  # another accelerator count replaces every node of the pool
    graph = expand(after, state.allocations())
    return after, graph, state, make_plan(graph, state, target="local", spec_digest=spec_digest(after))


def _with_new(state: State, graph: ResourceGraph, *addresses: str) -> State:
    """`state` as if the last apply had replaced `addresses` already."""
    resources = dict(state.resources)
    for address in addresses:
        res = graph.get(address)
        assert res is not None
        resources[address] = ResourceRecord(address=address, kind="node", region="lab", attrs=dict(res.attrs),
                                            outputs=dict(resources[address].outputs))
    return state.model_copy(update={"resources": resources})


def test_one_wave_per_node_by_index_and_the_controller_untouched() -> None:
    cluster, _, state, plan = _case()
    made = schedule(cluster, plan, state)
    assert made is not None and not made.resuming
    assert [(w.label, w.nodes) for w in made.waves] == [(f"{i + 1}/4", (TRAIN[i],)) for i in range(4)]
    assert made.waves[0].line() == f"starting wave 1/4: {TRAIN[0]}"


def test_no_update_policy_and_no_roll_under_way_is_not_a_roll() -> None:
    cluster, _, state, plan = _case()
    plain = cluster.model_copy(deep=True)
    plain.spec.regions[0].pools[1].__dict__["update"] = None  # the same spec without `update`
    assert schedule(plain, plan, state) is None


def test_a_killed_roll_resumes_at_its_wave_numbered_as_it_was() -> None:
    cluster, graph, state, _ = _case()
    record = RollRecord(region="lab", pool="train", spec_digest="sha256:x", waves=4, wave=1, nodes=[TRAIN[1]],
                        phase="replace")
    state = _with_new(state, graph, TRAIN[0]).model_copy(update={"rolls": {"lab/train": record}})
    plan = make_plan(graph, state, target="local", spec_digest="sha256:after")
    made = schedule(cluster, plan, state)
    assert made is not None and made.resuming
    assert [(w.label, w.nodes, w.resumed) for w in made.waves] == [
        ("2/4", (TRAIN[1],), True), ("3/4", (TRAIN[2],), False), ("4/4", (TRAIN[3],), False)]
    assert made.waves[0].line() == f"resuming wave 2/4: {TRAIN[1]}"


def test_a_wave_replaced_before_the_kill_is_gated_and_resumed_first() -> None:
    cluster, graph, state, _ = _case()
    record = RollRecord(region="lab", pool="train", spec_digest="sha256:x", waves=4, wave=1, nodes=[TRAIN[1]],
                        phase="gate")
    state = _with_new(state, graph, TRAIN[0], TRAIN[1]).model_copy(update={"rolls": {"lab/train": record}})
    plan = make_plan(graph, state, target="local", spec_digest="sha256:after")
    made = schedule(cluster, plan, state)
    assert made is not None
    assert [(w.label, w.nodes, w.finishing) for w in made.waves] == [
        ("2/4", (), (TRAIN[1],)), ("3/4", (TRAIN[2],), ()), ("4/4", (TRAIN[3],), ())]


def test_a_waves_graph_keeps_later_nodes_as_recorded() -> None:
    _, graph, state, _ = _case()
    part = wave_graph(graph, state, TRAIN[1:])
    assert dict(part.get(TRAIN[0]).attrs) == dict(graph.get(TRAIN[0]).attrs)  # type: ignore[union-attr]
    for address in TRAIN[1:]:
        assert dict(part.get(address).attrs) == state.resources[address].attrs  # type: ignore[union-attr]
        assert part.get(address).attrs["accelerators"] == 8  # type: ignore[union-attr]


def test_a_waves_plan_holds_its_own_changes_and_the_rest_with_the_first() -> None:
    cluster, _, state, plan = _case()
    made = schedule(cluster, plan, state)
    assert made is not None
    first = wave_plan(plan, made.waves[0], TRAIN[1:], first=True, last=False, applied_digest="sha256:before")
    assert [c.address for c in first.pending if c.kind == "node"] == [TRAIN[0]]
    assert first.spec_digest == "sha256:before"  # the next run still sees the remaining nodes to replace
    assert {h.address for h in first.config} <= {TRAIN[0], *(a for a in state.resources if "/train/" not in a)}
    last = wave_plan(plan, made.waves[3], (), first=False, last=True, applied_digest="sha256:before")
    assert [c.address for c in last.pending] == [TRAIN[3]] and last.spec_digest == plan.spec_digest


class _Apply:
    """Stands in for grid.apply.run's apply of one wave: records the wave's replaced nodes as made."""

    def __init__(self, writer: StateWriter, log: list[str]) -> None:
        self.writer, self.log, self.parts = writer, log, []  # type: list[Plan]

    def __call__(self, part: Plan, graph: ResourceGraph, last: bool) -> ApplyResult:
        self.parts.append(part)
        replaced = [c.address for c in part.pending if c.action is Action.REPLACE]
        self.log.append(f"replace {' '.join(replaced)}")
        from grid.state.model import ChangeRecord, HistoryEntry

        def change(state: State) -> State:
            state = _with_new(state, graph, *replaced)
            entry = HistoryEntry(serial=0, at="now", command="up", spec_digest=part.spec_digest,
                                 changes=[ChangeRecord(address=a, action="replace") for a in replaced])
            return state.model_copy(update={"spec_digest": part.spec_digest, "history": [*state.history, entry]})

        return ApplyResult(self.writer.update(change), ())


class _Slurm(FakeSlurm):
    def requeue(self, ids: Sequence[str]) -> None:
        self._ask("requeue", tuple(ids))
        self.running = {}


def _roller(update: dict[str, Any] | None = None, failing: str = "", slurm: _Slurm | None = None,
            quarantined: tuple[str, ...] = ()) -> tuple[Roller, _Apply, _Slurm, list[str], Plan]:
    cluster, graph, state, plan = _case(update)
    if quarantined:
        from grid.state.model import QuarantineRecord

        state = state.model_copy(update={"quarantined": {
            a: QuarantineRecord(address=a, check="device.health", device="3") for a in quarantined}})
    made = schedule(cluster, plan, state)
    assert made is not None
    writer = StateWriter(MemoryStateStore(), None, state)
    log: list[str] = []
    fake = slurm or _Slurm([Node(h) for h in HOSTS])
    apply = _Apply(writer, log)

    def gate(state_: State, graph_: ResourceGraph, nodes: Sequence[str]) -> GateResult:
        log.append(f"gate {' '.join(nodes)} drained={sorted(n.name for n in fake.nodes_ if n.reason)}")
        if failing in nodes:
            return GateResult(None, {failing: [f"{failing} device.health device 3: failed: Alarm"]})
        return GateResult(None)

    events: list[Event] = []
    roller = Roller(cluster, graph, writer, made, apply, RollSlurm(cluster, graph, fake.connection, Path("/tmp")),
                    gate, events.append)
    return roller, apply, fake, log, plan


def test_each_wave_is_drained_replaced_gated_and_resumed_before_the_next() -> None:
    roller, apply, fake, log, plan = _roller()
    result = roller.run(plan)
    assert result.ok
    assert log == [line for i in range(4) for line in (
        f"replace {TRAIN[i]}", f"gate {TRAIN[i]} drained=['{HOSTS[i]}']")]
    assert [names for names, _ in fake.asked("drain")] == [(h,) for h in HOSTS]
    assert fake.asked("resume") == [(h,) for h in HOSTS]
    assert result.state.rolls == {} and result.state.interrupted == []
    assert result.state.spec_digest == plan.spec_digest
    assert [p.spec_digest for p in apply.parts[:-1]] == ["sha256:before"] * 3
    assert [c.action for e in result.state.history for c in e.changes] == [f"roll-wave {i}/4" for i in range(1, 5)]


def test_a_failing_gate_stops_the_roll_and_leaves_the_rest_untouched() -> None:
    roller, apply, fake, _, plan = _roller(failing=TRAIN[1])
    result = roller.run(plan)
    assert not result.ok and "health gate failed on lab/train/node-0001" in result.failures[0].message
    assert "device.health device 3" in result.failures[0].message
    assert len(apply.parts) == 2 and fake.asked("resume") == [(HOSTS[0],)]
    assert result.state.rolls["lab/train"].wave == 1 and result.state.rolls["lab/train"].phase == "gate"
    assert result.state.interrupted == ["lab"]  # the next plan sees the roll unfinished
    assert result.state.spec_digest == "sha256:before"
    assert result.state.history[-1].outcome == "failed" and "stopped" in result.state.history[-1].message
    for address in TRAIN[2:]:
        assert result.state.resources[address].attrs["accelerators"] == 8


def test_jobs_that_outlast_the_wave_drain_stop_the_roll_before_it_replaces() -> None:
    slurm = _Slurm([Node(h) for h in HOSTS], running={HOSTS[0]: [Job("7", "sleep")]})
    slurm.lasts = None
    roller, apply, _, _, plan = _roller({"max_unavailable": 1, "drain_timeout": 0}, slurm=slurm)
    with pytest.raises(OperationFailed, match=r"wave 1/4 .* jobs are still running .*job\(s\) 7"):
        roller.run(plan)
    assert apply.parts == [] and roller.writer.state.rolls["lab/train"].phase == "drain"


def test_requeue_requeues_the_waves_jobs_instead_of_waiting() -> None:
    slurm = _Slurm([Node(h) for h in HOSTS], running={HOSTS[0]: [Job("7", "sleep")]})
    roller, _, fake, _, plan = _roller({"max_unavailable": 2, "drain": "requeue", "drain_timeout": 0}, slurm=slurm)
    assert roller.run(plan).ok
    assert fake.asked("requeue") == [("7",)]
    assert [names for names, _ in fake.asked("drain")] == [tuple(HOSTS[:2]), tuple(HOSTS[2:])]


def test_a_closed_window_starts_no_wave_and_says_until_when() -> None:
    window = {"days": ["sat"], "hours": "22:00-23:00", "time_zone": "UTC"}
    cluster, _, state, plan = _case({"max_unavailable": 1, "window": window})
    made = schedule(cluster, plan, state)
    assert made is not None
    friday = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert window_closed(made, cluster, friday) == "lab/train: window closed until 2026-12-05T22:00+00:00"
    assert window_closed(made, cluster, datetime(2026, 12, 5, 22, 30, tzinfo=UTC)) is None
    resumed = Schedule(made.roll, tuple(Wave(w.number, w.total, w.nodes, resumed=i == 0)
                                        for i, w in enumerate(made.waves)), made.updates)
    assert window_closed(resumed, cluster, friday) is None  # a wave under way is finished


def test_the_plan_shows_the_waves_in_text_and_json() -> None:
    from grid.cli.views.plan import plan_lines
    from grid.plan.document import to_document
    from grid.plan.waves import plan_waves

    cluster, _, _, plan = _case({"max_unavailable": 2})
    plan = dataclasses.replace(plan, roll=plan_waves(plan, cluster))
    text = [line for line, _ in plan_lines(plan)]
    assert "Rolling replacement (each wave drained, replaced, health-gated, resumed):" in text
    assert "    wave 2/2: lab/train/node-0002, node-0003" in text
    [pool] = to_document(plan)["waves"]
    assert pool["max_unavailable"] == 2 and pool["waves"] == [TRAIN[:2], TRAIN[2:]]


def test_a_quarantined_node_the_roll_replaced_and_gated_is_back_in_service() -> None:
    roller, _, _, _, plan = _roller(quarantined=(TRAIN[1],))
    result = roller.run(plan)
    assert result.ok and result.state.quarantined == {}
    assert any(c.address == TRAIN[1] and c.action == "resume" and c.cause == "health"
               for e in result.state.history for c in e.changes)
