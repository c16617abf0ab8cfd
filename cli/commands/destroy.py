"""`grid destroy SPEC`: remove every container, network, volume and stack the cluster created."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from grid.apply import run
from grid.cli import common, console
from grid.cli.views.progress import ProgressView


def register(app: typer.Typer) -> None:
    app.command("destroy")(destroy)


def destroy(
    spec: Path = common.SPEC,
    workdir: Path | None = common.WORKDIR,
    yes: bool = common.YES,
    allow_destroy_protected: bool = typer.Option(False, "--allow-destroy-protected",
                                                 help="Also delete storage marked protect: true."),
) -> None:
    """Tear the cluster down (protected storage only with --allow-destroy-protected)."""
    started = time.monotonic()
    ws = common.workspace(spec, workdir)
    with common.locked(ws, "destroy"):
        _, state = common.read_state(ws)
        protected = sorted(a for a, r in state.resources.items() if r.kind == "volume" and r.attrs.get("protect"))
        if protected and not allow_destroy_protected:
            raise console.CommandFailed(
                f"protected storage would be destroyed: {', '.join(protected)}",
                hint="pass --allow-destroy-protected, or set protect: false and run grid up first")
        count = len([r for r in state.resources.values() if r.kind != "link"])
        common.confirm(f"Destroy {count} resource(s) of cluster {ws.cluster.name}?", yes)
        outcome = run.destroy(ws, emit=ProgressView(), stacks=run.default_stacks(ws))
    common.report_outcome(outcome, started, verb="destroyed")
    if not outcome.ok:
        raise typer.Exit(1)
