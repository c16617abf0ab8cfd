"""Jobs and the nodes grid removes (grid.apply.drain): the Slurm nodes a plan deletes or replaces are drained,
their jobs waited for up to scheduler.drain_timeout, and the run stops before the infrastructure unless the user
accepts the jobs' end. Slurm is a fake here (its real driver: tests/e2e/test_slurm_drain_e2e.py)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from grid.apply import drain
from grid.apply.events import Event
from grid.errors import OperationFailed
from grid.plan import Action, ResourceChange, make_plan
from grid.plan.document import from_document, to_document
from grid.resources import Kind, ResourceGraph, expand
from grid.spec import spec_digest
from grid.spec.model import Cluster
from grid.state.model import State
from support.fake_slurm import FakeSlurm, Job, Node
from support.paths import EXAMPLES
from support.schemas import validate
from support.specs import applied_state, cluster_from

SLURM_LAB = EXAMPLES / "slurm" / "cluster.yaml"


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds

    @property
    def clock(self) -> drain.Clock:
        return drain.Clock(now=self.now, sleep=self.sleep)


COMPUTE = ["lab-train-0000", "lab-train-0001", "lab-train-0002", "lab-infer-0000", "lab-infer-0001"]


def slurm(**kwargs: Any) -> FakeSlurm:
    return FakeSlurm([Node(n) for n in COMPUTE], **kwargs)


def spec(*, train: int = 3, timeout: int = 600, scheduler: bool = True) -> Cluster:
    def edit(data: dict[str, Any]) -> None:
        data["spec"]["regions"][0]["pools"][1]["count"] = train
        data["spec"]["scheduler"]["drain_timeout"] = timeout
        if not scheduler:
            del data["spec"]["scheduler"]
    return cluster_from(SLURM_LAB, edit)


@dataclass(frozen=True)
class Case:
    cluster: Cluster
    graph: ResourceGraph
    state: State
    plan: Any


def shrink(*, timeout: int = 600, scheduler: bool = True) -> Case:
    """The Slurm lab as applied with 3 train nodes, and the plan that takes it to 2 (lab-train-0002 goes)."""
    before = spec(scheduler=scheduler)
    state = applied_state(expand(before))
    after = spec(train=2, timeout=timeout, scheduler=scheduler)
    graph = expand(after, state.allocations())
    plan = make_plan(graph, state, target="local", spec_digest=spec_digest(after))
    assert [(c.address, c.action) for c in plan.pending] == [("lab/train/node-0002", Action.DELETE)]
    return Case(after, graph, state, plan)


def replacing(case: Case, *addresses: str) -> Any:
    changes = tuple(ResourceChange(c.address, c.kind, c.region, Action.REPLACE, after=c.after)
                    if c.address in addresses else c for c in case.plan.changes)
    return dataclasses.replace(case.plan, changes=changes)


def run(case: Case, fake: FakeSlurm, *, allow: bool = False, clock: FakeClock | None = None,
        plan: Any = None) -> tuple[tuple[str, ...], list[Event]]:
    events: list[Event] = []
    drained = drain.drain_leaving(case.cluster, case.graph, case.state, plan or case.plan, fake.connect,
                                  emit=events.append, allow_job_impact=allow, clock=(clock or FakeClock()).clock)
    return drained, events


def messages(events: list[Event]) -> list[str]:
    return [f"{e.status}: {e.message}" for e in events]


# -- the run ----------------------------------------------------------------------------------------------

def test_no_scheduler_asks_nothing(tmp_path: Path) -> None:
    case = shrink(scheduler=False)
    fake = slurm()
    assert drain.before_infrastructure(tmp_path, case.cluster, case.graph, case.state, case.plan,
                                       connect=fake.connection, emit=pytest.fail, allow_job_impact=False) == ()
    assert drain.plan_with_jobs(tmp_path, case.cluster, case.graph, case.state, case.plan,
                                connect=fake.connection) is case.plan
    assert fake.calls == [] and fake.connected == []


def test_a_plan_that_removes_no_node_asks_nothing(tmp_path: Path) -> None:
    before = spec()
    state = applied_state(expand(before))
    plan = make_plan(expand(before, state.allocations()), state, target="local", spec_digest=spec_digest(before))
    fake = slurm()
    assert drain.before_infrastructure(tmp_path, before, expand(before), state, plan, connect=fake.connection,
                                       emit=pytest.fail, allow_job_impact=False) == ()
    assert fake.connected == []


def test_a_deleted_node_without_jobs_is_drained_and_not_waited_for() -> None:
    case, fake, clock = shrink(), slurm(), FakeClock()
    drained, events = run(case, fake, clock=clock)
    assert drained == ("lab-train-0002",)
    assert fake.connected == [("lab-ctl-0000", "198.18.17.2")]
    assert fake.asked("drain") == [(("lab-train-0002",), "grid: removed from the spec")]
    assert clock.slept == []
    assert messages(events)[-1] == "done: no jobs left on lab-train-0002"


def test_jobs_that_end_are_waited_for_then_the_run_goes_on() -> None:
    case, clock = shrink(), FakeClock()
    fake = slurm(running={"lab-train-0002": [Job("1234", "sleep"), Job("1235", "train")]}, lasts=3)
    drained, events = run(case, fake, clock=clock)
    assert drained == ("lab-train-0002",)
    assert clock.slept == [drain.POLL_SECONDS] * 3
    said = messages(events)
    # What it waits for is said once (not at every poll), then that the drain finished.
    assert said.count("info: waiting for 2 job(s) on lab-train-0002 (drain, up to 600 s)") == 1
    assert said[-1] == "done: no jobs left on lab-train-0002"


def test_a_drain_that_times_out_refuses_naming_the_jobs_and_the_flag() -> None:
    case, clock = shrink(timeout=12), FakeClock()
    fake = slurm(running={"lab-train-0002": [Job("1234", "sleep", "bob")]})
    with pytest.raises(OperationFailed) as refused:
        run(case, fake, clock=clock)
    message, hint = refused.value.message, refused.value.hint
    assert "after waiting 12 s (scheduler.drain_timeout): lab-train-0002: 1234 sleep (bob)" in message
    assert "nothing was changed" in message
    assert "--allow-job-impact" in hint and "scancel 1234" in hint
    assert sum(clock.slept) == 12  # waited exactly the timeout
    assert fake.asked("resume") == []  # still drained: no new job starts there meanwhile


def test_allow_job_impact_goes_on_after_the_timeout() -> None:
    case = shrink(timeout=0)
    fake = slurm(running={"lab-train-0002": [Job("1234", "sleep")]})
    drained, events = run(case, fake, allow=True)
    assert drained == ("lab-train-0002",)
    assert "going on (--allow-job-impact): these jobs end with their nodes: lab-train-0002: 1234 sleep (alice)" \
        in messages(events)[-1]


def test_a_replaced_node_counts_and_is_drained_with_its_own_reason() -> None:
    case = shrink()
    plan = replacing(case, "lab/infer/node-0001")
    fake = slurm(running={"lab-infer-0001": [Job("77", "serve")]}, lasts=1)
    drained, events = run(case, fake, plan=plan)
    assert drained == ("lab-infer-0001", "lab-train-0002")
    assert fake.asked("drain") == [(("lab-train-0002",), "grid: removed from the spec"),
                                   (("lab-infer-0001",), "grid: replaced by grid up")]
    assert "info: waiting for 1 job(s) on lab-infer-0001 (drain, up to 600 s)" in messages(events)


def test_a_replaced_node_with_a_job_that_stays_refuses() -> None:
    case = shrink(timeout=0)
    plan = replacing(case, "lab/infer/node-0001")
    with pytest.raises(OperationFailed, match="lab-infer-0001: 9 serve"):
        run(case, slurm(running={"lab-infer-0001": [Job("9", "serve")]}), plan=plan)


def test_an_unreachable_controller_refuses_unless_allowed() -> None:
    case = shrink()
    with pytest.raises(OperationFailed) as refused:
        run(case, slurm(down=True))
    assert "the Slurm controller lab-ctl-0000 (198.18.17.2) cannot be asked: slurm_load_jobs error" \
        in refused.value.message
    assert "lab-train-0002" in refused.value.message and "--allow-job-impact" in refused.value.hint
    drained, events = run(case, slurm(down=True), allow=True)
    assert drained == () and "going on without draining lab-train-0002 (--allow-job-impact)" in events[-1].message


def test_an_unreachable_controller_that_leaves_too_does_not_block() -> None:
    case = shrink()
    plan = replacing(case, "lab/ctl/node-0000")
    drained, events = run(case, slurm(down=True), plan=plan)
    assert drained == () and "it is deleted or replaced in this run too" in events[-1].message


def test_replacing_the_controller_while_slurm_knows_jobs_refuses_unless_allowed() -> None:
    """slurmctld's state is on its node: a new controller forgets the queue. Refused while there is one."""
    case = shrink()
    plan = replacing(case, "lab/ctl/node-0000")
    fake = slurm(running={"lab-train-0000": [Job("41", "train", "bob")]})
    with pytest.raises(OperationFailed) as refused:
        run(case, fake, plan=plan)
    assert "replaces the Slurm controller lab-ctl-0000, and its state with it: 1 job(s) Slurm knows would be " \
           "forgotten (41 train (bob))" in refused.value.message
    assert "--allow-job-impact" in (refused.value.hint or "")
    assert fake.asked("drain") == []  # refused before anything was drained
    _, events = run(case, fake, plan=plan, allow=True)
    assert "going on (--allow-job-impact)" in messages(events)[0]
    assert run(case, slurm(), plan=plan)[0] == ("lab-train-0002",)  # no jobs: nothing to lose


def test_nodes_slurm_does_not_have_are_not_drained() -> None:
    case = shrink()
    fake = FakeSlurm([Node(n) for n in COMPUTE if n != "lab-train-0002"])
    assert run(case, fake) == ((), [])
    assert fake.asked("drain") == []


def test_a_rerun_drains_again_and_converges() -> None:
    """A run killed while it waited left the node drained: the rerun drains it again (harmless) and goes on."""
    case = shrink()
    fake = slurm(running={"lab-train-0002": [Job("5", "sleep")]}, lasts=1)
    fake.drain(["lab-train-0002"], drain.REASONS[Action.DELETE])
    assert run(case, fake)[0] == ("lab-train-0002",)
    assert len(fake.asked("drain")) == 2


def test_a_controller_not_made_yet_is_not_asked() -> None:
    case = shrink()
    state = case.state.model_copy(update={"resources": {a: r for a, r in case.state.resources.items()
                                                        if a != "lab/ctl/node-0000"}})
    fake = slurm()
    drained, events = run(dataclasses.replace(case, state=state), fake)
    assert drained == () and fake.connected == [] and events[0].status == "skipped"


# -- after the run: resume what grid drained and the spec keeps ------------------------------------------------

def test_nodes_grid_drained_that_the_spec_keeps_are_resumed_others_stay() -> None:
    case = shrink()
    fake = slurm()
    fake.drain(["lab-infer-0001"], drain.REASONS[Action.REPLACE])
    fake.drain(["lab-infer-0000"], "bad DIMM (ops)")
    events: list[Event] = []
    assert drain.resume_kept(case.cluster, case.graph, case.state, fake.connect, emit=events.append) == (
        "lab-infer-0001",)
    assert fake.asked("resume") == [("lab-infer-0001",)]
    assert messages(events) == ["done: resumed lab-infer-0001 (drained by grid)"]


def test_after_a_first_bring_up_nothing_is_asked(tmp_path: Path) -> None:
    case = shrink()
    fake = slurm()
    drain.after_run(tmp_path, case.cluster, case.graph, State(cluster=case.cluster.name), case.state, drained=(),
                    connect=fake.connection, emit=pytest.fail)
    assert fake.connected == []


# -- the plan ------------------------------------------------------------------------------------------------

def test_the_plan_names_the_jobs_on_the_nodes_it_removes(tmp_path: Path) -> None:
    case = shrink()
    fake = slurm(running={"lab-train-0002": [Job("1234", "sleep")]})
    plan = drain.plan_with_jobs(tmp_path, case.cluster, case.graph, case.state, case.plan, connect=fake.connection)
    assert plan.jobs is not None and plan.jobs.jobs == 1
    assert plan.jobs.lines() == ["lab-train-0002: 1 job running (1234 sleep); drained first, up to 600 s"]
    assert fake.asked("drain") == []  # planning changes nothing
    document = to_document(plan)
    validate(document, "grid-plan-v1")
    assert from_document(document).jobs == plan.jobs  # a saved plan keeps it
    assert to_document(case.plan)["jobs"] is None and from_document(to_document(case.plan)).jobs is None


def test_the_plan_says_jobs_unknown_when_the_controller_cannot_be_asked(tmp_path: Path) -> None:
    case = shrink()
    plan = drain.plan_with_jobs(tmp_path, case.cluster, case.graph, case.state, case.plan,
                                connect=slurm(down=True).connection)
    assert plan.jobs is not None
    line, = plan.jobs.lines()
    assert line.startswith("lab-train-0002: jobs unknown (the Slurm controller lab-ctl-0000 (198.18.17.2) cannot "
                           "be asked:") and line.endswith("; drained first, up to 600 s")
    validate(to_document(plan), "grid-plan-v1")


def test_no_jobs_is_said_too(tmp_path: Path) -> None:
    case = shrink()
    plan = drain.plan_with_jobs(tmp_path, case.cluster, case.graph, case.state, case.plan,
                                connect=slurm().connection)
    assert plan.jobs is not None and plan.jobs.lines() == ["lab-train-0002: no jobs; drained first, up to 600 s"]


def test_only_nodes_are_counted() -> None:
    case = shrink()
    assert [n.hostname for n in drain.leaving_nodes(case.plan, case.state)] == ["lab-train-0002"]
    assert all(c.kind == Kind.NODE.value for c in case.plan.pending)
