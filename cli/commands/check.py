"""`grid check SPEC`: acceptance checks of the running cluster, per node (operation: grid.operations.check)."""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from grid import operations
from grid.workspace import Workspace

from .. import common, console
from ..views.checks import ChecksView


class SuiteName(enum.StrEnum):
    """grid.health.suites.Suite's names: the health machinery is imported only when a suite is asked for."""

    QUICK = "quick"
    FULL = "full"


SUITE = typer.Option(None, "--suite", show_default=False, case_sensitive=False,
                     help="Run a health suite instead: quick (seconds, safe on busy nodes) or full (loads the "
                          "devices: only nodes Slurm has drained, or every node without a scheduler). Exit 1 when "
                          "a node fails; the run is recorded in the state's history.")


def register(app: typer.Typer) -> None:
    app.command("check")(check)


def check(spec: Path = common.SPEC, workdir: Path | None = common.WORKDIR, json_output: bool = common.JSON,
          state: str | None = common.STATE, suite: SuiteName | None = SUITE,
          targets: list[str] | None = common.TARGET, excludes: list[str] | None = common.EXCLUDE) -> None:
    """Verify SSH (pinned keys), fabric MTU and reachability, shared storage and facts on every node; with a
    scheduler, Slurm jobs on every node of each partition (hostnames, shared storage, accelerators as GRES).
    With --suite: the accelerators' and nodes' health instead, and what grid would do about failing nodes."""
    ws = common.workspace(spec, workdir, state)
    if suite is not None:
        if targets or excludes:
            raise console.CommandFailed("--suite runs on every node: it does not take --target/--exclude",
                                        hint="run `grid check --suite …` without them")
        health(ws, suite, json_output)
        return
    view = ChecksView(quiet=json_output)
    checks = operations.check(ws, on_node=view.node, on_partition=view.partition,
                              targets=common.patterns(targets), excludes=common.patterns(excludes))
    if json_output:
        console.print_json({"cluster": checks.cluster, **checks.to_dict()})
    else:
        view.summary(checks)
    if not checks.ok:
        raise typer.Exit(1)


def health(ws: Workspace, suite: SuiteName, json_output: bool) -> None:
    from grid.health.suites import Suite
    from grid.operations.health_check import check_health

    from ..views.health import HealthView

    view = HealthView(suite.value, quiet=json_output)
    checked = check_health(ws, Suite(suite.value), on_start=view.started, on_node=view.node)
    if json_output:
        console.print_json(checked.to_dict())
    else:
        view.summary(checked)
    if not checked.ok:
        raise typer.Exit(1)
