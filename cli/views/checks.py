"""Acceptance checks as text: a line per node as its report comes, problems under it; with a scheduler, a line
per Slurm partition after them; counts at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import console

if TYPE_CHECKING:  # the checks' machinery is loaded by the runs that check (a no-op `grid up` does not)
    from grid.check import NodeReport
    from grid.check_slurm import PartitionReport
    from grid.operations import Checks

SLOW_PARTITION_SECONDS = 10.0
"""A partition's checks taking longer show how long: jobs waited for an allocation, or Slurm was slow."""

class ChecksView:
    def __init__(self, *, quiet: bool = False) -> None:
        self._out = console.out()
        self._quiet = quiet  # --json: the reports go into the document instead
        self._headed = False
        self._partitions_headed = False

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

    def partition(self, report: PartitionReport) -> None:
        if self._quiet:
            return
        if not self._partitions_headed:
            self._out.print("Slurm jobs per partition:", style="bold", markup=False)
            self._partitions_headed = True
        mark = "✓" if report.ok else "✗"
        passed = sum(report.checks.values())
        slow = f" in {report.seconds:.0f} s" if report.seconds >= SLOW_PARTITION_SECONDS else ""
        self._out.print(f"  {mark} {report.name} ({len(report.hostnames)} node(s)): {passed}/{len(report.checks)} "
                        f"checks{slow}", style="green" if report.ok else "bold red", markup=False)
        for problem in report.problems:
            self._out.print(f"      {problem}", style="red", markup=False)

    def summary(self, checks: Checks) -> None:
        self._head()
        if not self._quiet:
            self._out.print(f"{sum(r.ok for r in checks.nodes)}/{len(checks.nodes)} node(s) pass", style="bold",
                            markup=False)
            if checks.partitions:
                self._out.print(f"{sum(p.ok for p in checks.partitions)}/{len(checks.partitions)} partition(s) "
                                "pass", style="bold", markup=False)
