"""`grid check --suite` below the CLI: what grid would do per pool (grid.plan.quarantine over a report), the run
recorded in history under the state lock (not recorded, and saying why, when another run holds the lock), and
how history and a node's results are shown."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grid.health.results import CheckResult, Status
from grid.health.runner import HealthReport, NodeHealth
from grid.health.suites import Suite
from grid.operations.health_check import _record, advise
from grid.state.model import QuarantineRecord
from grid.workspace import Workspace, graph_for, open_workspace
from support.paths import EXAMPLES
from support.specs import applied_state


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    spec = tmp_path / "cluster.yaml"
    shutil.copy(EXAMPLES / "health" / "cluster.yaml", spec)
    opened = open_workspace(spec, workdir=tmp_path / "work")
    assert isinstance(opened, Workspace)
    _, empty = opened.read_state()
    opened.store.write(applied_state(graph_for(opened, empty)), 0)
    return opened


def _report(*failing: int) -> HealthReport:
    nodes = []
    for index in range(8):
        address = f"lab/train/node-000{index}"
        result = CheckResult(address, "device.health", "3", Status.FAILED if index in failing else Status.OK,
                             "the tool says 'Alarm'" if index in failing else "the tool says 'OK'", "OK")
        nodes.append(NodeHealth(address, f"lab-train-000{index}", (result,)))
    return HealthReport(Suite.QUICK, tuple(nodes))


def test_one_failing_node_would_be_replaced_by_grid_up_heal(ws: Workspace) -> None:
    _, state = ws.read_state()
    (pool,) = advise(ws.cluster, graph_for(ws, state), state, _report(3))
    assert pool.line() == ("lab/train: 1 of 8 failing ≤ max_unhealthy 25% (2): replace node-0003 — "
                           "`grid up --heal` does it")


def test_beyond_max_unhealthy_grid_would_take_out_what_it_may_and_stop(ws: Workspace) -> None:
    _, state = ws.read_state()
    (pool,) = advise(ws.cluster, graph_for(ws, state), state, _report(1, 2, 5))
    assert pool.decision.stop and pool.decision.quarantine == ("lab/train/node-0001", "lab/train/node-0002")
    assert pool.line().endswith("`grid up --heal` would take out node-0001, node-0002, then stop")
    out = state.model_copy(update={"quarantined": {"lab/train/node-0001": QuarantineRecord(
        address="lab/train/node-0001", check="device.health")}})
    (again,) = advise(ws.cluster, graph_for(ws, out), out, _report(1, 2))
    assert again.decision.quarantine == ("lab/train/node-0002",) and not again.decision.stop


def test_the_run_is_recorded_in_history_with_its_results(ws: Workspace) -> None:
    assert _record(ws, _report(3), "check --suite quick") == (True, "")
    envelope, state = ws.read_state()
    entry = state.history[-1]
    assert envelope is not None and entry.serial == envelope.serial
    assert (entry.command, entry.outcome) == ("check --suite quick", "failed")
    assert entry.health is not None and (entry.health.nodes, entry.health.passed) == (8, 7)
    assert [(r.node, r.check, r.device) for r in entry.health.results] == [("lab/train/node-0003", "device.health",
                                                                             "3")]

    from cli.views.health import history_health_lines

    assert history_health_lines(entry) == [
        "health: quick suite, 7/8 node(s) passed",
        "  lab/train/node-0003 device.health device 3: failed: the tool says 'Alarm' (threshold: OK)"]


def test_with_the_lock_held_the_results_stand_and_history_says_why_not(ws: Workspace) -> None:
    with ws.store.lock("up"):
        recorded, why = _record(ws, _report(), "check --suite quick")
    assert not recorded and why.startswith("history not recorded:") and "lock" in why
    assert all(e.health is None for e in ws.read_state()[1].history)
