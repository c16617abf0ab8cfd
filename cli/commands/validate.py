"""`grid validate SPEC`: every problem at once, with file:line:col and a caret."""

from __future__ import annotations

from pathlib import Path

import typer

from grid.spec import load_spec
from grid.validate import validate as validate_spec

from .. import console


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)


def validate(
    spec: Path = typer.Argument(..., help="Cluster spec (YAML)."),
    json_output: bool = typer.Option(False, "--json", help="Print findings as a JSON document."),
) -> None:
    """Check a spec: schema, references, addressing, power, cooling and fabric."""
    loaded = load_spec(str(spec))
    findings = validate_spec(loaded)
    if json_output:
        console.print_json({"spec": str(spec), "valid": not findings.has_errors,
                            "diagnostics": console.diagnostics_json(findings)})
    else:
        console.print_diagnostics(findings, loaded.source)
        if not findings.has_errors:
            console.out().print(f"{spec}: valid ({len(findings.warnings)} warning(s))", markup=False)
    if findings.has_errors:
        raise typer.Exit(1)
