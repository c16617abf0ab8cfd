"""A re-run of `grid up` on an applied spec pays for what it does (issue 20, start-up): no stack engine (a
Pulumi worker process, ~0.4 CPU-s of imports) is started before its plan, nor the apply's modules loaded; a
run whose plan has changes after all (a host changed by hand) still gets its engine and applies them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from grid import operations
from grid.workspace import Workspace, open_workspace
from support.aws_lab import AWS_LAB, aws_lab_workspace
from support.fakes import FakeStacks, RecordingAnsible


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return aws_lab_workspace(tmp_path)


class Engines:
    """Fake engines that record each stack engine asked for: whether it was to be started early (warm)."""

    def __init__(self) -> None:
        self.stacks, self.ansible = FakeStacks(seconds=(0.0, 0.0)), RecordingAnsible()
        self.warm: list[bool] = []

    def engines(self) -> operations.Engines:
        def stacks(_ws: Any, _identity: Any, _trust: bool, warm: bool) -> FakeStacks:
            self.warm.append(warm)
            return self.stacks

        return operations.Engines(stacks=stacks, ansible=lambda _: self.ansible)


def up(ws: Workspace, fakes: Engines) -> operations.Outcome:
    return operations.up(ws, operations.UpOptions(skip_check=True), approve=lambda *_: None,
                         emit=lambda event: None, engines=fakes.engines())


def test_a_first_up_starts_its_engine_before_the_plan_and_a_rerun_starts_none(ws: Workspace) -> None:
    fakes = Engines()
    assert up(ws, fakes).status == "applied"
    assert fakes.warm == [True]  # a new spec: its worker's start-up overlaps the plan
    assert up(ws, fakes).status == "no-changes"
    assert fakes.warm == [True], "a re-run of the applied spec started a stack engine"


def test_a_rerun_that_finds_a_host_changed_still_applies(ws: Workspace) -> None:
    fakes = Engines()
    up(ws, fakes)
    envelope = ws.store.read()
    assert envelope is not None
    address = sorted(envelope.state.hosts)[0]
    hosts = dict(envelope.state.hosts)
    hosts[address] = hosts[address].model_copy(update={"node_digest": "sha256:changed-by-hand"})
    ws.store.write(envelope.state.model_copy(update={"hosts": hosts}), envelope.serial)
    configured_before = len(fakes.ansible.runs)
    outcome = up(ws, fakes)
    assert outcome.status == "applied" and outcome.ok
    assert fakes.warm == [True, False]  # asked for when the plan had changes, not started early
    assert len(fakes.ansible.runs) > configured_before


def test_a_changed_spec_starts_its_engine_early_again(ws: Workspace, tmp_path: Path) -> None:
    fakes = Engines()
    up(ws, fakes)
    data = yaml.safe_load(AWS_LAB.read_text())
    data["spec"]["regions"][0]["pools"][0]["count"] += 1
    spec = tmp_path / "grown.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    grown = open_workspace(spec, workdir=ws.workdir)
    assert isinstance(grown, Workspace)
    assert up(grown, fakes).status == "applied"
    assert fakes.warm == [True, True]


def test_a_noop_up_loads_no_apply_module(tmp_path: Path) -> None:
    """In a fresh interpreter: apply once, then time nothing but what a re-run imports."""
    probe = f"""
import sys
from pathlib import Path
from grid import operations
from grid.workspace import open_workspace
sys.path.insert(0, {str(Path(__file__).parents[1])!r})
from support.fakes import FakeStacks, RecordingAnsible
stacks, ansible = FakeStacks(seconds=(0.0, 0.0)), RecordingAnsible()
engines = operations.Engines(stacks=lambda *_: stacks, ansible=lambda _: ansible)
ws = open_workspace(Path({str(AWS_LAB)!r}), workdir=Path({str(tmp_path / "work")!r}))
options = operations.UpOptions(skip_check=True)
assert operations.up(ws, options, approve=lambda *_: None, emit=print, engines=engines).status == "applied"
for name in [m for m in sys.modules if m.startswith(("grid.apply.", "grid.check", "grid.drivers.ansible"))]:
    if name != "grid.apply.reaper":
        del sys.modules[name]
ws = open_workspace(Path({str(AWS_LAB)!r}), workdir=Path({str(tmp_path / "work")!r}))
assert operations.up(ws, options, approve=lambda *_: None, emit=print, engines=engines).status == "no-changes"
loaded = sorted(m for m in sys.modules if m.startswith(("grid.apply.", "grid.check", "grid.drivers.ansible")))
assert loaded in ([], ["grid.apply.reaper"]), loaded
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
