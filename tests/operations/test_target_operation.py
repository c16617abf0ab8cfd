"""`grid up --target` and `grid apply` of a saved partial plan through the operations layer with fake engines:
only the selected part is applied, configured and recorded; the next whole plan still shows the rest."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from grid import operations
from grid.errors import GridError, OperationFailed
from grid.plan import Action
from grid.plan.document import to_document
from grid.workspace import Workspace, open_workspace
from support.fakes import FakeStacks, RecordingAnsible
from support.paths import EXAMPLES


def write_spec(path: Path, *, train: int, infer: int) -> Path:
    data = yaml.safe_load((EXAMPLES / "targets" / "lab-aws.yaml").read_text())
    data["spec"]["regions"][0]["pools"][0]["count"] = train
    data["spec"]["regions"][1]["pools"][0]["count"] = infer
    # Every host's /etc/hosts lists the cluster: a part applied alone leaves the other hosts' tables to learn it.
    data["spec"]["configuration"]["names"] = "hosts_file"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def workspace(spec: Path, workdir: Path) -> Workspace:
    opened = open_workspace(spec, workdir=workdir)
    assert isinstance(opened, Workspace)
    return opened


def up(ws: Workspace, stacks: FakeStacks, ansible: RecordingAnsible, *targets: str) -> operations.Outcome:
    engines = operations.Engines(stacks=lambda *_: stacks, ansible=lambda _: ansible)
    return operations.up(ws, operations.UpOptions(skip_check=True, targets=targets), approve=lambda *_: None,
                         emit=lambda _: None, engines=engines)


@pytest.fixture
def grown(tmp_path: Path) -> tuple[Path, Path]:
    """2 train nodes in east and 2 infer nodes in west are up; the spec now wants a third of each."""
    spec, workdir = write_spec(tmp_path / "cluster.yaml", train=2, infer=2), tmp_path / "work"
    assert up(workspace(spec, workdir), FakeStacks(seconds=(0, 0)), RecordingAnsible()).status == "applied"
    write_spec(spec, train=3, infer=3)
    return spec, workdir


def test_up_with_a_target_applies_and_records_only_that_part(grown: tuple[Path, Path]) -> None:
    spec, workdir = grown
    stacks, ansible = FakeStacks(seconds=(0, 0)), RecordingAnsible()
    outcome = up(workspace(spec, workdir), stacks, ansible, "east/train/*")
    assert outcome.status == "applied", outcome
    assert outcome.plan is not None and outcome.plan.selection is not None
    assert [(c.address, c.action) for c in outcome.plan.pending] == [("east/train/node-0002", Action.CREATE)]
    assert [region for region, _, _ in stacks.ran] == ["east"]  # west's stack was not run
    configured = {h for scopes, _ in ansible.runs for h in scopes}
    assert configured and all(h.startswith("east-train-") for h in configured)
    _, state = workspace(spec, workdir).read_state()
    assert "east/train/node-0002" in state.resources and "west/infer/node-0002" not in state.resources
    assert [c.address for c in state.history[-1].changes if not c.action.startswith("configure")] == [
        "east/train/node-0002"]
    after = operations.plan(workspace(spec, workdir)).plan
    assert [(c.address, c.action) for c in after.pending] == [("west/infer/node-0002", Action.CREATE)]
    assert {h.address for h in after.config} >= {"west/infer/node-0000", "west/infer/node-0002"}


def test_a_saved_partial_plan_applies_only_its_part(grown: tuple[Path, Path], tmp_path: Path) -> None:
    spec, workdir = grown
    planned = operations.plan(workspace(spec, workdir), operations.PlanOptions(targets=("west/*",)))
    saved = tmp_path / "plan.json"
    saved.write_text(json.dumps(to_document(planned.plan, spec_path=str(spec))))
    stacks = FakeStacks(seconds=(0, 0))
    engines = operations.Engines(stacks=lambda *_: stacks, ansible=lambda _: RecordingAnsible())
    loaded = operations.load_saved_plan(saved)
    outcome = operations.apply_saved(workspace(spec, workdir), loaded,
                                     operations.ApplySavedOptions(skip_check=True), approve=lambda _: None,
                                     emit=lambda _: None, engines=engines)
    assert outcome.status == "applied"
    assert [region for region, _, _ in stacks.ran] == ["west"]
    _, state = workspace(spec, workdir).read_state()
    assert "west/infer/node-0002" in state.resources and "east/train/node-0002" not in state.resources


def test_a_saved_partial_plan_whose_selection_changed_is_refused(grown: tuple[Path, Path]) -> None:
    spec, workdir = grown
    planned = operations.plan(workspace(spec, workdir), operations.PlanOptions(targets=("west/*",)))
    assert planned.plan.selection is not None
    forged = dataclasses.replace(planned.plan, selection=dataclasses.replace(
        planned.plan.selection, addresses=("west/infer/node-0002",)))
    saved = operations.SavedPlan(Path("plan.json"), forged, spec)
    with pytest.raises(OperationFailed, match="no longer selects what it did"):
        operations.apply_saved(workspace(spec, workdir), saved, operations.ApplySavedOptions(skip_check=True),
                               approve=lambda _: None, emit=lambda _: None,
                               engines=operations.Engines(stacks=lambda *_: FakeStacks(seconds=(0, 0)),
                                                          ansible=lambda _: RecordingAnsible()))


def test_a_target_matching_nothing_stops_before_anything_runs(grown: tuple[Path, Path]) -> None:
    spec, workdir = grown
    stacks = FakeStacks(seconds=(0, 0))
    with pytest.raises(GridError, match=r"--target north/\*: matches no resource"):
        up(workspace(spec, workdir), stacks, RecordingAnsible(), "north/*")
    assert stacks.ran == []
