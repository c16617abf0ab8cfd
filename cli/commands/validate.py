"""`grid validate SPEC`: every problem at once, with file:line:col and a caret.

Typer is imported only by `register`: a plain `grid validate SPEC [--json]` calls `check` without it
(cli.main._quick, issue 20 start-up).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from grid.spec import load_spec
from grid.validate import validate as validate_spec

from .. import console

if TYPE_CHECKING:
    import typer


def register(app: typer.Typer) -> None:
    import typer

    def validate(
        spec: Path = typer.Argument(..., help="Cluster spec (YAML)."),
        json_output: bool = typer.Option(False, "--json", help="Print findings as a JSON document."),
    ) -> None:
        """Check a spec: schema, references, addressing, power, cooling and fabric."""
        if code := check(spec, json_output):
            raise typer.Exit(code)

    app.command("validate")(validate)


def check(spec: Path, json_output: bool) -> int:
    """Validate `spec` and print the findings; the exit code (1 when there are errors)."""
    loaded = load_spec(str(spec))
    findings = validate_spec(loaded)
    if json_output:
        console.print_json({"spec": str(spec), "valid": not findings.has_errors,
                            "diagnostics": console.diagnostics_json(findings)})
    else:
        console.print_diagnostics(findings, loaded.source)
        if not findings.has_errors:
            console.out().print(f"{spec}: valid ({len(findings.warnings)} warning(s))", markup=False)
    return 1 if findings.has_errors else 0
