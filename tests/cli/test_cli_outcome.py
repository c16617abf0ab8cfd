"""The line after an apply or a destroy: how long it took and which state serial it saved."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from grid.apply import run
from grid.apply.context import ApplyResult
from grid.apply.events import Failure
from grid.cli import common
from grid.state.model import empty_state
from grid.workspace import Workspace, open_workspace
from support.paths import EXAMPLES

LAB = EXAMPLES / "local-lab" / "cluster.yaml"


def test_the_applied_line_names_the_serial_saved(capsys: pytest.CaptureFixture[str]) -> None:
    outcome = ApplyResult(empty_state("lab"), (), serial=12)
    common.report_outcome(outcome, time.monotonic() - 5.0)
    assert capsys.readouterr().out.strip() == "applied in 5.0s; state serial 12 saved."


def test_the_destroyed_line_goes_to_stderr_when_stdout_carries_json(capsys: pytest.CaptureFixture[str]) -> None:
    common.report_outcome(ApplyResult(empty_state("lab"), (), serial=3), time.monotonic(), verb="destroyed",
                          to_stderr=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "destroyed in 0.0s; state serial 3 saved." in captured.err


def test_a_failed_run_lists_its_failures_instead(capsys: pytest.CaptureFixture[str]) -> None:
    failure = Failure("infrastructure", "east", "podman refused")
    common.report_outcome(ApplyResult(empty_state("lab"), (failure,), serial=4), time.monotonic())
    captured = capsys.readouterr()
    assert "state serial" not in captured.out + captured.err
    assert "1 failure(s)" in captured.err and "podman refused" in captured.err


def test_the_serial_a_run_reports_is_the_one_the_store_holds(tmp_path: Path) -> None:
    ws = open_workspace(LAB, workdir=tmp_path)
    assert isinstance(ws, Workspace)
    serial = 0
    for digest in ("sha256:a", "sha256:b", "sha256:c"):  # a state some runs have written
        serial = ws.store.write(empty_state("lab").model_copy(update={"spec_digest": digest}), serial).serial
    outcome = run.destroy(ws, emit=lambda event: None, stacks=None)  # nothing deployed: only state changes
    envelope = ws.store.read()
    assert outcome.ok and envelope is not None
    assert outcome.serial == envelope.serial == serial + 1
