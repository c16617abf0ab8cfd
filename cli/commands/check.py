"""`grid check SPEC`: acceptance checks of the running cluster, per node (operation: grid.operations.check)."""

from __future__ import annotations

from pathlib import Path

import typer

from grid import operations

from .. import common, console
from ..views.checks import ChecksView


def register(app: typer.Typer) -> None:
    app.command("check")(check)


def check(spec: Path = common.SPEC, workdir: Path | None = common.WORKDIR, json_output: bool = common.JSON,
          state: str | None = common.STATE) -> None:
    """Verify SSH (pinned keys), fabric MTU and reachability, shared storage and facts on every node; with a
    scheduler, Slurm jobs on every node of each partition (hostnames, shared storage, accelerators as GRES)."""
    ws = common.workspace(spec, workdir, state)
    view = ChecksView(quiet=json_output)
    checks = operations.check(ws, on_node=view.node, on_partition=view.partition)
    if json_output:
        console.print_json({"cluster": checks.cluster, **checks.to_dict()})
    else:
        view.summary(checks)
    if not checks.ok:
        raise typer.Exit(1)
