"""`grid destroy SPEC`: remove everything the cluster created (operation: grid.operations.destroy)."""

from __future__ import annotations

from pathlib import Path

import typer

from grid import operations
from grid.operations.destroy_part import destroy_part
from grid.plan import Action, Plan

from .. import common, console
from ..views.plan import plan_lines
from ..views.progress import ProgressView
from ..views.result import reporting


def register(app: typer.Typer) -> None:
    app.command("destroy")(destroy)


def destroy(
    spec: Path = common.SPEC,
    workdir: Path | None = common.WORKDIR,
    state: str | None = common.STATE,
    yes: bool = common.YES,
    json_output: bool = common.JSON_RESULT,
    allow_destroy_protected: bool = typer.Option(False, "--allow-destroy-protected",
                                                 help="Also delete storage marked protect: true."),
    targets: list[str] | None = common.TARGET,
    excludes: list[str] | None = common.EXCLUDE,
) -> None:
    """Tear the cluster down (protected storage only with --allow-destroy-protected)."""
    with reporting(json_output, "destroy") as report:
        ws = common.workspace(spec, workdir, state)
        report.cluster = ws.cluster.name

        def approve(count: int) -> None:
            common.confirm(f"Destroy {count} resource(s) of cluster {ws.cluster.name}?", yes)

        if targets or excludes:
            outcome = destroy_part(ws, common.patterns(targets), common.patterns(excludes),
                                   approve=lambda plan: approve_part(plan, yes, json_output),
                                   emit=ProgressView(stderr=json_output),
                                   allow_destroy_protected=allow_destroy_protected)
        else:
            outcome = operations.destroy(
                ws, operations.DestroyOptions(allow_destroy_protected=allow_destroy_protected), approve=approve,
                emit=ProgressView(stderr=json_output))
        assert outcome.applied is not None
        common.report_outcome(outcome.applied, report.started, verb="destroyed", to_stderr=json_output)
        report.finish("destroyed", applied=outcome.applied, counts=outcome.counts, serial=outcome.serial)
        if not outcome.ok:
            raise typer.Exit(1)


def approve_part(plan: Plan, yes: bool, json_output: bool) -> None:
    """Shows what a partial destroy removes, then asks."""
    output = console.errout() if json_output else console.out()
    for text, style in plan_lines(plan):
        output.print(text, style=style or None, markup=False)
    deleted = sum(1 for c in plan.pending if c.action is Action.DELETE)
    common.confirm(f"Destroy {deleted} selected resource(s) of cluster {plan.cluster}?", yes)
