"""Acceptance checks as text: a line per node as its report comes, problems under it, a count at the end."""

from __future__ import annotations

from grid.check import NodeReport
from grid.operations import Checks

from .. import console


class ChecksView:
    def __init__(self, *, quiet: bool = False) -> None:
        self._out = console.out()
        self._quiet = quiet  # --json: the reports go into the document instead
        self._headed = False

    def _head(self) -> None:
        if not self._headed and not self._quiet:
            self._out.print("Acceptance checks:", style="bold", markup=False)
        self._headed = True

    def node(self, report: NodeReport) -> None:
        self._head()
        if self._quiet:
            return
        mark = "✓" if report.ok else "✗"
        passed = sum(report.checks.values())
        self._out.print(f"  {mark} {report.hostname}: {passed}/{len(report.checks)} checks",
                        style="green" if report.ok else "bold red", markup=False)
        for problem in report.problems:
            self._out.print(f"      {problem}", style="red", markup=False)

    def summary(self, checks: Checks) -> None:
        self._head()
        if not self._quiet:
            self._out.print(f"{sum(r.ok for r in checks.nodes)}/{len(checks.nodes)} node(s) pass", style="bold",
                            markup=False)
