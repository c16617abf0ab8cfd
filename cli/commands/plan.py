"""`grid plan SPEC`: what `grid up` would change, why, and what it costs (operation: grid.operations.plan)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from grid import __version__, operations
from grid.operations.policy_gate import blocked_message
from grid.plan.document import to_document

from .. import common, console
from ..views.capacity import capacity_view
from ..views.markdown import plan_markdown
from ..views.plan import plan_lines
from ..views.region_scope import show_elsewhere


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)


def plan(
    spec: Path = common.SPEC,
    workdir: Path | None = common.WORKDIR,
    location: str | None = common.STATE,
    json_output: bool = common.JSON,
    fmt: str = typer.Option("text", "--format", help="text | json | markdown (for pull-request comments)."),
    out: Path | None = typer.Option(None, "--out", help="Save the plan document for `grid apply`."),
    detailed_exitcode: bool = typer.Option(False, "--detailed-exitcode",
                                           help="Exit 0 when nothing changes, 2 when something does, 1 on error, "
                                                "3 when a mandatory policy failed."),
    refresh: bool = typer.Option(False, "--refresh", help="Compare with the live target too (drift)."),
    allow_destroy_protected: bool = typer.Option(False, "--allow-destroy-protected",
                                                 help="Allow deleting storage marked protect: true."),
    show_noop: bool = typer.Option(False, "--show-unchanged", help="List unchanged resources too."),
    regions: list[str] | None = common.REGION,
    targets: list[str] | None = common.TARGET,
    excludes: list[str] | None = common.EXCLUDE,
    policies: list[Path] | None = common.POLICY,
) -> None:
    """Compare the spec with the state (and, with --refresh, with reality) and show the changes."""
    ws = common.workspace(spec, workdir, location, regions)
    planned = operations.plan(ws, operations.PlanOptions(
        refresh=refresh, allow_destroy_protected=allow_destroy_protected, targets=common.patterns(targets),
        excludes=common.patterns(excludes), policy_dirs=tuple(policies or ()),
        # A seal's plan counts unchanged resources without listing them: only where none is listed.
        sealed=not (show_noop or json_output or out is not None or fmt == "json")))
    result = planned.plan
    document = to_document(result, spec_path=str(spec), grid_version=__version__)
    if out is not None:
        out.write_text(json.dumps(document, indent=2) + "\n")
    if json_output or fmt == "json":
        console.print_json(document)
    elif fmt == "markdown":
        typer.echo(plan_markdown(result, spec_path=str(spec), grid_version=__version__), nl=False)
    else:
        output = console.out()
        for text, style in plan_lines(result, show_noop=show_noop):
            output.print(text, style=style or None, markup=False)
        for renderable in capacity_view(result.capacity, width=console.table_width(output)):
            output.print(renderable)
        show_elsewhere(planned, output)
        if out is not None:
            output.print(f"Saved the plan to {out}; apply exactly this plan with `grid apply {out}`.", markup=False)
    if result.errors:
        raise typer.Exit(1)
    if (blocked := blocked_message(result)) is not None:  # the plan is shown (and saved); applying it refuses
        console.err(f"error: {blocked}")
        raise typer.Exit(3 if detailed_exitcode else 1)
    if detailed_exitcode and result.has_changes:
        raise typer.Exit(2)
