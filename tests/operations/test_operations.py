"""The operations layer: one read of the state, one expansion, one digest pass and one identity per run;
the plan is approved before anything changes; refusals are GridErrors (message + hint)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import grid.apply.run
import grid.plan.digests
import grid.workspace
from grid import operations
from grid.errors import GridError, OperationFailed
from grid.plan.document import to_document
from grid.workspace import Workspace, open_workspace
from support.aws_lab import AWS_LAB, aws_lab_workspace
from support.fakes import FakeStacks, RecordingAnsible


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return aws_lab_workspace(tmp_path)


def fakes() -> tuple[operations.Engines, FakeStacks, RecordingAnsible]:
    stacks, ansible = FakeStacks(seconds=(0.0, 0.0)), RecordingAnsible()
    return operations.Engines(stacks=lambda *_: stacks, ansible=lambda _: ansible), stacks, ansible


@pytest.fixture
def calls(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """How often a run reads the state, expands the spec, digests the hosts and resolves the identity."""
    counted = {"read": 0, "expand": 0, "digests": 0, "identity": 0}

    def counting(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counted[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(ws.store, "read", counting("read", ws.store.read))
    monkeypatch.setattr(grid.workspace, "expand", counting("expand", grid.workspace.expand))
    monkeypatch.setattr(grid.plan.digests, "host_input_digests",
                        counting("digests", grid.plan.digests.host_input_digests))
    up_module = importlib.import_module("grid.operations.up")  # the package's `up` is the function
    identity = counting("identity", up_module.resolve_identity)
    monkeypatch.setattr(up_module, "resolve_identity", identity)
    monkeypatch.setattr(grid.apply.run, "resolve_identity", identity)
    yield counted


def test_up_reads_expands_digests_and_resolves_once(ws: Workspace, calls: dict[str, int]) -> None:
    engines, stacks, ansible = fakes()
    approved: list[int] = []
    outcome = operations.up(ws, operations.UpOptions(skip_check=True),
                            approve=lambda planned, identity: approved.append(len(planned.plan.pending)),
                            emit=lambda event: None, engines=engines)
    assert outcome.status == "applied" and outcome.ok
    assert approved and approved[0] > 0
    # The apply reads, expands and digests nothing again; the second expansion and digests are the plan that
    # verifies the saved state before sealing it (grid.operations.planning.seal_saved), which reads nothing.
    assert calls == {"read": 1, "expand": 2, "digests": 2, "identity": 1}
    assert (ws.workdir / "state.seal.json").exists()
    assert {region for region, *_ in stacks.ran} == set(ws.cluster.spec.regions[i].name
                                                       for i in range(len(ws.cluster.spec.regions)))
    assert ansible.runs, "the nodes were configured"
    envelope = ws.store.read()
    assert envelope is not None and outcome.serial == envelope.serial


def test_declining_the_plan_changes_nothing(ws: Workspace) -> None:
    engines, stacks, ansible = fakes()

    def decline(*_: Any) -> None:
        raise OperationFailed("cancelled; nothing was changed")

    with pytest.raises(OperationFailed):
        operations.up(ws, operations.UpOptions(skip_check=True), approve=decline, emit=lambda e: None,
                      engines=engines)
    assert ws.store.read() is None and not stacks.ran and not ansible.runs


def test_a_second_up_has_nothing_to_do_and_asks_nothing(ws: Workspace) -> None:
    engines, _, _ = fakes()
    options = operations.UpOptions(skip_check=True)
    operations.up(ws, options, approve=lambda *_: None, emit=lambda e: None, engines=engines)

    def never(*_: Any) -> None:
        raise AssertionError("nothing to approve")

    again = operations.up(ws, options, approve=never, emit=lambda e: None, engines=engines)
    assert again.status == "no-changes" and again.serial == ws.store.read().serial  # type: ignore[union-attr]


def test_a_saved_plan_is_refused_once_someone_applied(ws: Workspace, tmp_path: Path) -> None:
    engines, _, _ = fakes()
    saved_file = tmp_path / "plan.json"
    document = to_document(operations.plan(ws).plan, spec_path=str(AWS_LAB), grid_version="test")
    saved_file.write_text(json.dumps(document))
    operations.up(ws, operations.UpOptions(skip_check=True), approve=lambda *_: None, emit=lambda e: None,
                  engines=engines)
    saved = operations.load_saved_plan(saved_file)
    assert operations.spec_of(saved, None) == AWS_LAB
    with pytest.raises(GridError, match="the saved plan is stale") as refused:
        operations.apply_saved(ws, saved, operations.ApplySavedOptions(skip_check=True), approve=lambda p: None,
                               emit=lambda e: None, engines=engines)
    assert "plan again" in refused.value.hint


def test_destroy_refuses_protected_storage_before_asking(tmp_path: Path) -> None:
    spec = tmp_path / "protected.yaml"
    spec.write_text(AWS_LAB.read_text().replace("backend: efs}", "backend: efs, protect: true}"))
    ws = open_workspace(spec, workdir=tmp_path / "work")
    assert isinstance(ws, Workspace)
    engines, _, _ = fakes()
    operations.up(ws, operations.UpOptions(skip_check=True), approve=lambda *_: None, emit=lambda e: None,
                  engines=engines)

    def never(count: int) -> None:
        raise AssertionError("asked before refusing")

    with pytest.raises(OperationFailed, match="protected storage would be destroyed") as refused:
        operations.destroy(ws, operations.DestroyOptions(), approve=never, emit=lambda e: None, engines=engines)
    assert "--allow-destroy-protected" in refused.value.hint


def test_a_missing_saved_plan_says_how_to_write_one(tmp_path: Path) -> None:
    with pytest.raises(OperationFailed, match="no saved plan at") as refused:
        operations.load_saved_plan(tmp_path / "nope.json")
    assert "grid plan SPEC --out FILE" in refused.value.hint


def test_the_spec_is_recorded_as_applied_only_once_the_run_worked(ws: Workspace) -> None:
    region = ws.cluster.spec.regions[0].name
    stacks, ansible = FakeStacks(failing=[region], seconds=(0.0, 0.0)), RecordingAnsible()
    engines = operations.Engines(stacks=lambda *_: stacks, ansible=lambda _: ansible)
    failed = operations.up(ws, operations.UpOptions(skip_check=True), approve=lambda *_: None,
                           emit=lambda e: None, engines=engines)
    assert failed.status == "failed"
    assert ws.store.read().state.applied_spec is None  # type: ignore[union-attr]
    worked = operations.up(ws, operations.UpOptions(skip_check=True), approve=lambda *_: None,
                           emit=lambda e: None, engines=fakes()[0])
    assert worked.status == "applied"
    assert ws.store.read().state.applied_spec == ws.cluster.model_dump(mode="json")  # type: ignore[union-attr]
