"""`grid drift SPEC`: what changed in reality since the last apply (operation: grid.operations.drift)."""

from __future__ import annotations

from pathlib import Path

import typer

from grid import operations

from .. import common, console
from ..views.drift import drift_lines


def register(app: typer.Typer) -> None:
    app.command("drift")(drift)


def drift(
    spec: Path = common.SPEC,
    workdir: Path | None = common.WORKDIR,
    location: str | None = common.STATE,
    json_output: bool = common.JSON,
    detailed_exitcode: bool = typer.Option(False, "--detailed-exitcode", help="Exit 2 when anything drifted."),
    regions: list[str] | None = common.REGION,
    targets: list[str] | None = common.TARGET,
    excludes: list[str] | None = common.EXCLUDE,
    full_check: bool = typer.Option(False, "--full-check", help="Run the playbook in check mode on every host, "
                                    "not only on those whose digests differ (slower; the reference)."),
) -> None:
    """Refresh infrastructure (Pulumi) and configuration (a digest probe per host, Ansible check mode where
    they differ) and report drift."""
    ws = common.workspace(spec, workdir, location, regions)
    report = operations.drift(ws, targets=common.patterns(targets), excludes=common.patterns(excludes),
                              full_check=full_check)
    if json_output:
        console.print_json(report.to_dict())
    else:
        output = console.out()
        for text, style in drift_lines(report, spec_path=str(spec)):
            output.print(text, style=style or None, markup=False)
    if detailed_exitcode and report.drifted:
        raise typer.Exit(2)
