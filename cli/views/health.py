"""A health suite's run as text (`grid check --suite`): a line per node as it is done, its results that are not ok
under it (CheckResult.line(): node, check, device, what was found, threshold), a summary, what grid would do per
pool, and whether the run was recorded in the state's history."""

from __future__ import annotations

from grid.health.results import CheckResult, Status
from grid.health.runner import NodeHealth
from grid.operations.health_check import HealthChecked
from grid.state.model import HistoryEntry

from .. import console

_STYLE = {Status.OK: "green", Status.WARNING: "yellow", Status.UNKNOWN: "yellow", Status.FAILED: "bold red"}
_MARK = {Status.OK: "✓", Status.WARNING: "!", Status.UNKNOWN: "?", Status.FAILED: "✗"}


class HealthView:
    def __init__(self, suite: str, *, quiet: bool = False) -> None:
        self._out = console.out()
        self._suite = suite
        self._quiet = quiet  # --json: everything goes into the document instead

    def started(self, nodes: int, note: str) -> None:
        if self._quiet:
            return
        self._out.print(f"Health checks ({self._suite} suite, {nodes} node(s)):", style="bold", markup=False)
        if note:
            self._out.print(f"  note: {note}", style="yellow", markup=False)

    def node(self, health: NodeHealth) -> None:
        if self._quiet:
            return
        status = health.status
        counted = f"{sum(r.status is Status.OK for r in health.results)}/{len(health.results)} ok"
        self._out.print(f"  {_MARK[status]} {health.address} ({health.hostname}): {counted}", style=_STYLE[status],
                        markup=False)
        for result in health.not_ok:
            self._out.print(f"      {result.line()}", style=_STYLE[result.status], markup=False)

    def summary(self, checked: HealthChecked) -> None:
        if self._quiet:
            return
        report = checked.report
        failing = len(report.failing)
        self._out.print(f"{report.passed}/{len(report.nodes)} node(s) pass"
                        + (f", {failing} failing" if failing else ""), style="bold", markup=False)
        if checked.pools:
            self._out.print("What grid would do:", style="bold", markup=False)
            for pool in checked.pools:
                self._out.print(f"  {pool.line()}", style="red" if pool.decision.stop else "", markup=False)
        if not checked.recorded:
            self._out.print(f"note: {checked.not_recorded}", style="yellow", markup=False)


def history_health_lines(entry: HistoryEntry) -> list[str]:
    """Under a history entry: its health run (suite, nodes passed, each result that was not ok) and why the run
    stopped, when it says."""
    lines = []
    if entry.health is not None:
        run = entry.health
        lines.append(f"health: {run.suite} suite, {run.passed}/{run.nodes} node(s) passed")
        lines += ["  " + CheckResult(r.node, r.check, r.device, Status(r.status), r.found, r.threshold).line()
                  for r in run.results]
    health_changes = [f"{c.action} {c.address}" for c in entry.changes if c.cause == "health"]
    if health_changes:  # what `grid up --heal` did: quarantine, resume, gate, replace, create
        lines.append("health actions: " + ", ".join(health_changes))
    if entry.message:
        lines.append(entry.message)
    return lines
