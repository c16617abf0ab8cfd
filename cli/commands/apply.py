"""`grid apply PLAN`: apply exactly a plan saved by `grid plan SPEC --out PLAN` — no re-planning
(operation: grid.operations.apply_saved; the rules of a stale plan are written there)."""

from __future__ import annotations

from pathlib import Path

import typer

from grid import operations
from grid.plan import Plan

from .. import common
from ..views.apply import ApplyView
from ..views.result import reporting


def register(app: typer.Typer) -> None:
    app.command("apply")(apply)


def apply(
    plan_file: Path = typer.Argument(..., help="Plan document written by `grid plan SPEC --out FILE`.",
                                     show_default=False),
    spec: Path | None = typer.Option(None, "--spec", show_default=False,
                                     help="The spec the plan was made from [default: the path the plan records]."),
    workdir: Path | None = common.WORKDIR,
    state: str | None = common.STATE,
    yes: bool = common.YES,
    json_output: bool = common.JSON_RESULT,
    skip_check: bool = common.SKIP_CHECK,
    verbose: bool = common.VERBOSE,
    trust_new_hosts: bool = common.TRUST_NEW_HOSTS,
    allow_job_impact: bool = common.ALLOW_JOB_IMPACT,
) -> None:
    """Apply a saved plan exactly as it was reviewed; refuse if the spec or the state changed since."""
    with reporting(json_output, "apply") as report:
        saved = operations.load_saved_plan(plan_file)
        ws = common.workspace(operations.spec_of(saved, spec), workdir, state)
        report.cluster = ws.cluster.name
        view = ApplyView(ws, report, verbose=verbose)

        def approve(plan: Plan) -> None:
            view.plan(plan)
            common.confirm("Apply this saved plan?", yes)

        outcome = operations.apply_saved(
            ws, saved, operations.ApplySavedOptions(skip_check=skip_check, trust_new_hosts=trust_new_hosts,
                                                    allow_job_impact=allow_job_impact),
            approve=approve, emit=view.progress, on_applied=view.applied, on_node=view.checks.node)
        view.outcome(outcome, saved=True)
