"""`grid status SPEC`: one screen of a running cluster (operation: grid.operations.status)."""

from __future__ import annotations

from pathlib import Path

import typer

from grid import operations

from .. import common, console
from ..views.status import status_lines


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def status(spec: Path = common.SPEC, workdir: Path | None = common.WORKDIR, location: str | None = common.STATE,
           json_output: bool = common.JSON) -> None:
    """Show nodes per Slurm partition and their state, jobs running, the last apply, drift recorded and the
    accelerators in use per region."""
    ws = common.workspace(spec, workdir, location)
    found = operations.status(ws)
    if json_output:
        console.print_json(found.to_dict())
        return
    output = console.out()
    for text, style in status_lines(found, spec_path=str(spec)):
        output.print(text, style=style or None, markup=False)
