"""`grid check --suite` as text: a line per node with its results that are not ok, a count, what grid would do
per pool, and a note when history was not recorded; --json prints nothing but the document."""

from __future__ import annotations

import pytest

from grid.cli.views.health import HealthView
from grid.health.results import CheckResult, Status
from grid.health.runner import HealthReport, NodeHealth
from grid.health.suites import Suite
from grid.operations.health_check import HealthChecked, PoolAdvice
from grid.plan.quarantine import decide_quarantine
from grid.spec.lifecycle import Health


def checked(*, recorded: bool = True) -> HealthChecked:
    bad = "lab/train/node-0001"
    nodes = (NodeHealth("lab/train/node-0000", "lab-train-0000",
                        (CheckResult("lab/train/node-0000", "disk", "/", Status.OK, "50% free"),)),
             NodeHealth(bad, "lab-train-0001",
                        (CheckResult(bad, "device.health", "3", Status.FAILED, "the tool says 'Alarm'", "OK"),
                         CheckResult(bad, "clock", "", Status.WARNING, "150 ms ahead of the controller"))))
    decision = decide_quarantine(Health(on_failure="replace", max_unhealthy="25%"), 8, (), (bad,))
    return HealthChecked("lab", HealthReport(Suite.QUICK, nodes), (PoolAdvice("lab", "train", "replace", decision),),
                         recorded=recorded, not_recorded="" if recorded else "history not recorded: locked")


def test_text(capsys: pytest.CaptureFixture[str]) -> None:
    found = checked(recorded=False)
    view = HealthView("quick")
    view.started(2, "")
    for node in found.report.nodes:
        view.node(node)
    view.summary(found)
    out = capsys.readouterr().out
    assert out.startswith("Health checks (quick suite, 2 node(s)):\n  ✓ lab/train/node-0000 (lab-train-0000): 1/1 ok\n")
    assert ("  ✗ lab/train/node-0001 (lab-train-0001): 0/2 ok\n"
            "      lab/train/node-0001 device.health device 3: failed: the tool says 'Alarm' (threshold: OK)\n"
            "      lab/train/node-0001 clock: warning: 150 ms ahead of the controller\n") in out
    assert ("1/2 node(s) pass, 1 failing\nWhat grid would do:\n  lab/train: 1 of 8 failing ≤ max_unhealthy 25% (2): "
            "replace node-0001 — `grid up --heal` does it\nnote: history not recorded: locked\n") in out


def test_json_only(capsys: pytest.CaptureFixture[str]) -> None:
    found = checked()
    view = HealthView("quick", quiet=True)
    view.started(2, "a note")
    view.node(found.report.nodes[1])
    view.summary(found)
    assert capsys.readouterr().out == ""
    document = found.to_dict()
    assert not found.ok and document["failing"] == ["lab/train/node-0001"] and document["passed"] == 1
    assert document["pools"][0]["take_out"] == ["lab/train/node-0001"] and document["recorded"]
