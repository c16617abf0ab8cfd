"""What `grid up` and `grid apply` show: the plan, progress, the applied line, checks, the nodes; and the
JSON result document (--json) filled from the operation's Outcome."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from grid.resources import pool_fabrics

from .. import common, console
from .checks import ChecksView
from .outputs import output_lines
from .plan import plan_lines
from .progress import ProgressView
from .result import Result

if TYPE_CHECKING:  # the apply's and the targets' machinery: loaded by the runs that use them
    from grid.apply.context import ApplyResult
    from grid.identity import Identity
    from grid.operations import Outcome
    from grid.plan import Plan
    from grid.workspace import Workspace


class ApplyView:
    def __init__(self, ws: Workspace, report: Result, *, verbose: bool) -> None:
        self._ws = ws
        self._report = report
        json_output = report.enabled
        self._out = console.errout() if json_output else console.out()  # stdout may carry the JSON document
        self.progress = ProgressView(verbose=verbose, stderr=json_output)
        self.checks = ChecksView(quiet=json_output)

    def rotation(self, identity: Identity) -> None:
        if identity.rotating_from:
            from grid.targets.existing import fingerprint

            self._out.print(f"Rotating the cluster's admin SSH key ({fingerprint(identity.rotating_from)} → "
                            f"{fingerprint(identity.keypair.public_key)}): every host's authorized keys are "
                            "rewritten in place, no node is replaced; the old key goes once every host has the "
                            "new one.", markup=False)

    def plan(self, plan: Plan) -> None:
        for text, style in plan_lines(plan):
            self._out.print(text, style=style or None, markup=False)

    def applied(self, result: ApplyResult) -> None:
        common.report_outcome(result, self._report.started, to_stderr=self._report.enabled)

    def outcome(self, outcome: Outcome, *, saved: bool = False) -> None:
        """The end of the run: its last lines, the result document, and exit 1 when it did not work."""
        report, plan = self._report, outcome.plan
        if outcome.status == "no-changes":
            message = (f"No changes: the saved plan for {self._ws.cluster.name} has nothing to apply "
                       "(has_changes: false)." if saved else
                       f"No changes: {self._ws.cluster.name} matches the spec "
                       f"({time.monotonic() - report.started:.1f}s).")
            self._out.print(message, markup=False)
            report.finish("no-changes", plan=plan, serial=outcome.serial)
            return
        if outcome.status == "failed":
            report.finish("applied", plan=plan, applied=outcome.applied, serial=outcome.serial)
            console.exit_with(1)
        checks = outcome.checks.to_dict() if outcome.checks is not None and report.enabled else None
        if outcome.checks is not None:
            self.checks.summary(outcome.checks)
        if outcome.status == "checks-failed":
            report.finish("checks-failed", plan=plan, applied=outcome.applied, serial=outcome.serial,
                          checks=checks)
            report.doc["ok"] = False
            self._out.print("acceptance checks failed: `grid check SPEC` shows them again", markup=False)
            console.exit_with(1)
        if not report.enabled and outcome.applied is not None:
            for line in output_lines(outcome.applied.state, str(self._ws.spec_path), pool_fabrics(self._ws.cluster)):
                self._out.print(line, markup=False)
        report.finish("applied", plan=plan, applied=outcome.applied, serial=outcome.serial, checks=checks)
