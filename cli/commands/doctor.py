"""`grid doctor`: check every prerequisite and say exactly what is missing and how to get it."""

from __future__ import annotations

import typer

from grid.doctor import run_doctor

from .. import common, console


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(json_output: bool = common.JSON) -> None:
    """Check the tools grid drives: Pulumi, Ansible, podman, the node image, SSH, Graphviz, PostgreSQL."""
    findings = run_doctor()
    missing = [f for f in findings if f.required and not f.ok]
    if json_output:
        console.print_json({"ok": not missing, "checks": [f.to_dict() for f in findings]})
    else:
        output = console.out()
        for finding in findings:
            mark = "✓" if finding.ok else ("✗" if finding.required else "!")
            style = "green" if finding.ok else ("bold red" if finding.required else "yellow")
            suffix = "" if finding.required else " (optional)"
            output.print(f"{mark} {finding.name}{suffix}: {finding.detail}", style=style, markup=False)
            if finding.fix:
                output.print(f"    fix: {finding.fix}", markup=False)
        output.print("ready" if not missing else f"{len(missing)} required prerequisite(s) missing",
                     style="bold", markup=False)
    if missing:
        raise typer.Exit(1)
