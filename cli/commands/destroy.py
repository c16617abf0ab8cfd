"""`grid destroy SPEC`: remove every container, network, volume and stack the cluster created."""

from __future__ import annotations

from pathlib import Path

import typer

from grid.apply import run

from .. import common, console
from ..views.progress import ProgressView
from ..views.result import reporting


def register(app: typer.Typer) -> None:
    app.command("destroy")(destroy)


def destroy(
    spec: Path = common.SPEC,
    workdir: Path | None = common.WORKDIR,
    state: str | None = common.STATE,
    yes: bool = common.YES,
    json_output: bool = typer.Option(False, "--json", help="Print one JSON result document (grid-result/v1) "
                                     "on stdout; progress goes to stderr."),
    allow_destroy_protected: bool = typer.Option(False, "--allow-destroy-protected",
                                                 help="Also delete storage marked protect: true."),
) -> None:
    """Tear the cluster down (protected storage only with --allow-destroy-protected)."""
    with reporting(json_output, "destroy") as report:
        ws = common.workspace(spec, workdir, state)
        report.cluster = ws.cluster.name
        with common.locked(ws, "destroy"):
            _, current = common.read_state(ws)
            protected = sorted(a for a, r in current.resources.items()
                               if r.kind == "volume" and r.attrs.get("protect"))
            if protected and not allow_destroy_protected:
                raise console.CommandFailed(
                    f"protected storage would be destroyed: {', '.join(protected)}",
                    hint="pass --allow-destroy-protected, or set protect: false and run grid up first")
            count = len([r for r in current.resources.values() if r.kind != "link"])
            common.confirm(f"Destroy {count} resource(s) of cluster {ws.cluster.name}?", yes)
            stacks = run.default_stacks(ws, common.identity(ws, current))
            outcome = run.destroy(ws, emit=ProgressView(stderr=json_output), stacks=stacks)
        common.report_outcome(outcome, report.started, verb="destroyed", to_stderr=json_output)
        report.finish("destroyed", applied=outcome, counts={"delete": count}, serial=outcome.serial or None)
        if not outcome.ok:
            raise typer.Exit(1)
