"""Options and steps shared by several commands."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer

from grid.cli import console
from grid.state import StateError
from grid.workspace import Rejected, Workspace, open_workspace

SPEC = typer.Argument(..., help="Cluster spec (YAML).", show_default=False)
WORKDIR = typer.Option(None, "--workdir", help="Work directory for state and rendered files "
                       "(default: .grid/<cluster> next to the spec).")
JSON = typer.Option(False, "--json", help="Print a JSON document instead of text.")
YES = typer.Option(False, "--yes", "-y", help="Apply without asking (required when not interactive).")


def workspace(spec: Path, workdir: Path | None) -> Workspace:
    """Open the spec or leave with its diagnostics (exit 1)."""
    opened = open_workspace(spec, workdir=workdir)
    if isinstance(opened, Rejected):
        console.print_diagnostics(opened.diagnostics, opened.loaded.source)
        raise typer.Exit(1)
    if opened.diagnostics.warnings:
        console.print_diagnostics(opened.diagnostics, opened.loaded.source)
    return opened


def read_state(ws: Workspace):  # type: ignore[no-untyped-def]
    try:
        return ws.read_state()
    except StateError as exc:
        raise console.CommandFailed(exc.message, hint=exc.hint) from None


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if console.non_interactive():
        raise console.CommandFailed("refusing to apply without confirmation in a non-interactive run",
                                    hint="pass --yes to apply")
    if not typer.confirm(question, default=False):
        raise console.CommandFailed("cancelled; nothing was changed", code=1)


@contextlib.contextmanager
def locked(ws: Workspace, command: str) -> Iterator[None]:
    """The state lock for a mutating command; a live holder makes this exit 1 at once, naming it.

    A lock left by a process that no longer exists on this host is provably stale and is taken over.
    """
    from grid.state import LockHeld

    try:
        lock = ws.store.lock(command, break_stale=True)
        lock.__enter__()
    except LockHeld as exc:
        raise console.CommandFailed(exc.message, hint=exc.hint) from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def probe(ws: Workspace, state, *, full: bool):  # type: ignore[no-untyped-def]
    """What the target really has: a cheap probe always, Pulumi refresh + Ansible check with `full`."""
    from grid.drift import refresh_live

    return refresh_live(ws, state, full=full)


def report_outcome(outcome, started: float, verb: str = "applied") -> None:  # type: ignore[no-untyped-def]
    import time

    output = console.out()
    elapsed = time.monotonic() - started
    if outcome.ok:
        output.print(f"{verb} in {elapsed:.1f}s; state serial saved.", style="bold green", markup=False)
        return
    console.err(f"{len(outcome.failures)} failure(s) after {elapsed:.1f}s; what succeeded is saved in state — "
                "run the command again to finish:")
    for failure in outcome.failures:
        console.err(f"  {failure}")
