"""Options and steps shared by several commands."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grid.apply import reaper
from grid.workspace import Rejected, Workspace, open_workspace

from . import console, interrupts

if TYPE_CHECKING:  # grid.apply.context loads the drivers: only the commands that apply need them
    from grid.apply.context import ApplyResult

LEASE_ENV = "GRID_LOCK_LEASE"


def __getattr__(name: str) -> Any:
    """The shared Typer options (cli.options: SPEC, WORKDIR, YES...), loaded with Typer when a command's
    signature first names one."""
    from . import options

    try:
        return getattr(options, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def state_location(state: str | None) -> str | None:
    """--state, else GRID_STATE (so commands without the option follow it too)."""
    return state if state is not None else (os.environ.get("GRID_STATE") or None)


def lease_seconds() -> float | None:
    """GRID_LOCK_LEASE: seconds a runner that died keeps a team (postgres) lock; the lease is renewed
    every third of it while the runner works."""
    raw = os.environ.get(LEASE_ENV, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise console.CommandFailed(f"{LEASE_ENV}={raw!r} is not a positive number of seconds")
    return value


def patterns(given: list[str] | None) -> tuple[str, ...]:
    """--target/--exclude values as the operations take them."""
    return tuple(given or ())


def workspace(spec: Path, workdir: Path | None, state: str | None = None,
              regions: list[str] | None = None) -> Workspace:
    """Open the spec or leave with its diagnostics (exit 1)."""
    opened = open_workspace(spec, workdir=workdir, state=state_location(state), lease_seconds=lease_seconds(),
                            regions=regions or None)
    if isinstance(opened, Rejected):
        console.print_diagnostics(opened.diagnostics, opened.loaded.source)
        console.exit_with(1)
    if opened.diagnostics.warnings:
        console.print_diagnostics(opened.diagnostics, opened.loaded.source)
    # What killed runs left in the work directory (Ansible's artifacts hold its environment) goes first.
    reaper.remove_leftovers(opened.workdir)
    return opened


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if console.non_interactive():
        raise console.CommandFailed("refusing to apply without confirmation in a non-interactive run",
                                    hint="pass --yes to apply")
    import typer

    try:
        answer = typer.confirm(question, default=False, err=True)  # stderr: stdout may carry a --json document
    except typer.Abort:  # Ctrl-C (exit 130) or end of input (1) at the prompt
        code = 130 if interrupts.interrupted() else 1
        raise console.CommandFailed(console.CANCELLED, code=code) from None
    if not answer:
        raise console.CommandFailed(console.CANCELLED, code=1)


def report_outcome(outcome: ApplyResult, started: float, verb: str = "applied", *, to_stderr: bool = False
                   ) -> None:
    """The line after an apply or destroy: its time and the serial of the state it saved, or its failures."""
    output = console.errout() if to_stderr else console.out()
    elapsed = time.monotonic() - started
    if outcome.ok:
        output.print(f"{verb} in {elapsed:.1f}s; state serial {outcome.serial} saved.", style="bold green",
                     markup=False)
        return
    console.err(f"{len(outcome.failures)} failure(s) after {elapsed:.1f}s; what succeeded is saved in state — "
                "run the command again to finish:")
    for failure in outcome.failures:
        console.err(f"  {failure}")
