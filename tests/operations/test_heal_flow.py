"""`grid up --heal` through the operations layer with fake engines, a fake Slurm and a fake health suite: a
failing node is drained with a reason naming the check, replaced by the pool's next free slot, gated and
removed; a failing gate stops with the old node quarantined; beyond max_unhealthy grid stops, saying why."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

import pytest
import yaml

from grid import operations
from grid.apply.drain import resume_kept
from grid.apply.health_runner import HealthReport, NodeHealth
from grid.health.results import NODE_WIDE, CheckResult, Status
from grid.health.suites import Suite
from grid.operations.heal import Healed, heal
from grid.resources import Kind, ResourceGraph
from grid.state.model import State
from grid.workspace import Workspace, graph_for, open_workspace
from support.fake_slurm import FakeSlurm, Node
from support.fakes import FakeStacks, RecordingAnsible
from support.paths import EXAMPLES


def write_spec(path: Path, *, on_failure: str = "replace", max_unhealthy: str = "50%") -> Path:
    data = yaml.safe_load((EXAMPLES / "targets" / "lab-aws.yaml").read_text())
    data["spec"]["regions"][0]["pools"][0]["count"] = 4
    data["spec"]["regions"][0]["pools"][0]["health"] = {"on_failure": on_failure, "max_unhealthy": max_unhealthy}
    data["spec"]["regions"][1]["pools"].insert(0, {"name": "ctl", "count": 1, "fabrics": ["mgmt"],
                                                   "instance_types": {"aws": "c7g.large"}})
    data["spec"]["scheduler"] = {"kind": "slurm", "controller": {"pool": "ctl"}, "drain_timeout": 0}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class FakeSuite:
    """The quick suite: nodes in `failing` report NPU 3 in alarm; the rest pass. Records what it checked."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.checked: list[list[str]] = []

    def __call__(self, ws: Workspace, state: State, graph: ResourceGraph, suite: Suite, nodes: Collection[str],
                 on_node: Callable[[NodeHealth], None] | None) -> HealthReport:
        self.checked.append(sorted(nodes))
        out = []
        for node in graph.of_kind(Kind.NODE):
            if node.address in nodes:
                status = Status.FAILED if node.address in self.failing else Status.OK
                found = "Alarm" if status is Status.FAILED else "OK"
                result = CheckResult(node.address, "device.health", "3" if status is Status.FAILED else NODE_WIDE,
                                     status, found, "OK")
                out.append(NodeHealth(node.address, str(node.attrs["hostname"]), (result,)))
        return HealthReport(suite, tuple(out))


@pytest.fixture
def lab(tmp_path: Path) -> tuple[Workspace, FakeSlurm, FakeSuite, operations.Engines]:
    spec = write_spec(tmp_path / "cluster.yaml")
    fake = FakeSlurm([Node(f"east-train-{i:04d}") for i in range(6)])
    stacks = FakeStacks(seconds=(0.0, 0.0))
    engines = operations.Engines(stacks=lambda *_: stacks, ansible=lambda _: RecordingAnsible(),
                                 slurm=fake.connection)
    ws = open_workspace(spec, workdir=tmp_path / "work")
    assert isinstance(ws, Workspace)
    assert operations.up(ws, operations.UpOptions(skip_check=True), approve=lambda *_: None,
                         emit=lambda _: None, engines=engines).status == "applied"
    return ws, fake, FakeSuite(), engines


def healing(ws: Workspace, suite: FakeSuite, engines: operations.Engines) -> Healed:
    return heal(ws, operations.UpOptions(skip_check=True), approve=lambda *_: None, emit=lambda _: None,
                engines=engines, check=suite)


def test_a_failing_node_is_quarantined_replaced_by_the_next_slot_and_removed(lab: tuple[
        Workspace, FakeSlurm, FakeSuite, operations.Engines]) -> None:
    ws, fake, suite, engines = lab
    suite.failing = {"east/train/node-0001"}
    healed = healing(ws, suite, engines)
    assert healed.ok, healed.stopped
    assert healed.quarantined == ("east/train/node-0001",)
    assert healed.replaced == (("east/train/node-0001", "east/train/node-0004"),)
    assert fake.asked("drain")[0] == (("east-train-0001",), "grid: quarantined: device.health device 3: Alarm")
    assert ("east-train-0004",) in fake.asked("resume")
    assert suite.checked[-1] == ["east/train/node-0004"]  # the gate
    state = ws.read_state()[1]
    nodes = sorted(a for a in state.resources if a.startswith("east/train/"))
    assert nodes == ["east/train/node-0000", "east/train/node-0002", "east/train/node-0003",
                     "east/train/node-0004"]
    assert state.quarantined == {} and state.slots["east/train"].retired == [1]
    actions = [(c.address, c.action) for e in state.history if e.command == "up --heal" for c in e.changes]
    assert ("east/train/node-0001", "quarantine") in actions and ("east/train/node-0001", "replace") in actions
    assert healing(ws, suite, engines).ok  # once healed, nothing more to do
    assert ws.read_state()[1].resources.keys() == state.resources.keys()


def test_a_replacement_failing_its_gate_stops_with_the_old_node_quarantined(lab: tuple[
        Workspace, FakeSlurm, FakeSuite, operations.Engines]) -> None:
    ws, _, suite, engines = lab
    suite.failing = {"east/train/node-0002", "east/train/node-0004"}
    healed = healing(ws, suite, engines)
    assert "east/train/node-0004 failed its health gate" in healed.stopped
    assert "east/train/node-0002 stay quarantined" in healed.stopped
    state = ws.read_state()[1]
    assert "east/train/node-0002" in state.quarantined and "east/train/node-0002" in state.resources
    suite.failing = {"east/train/node-0002"}  # the replacement is fixed: the next heal completes it
    assert healing(ws, suite, engines).ok
    state = ws.read_state()[1]
    assert "east/train/node-0002" not in state.resources and state.quarantined == {}


def test_beyond_max_unhealthy_grid_quarantines_what_is_allowed_and_stops(tmp_path: Path, lab: tuple[
        Workspace, FakeSlurm, FakeSuite, operations.Engines]) -> None:
    ws, fake, suite, engines = lab
    write_spec(ws.spec_path, on_failure="quarantine", max_unhealthy="25%")
    ws = open_workspace(ws.spec_path, workdir=ws.workdir)
    assert isinstance(ws, Workspace)
    suite.failing = {"east/train/node-0000", "east/train/node-0002", "east/train/node-0003"}
    healed = healing(ws, suite, engines)
    assert not healed.ok and healed.quarantined == ("east/train/node-0000",)
    assert "3 of 4 failing > max_unhealthy 25%" in healed.stopped and "mass failure" in healed.stopped
    state = ws.read_state()[1]
    assert list(state.quarantined) == ["east/train/node-0000"]
    assert state.history[-1].message == healed.stopped and state.history[-1].health is not None
    suite.failing = set()  # passing again: resumed, record dropped
    again = healing(ws, suite, engines)
    assert again.ok and again.resumed == ("east/train/node-0000",)
    assert ws.read_state()[1].quarantined == {}
    assert ("east-train-0000",) in fake.asked("resume")


def test_a_run_that_resumes_grid_drained_nodes_leaves_quarantined_ones_drained(lab: tuple[
        Workspace, FakeSlurm, FakeSuite, operations.Engines]) -> None:
    ws, fake, _, _ = lab
    fake.nodes_ = [Node("east-train-0000", "drained", "grid: quarantined: device.health device 3: Alarm"),
                   Node("east-train-0001", "drained", "grid: replaced by grid up"), Node("east-train-0002")]
    state = ws.read_state()[1]
    resumed = resume_kept(ws.cluster, graph_for(ws, state), state, fake.connect, emit=lambda _: None)
    assert resumed == ("east-train-0001",)


class Interrupted(BaseException):
    """What Ctrl-C (or a kill) does to a heal: it stops where it is, whatever it was doing."""


@pytest.mark.parametrize("stop_at", ["the gate", "the removal's approval", "the replacement's approval"])
def test_a_heal_stopped_at_any_step_is_completed_by_the_next(stop_at: str, lab: tuple[
        Workspace, FakeSlurm, FakeSuite, operations.Engines]) -> None:
    ws, _, suite, engines = lab
    suite.failing = {"east/train/node-0001"}
    approvals: list[int] = []

    def approve(*_: object) -> None:
        approvals.append(1)
        if (stop_at == "the replacement's approval" and len(approvals) == 1) or (
                stop_at == "the removal's approval" and len(approvals) == 2):
            raise Interrupted

    def check(*args: object) -> HealthReport:
        if stop_at == "the gate" and len(suite.checked) == 1:
            raise Interrupted
        return suite(*args)  # type: ignore[arg-type]

    with pytest.raises(Interrupted):
        heal(ws, operations.UpOptions(skip_check=True), approve=approve, emit=lambda _: None, engines=engines,
             check=check)
    state = ws.read_state()[1]
    assert "east/train/node-0001" in state.quarantined  # recorded before anything else happened
    healed = healing(ws, suite, engines)
    assert healed.ok, healed.stopped
    state = ws.read_state()[1]
    assert state.quarantined == {} and "east/train/node-0001" not in state.resources
    assert "east/train/node-0004" in state.resources and state.slots["east/train"].retired == [1]
