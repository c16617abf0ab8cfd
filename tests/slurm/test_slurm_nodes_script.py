"""The slurm role's grid-slurm-nodes (run on the controller): which nodes are out of service and not grid's,
and how `resume` waits for nodes whose slurmd just came back, resumes the rest and fails on a node that stays
out (named with Slurm's reason, never resumed over and over). sinfo and scontrol are stood in for here; the
real ones are test_slurm_drift_e2e's."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from types import ModuleType
from typing import Any

import pytest


def _load() -> ModuleType:
    with resources.as_file(resources.files("grid.templates") / "ansible" / "roles" / "slurm" / "files"
                           / "grid-slurm-nodes") as path:
        loader = importlib.machinery.SourceFileLoader("grid_slurm_nodes", str(path))  # a script: no .py
        spec = importlib.util.spec_from_file_location("grid_slurm_nodes", path, loader=loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        loader.exec_module(module)
        return module


nodes = _load()

SINFO = ("n0|idle|none\n"
         "n1|idle+drain|bad disk\n"
         "n1|idle+drain|bad disk\n"  # a second partition
         "n2|down+not_responding|Not responding\n"
         "n3|mixed+drain|grid: removed from the spec\n"
         "n4|down*|hand\n"
         "n5|allocated|none\n")


def test_out_of_service_nodes_that_grid_did_not_take_out() -> None:
    found = nodes.foreign(nodes.parse(SINFO))
    assert [n.name for n in found] == ["n1", "n2", "n4"]
    assert [n.describe() for n in found] == [
        "n1 DRAIN in Slurm (reason: 'bad disk', not grid's)",
        "n2 DOWN in Slurm (reason: 'Not responding', not responding, not grid's)",
        "n4 DOWN in Slurm (reason: 'hand', not responding, not grid's)"]


def test_a_reason_with_a_semicolon_stays_one_finding() -> None:
    (node,) = nodes.parse("n1|drained|disk; fan\n")
    assert node.describe() == "n1 DRAIN in Slurm (reason: 'disk, fan', not grid's)"


class FakeSlurm:
    """Slurm's nodes {name: "state|reason"}; `later`: (time, name, "state|reason") applied once the clock (which
    sleep advances) reaches the time; a RESUME sets a node to `resumed_as` (idle by default) and is recorded."""

    def __init__(self) -> None:
        self.nodes: dict[str, str] = {}
        self.later: list[tuple[float, str, str]] = []
        self.resumed_as: dict[str, str] = {}
        self.updates: list[str] = []
        self.now = 0.0

    def sinfo(self) -> list[Any]:
        for when, name, line in self.later:
            if self.now >= when:
                self.nodes[name] = line
        return list(nodes.parse("".join(f"{name}|{line}\n" for name, line in self.nodes.items())))

    def run(self, argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        name = argv[2].removeprefix("NodeName=")
        self.updates.append(name)
        self.nodes[name] = self.resumed_as.get(name, "idle|none")
        return subprocess.CompletedProcess(argv, 0, "", "")


@pytest.fixture
def slurm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlurm]:
    fake = FakeSlurm()
    monkeypatch.setattr(nodes, "_sinfo", fake.sinfo)
    monkeypatch.setattr(nodes.subprocess, "run", fake.run)
    monkeypatch.setattr(nodes.time, "monotonic", lambda: fake.now)
    monkeypatch.setattr(nodes.time, "sleep", lambda seconds: setattr(fake, "now", fake.now + seconds))
    yield fake


def test_nothing_out_of_service_is_nothing_to_do(slurm: FakeSlurm, capsys: pytest.CaptureFixture[str]) -> None:
    slurm.nodes = {"n0": "idle|none", "n3": "drained|grid: removed"}
    assert nodes.resume(20) == 0
    assert capsys.readouterr().out == "none\n" and slurm.updates == []


def test_a_node_back_by_itself_is_not_resumed_a_drained_one_is(slurm: FakeSlurm,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    slurm.nodes = {"n1": "drained|bad disk", "n2": "down*|Not responding"}
    slurm.later = [(3, "n2", "idle|none")]  # its slurmd registers: ReturnToService=2 returns it
    assert nodes.resume(20) == 0
    assert slurm.updates == ["n1"]
    assert capsys.readouterr().out == "resumed n1,n2\n"


def test_a_node_that_does_not_respond_fails_by_name_and_is_not_resumed(
        slurm: FakeSlurm, capsys: pytest.CaptureFixture[str]) -> None:
    slurm.nodes = {"n1": "drained|bad disk", "n4": "down*|Not responding"}
    assert nodes.resume(20) == 1
    assert slurm.updates == ["n1"]
    assert slurm.now >= 20  # it waited for n4's slurmd, then gave up
    out = capsys.readouterr()
    assert out.out == "resumed n1\n"
    assert "n4 DOWN in Slurm (reason: 'Not responding', not responding, not grid's) stays out of service: " \
           "is its slurmd running?" in out.err


def test_a_node_slurm_takes_out_again_fails_with_slurms_reason(slurm: FakeSlurm,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    slurm.nodes = {"n1": "down|hand"}
    slurm.resumed_as = {"n1": "down|Low RealMemory"}
    assert nodes.resume(20) == 1
    assert slurm.updates == ["n1"]  # once: it is not resumed over and over
    assert "n1 DOWN in Slurm (reason: 'Low RealMemory', not grid's) stays out of service" in capsys.readouterr().err


def test_a_node_whose_configuration_failed_in_this_run_is_left_out_and_named(
        slurm: FakeSlurm, capsys: pytest.CaptureFixture[str]) -> None:
    slurm.nodes = {"n1": "drained|bad disk", "n2": "drained|hand"}
    assert nodes.resume(20, frozenset({"n1"})) == 1  # its host stays to do: the next `grid up` resumes it
    assert slurm.updates == ["n2"] and slurm.now < 20
    out = capsys.readouterr()
    assert out.out == "resumed n2\n"
    assert "n1 DRAIN in Slurm (reason: 'bad disk', not grid's) left out of service: its configuration failed" in out.err
