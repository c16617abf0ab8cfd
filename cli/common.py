"""Options and steps shared by several commands."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from grid.apply import reaper
from grid.workspace import Rejected, Workspace, open_workspace

from . import console, interrupts

if TYPE_CHECKING:  # grid.apply.context loads the drivers: only the commands that apply need them
    from grid.apply.context import ApplyResult

SPEC = typer.Argument(..., help="Cluster spec (YAML).", show_default=False)
WORKDIR = typer.Option(None, "--workdir", help="Work directory for state and rendered files "
                       "(default: .grid/<cluster> next to the spec).")
JSON = typer.Option(False, "--json", help="Print a JSON document instead of text.")
YES = typer.Option(False, "--yes", "-y", help="Apply without asking (required when not interactive).")
STATE = typer.Option(None, "--state", envvar="GRID_STATE", show_envvar=True, show_default=False,
                     help="Where the state lives: postgres://user@host/db for team state (Pulumi stacks go in "
                          "the same database; give the password in PGPASSWORD or ~/.pgpass), file://DIR, or "
                          "leave out for state.json in the work directory.")
JSON_RESULT = typer.Option(False, "--json", help="Print one JSON result document (grid-result/v1) on stdout; "
                           "progress goes to stderr.")
SKIP_CHECK = typer.Option(False, "--skip-check", help="Do not run acceptance checks at the end.")
VERBOSE = typer.Option(False, "--verbose", "-v", help="Show every resource and task event.")
TRUST_NEW_HOSTS = typer.Option(
    False, "--trust-new-hosts", help="Targets existing, aws, openstack: pin the SSH host keys of nodes seen for the "
    "first time (check the fingerprints a run without this flag lists).")
ALLOW_JOB_IMPACT = typer.Option(
    False, "--allow-job-impact", help="With a scheduler: go on when jobs still run on the Slurm nodes the plan "
    "deletes or replaces after their drain waited scheduler.drain_timeout (or when the controller cannot be "
    "asked); those jobs end with their nodes.")
LEASE_ENV = "GRID_LOCK_LEASE"


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


REGION = typer.Option(None, "--region", show_default=False,
                      help="Limit the run to this region (repeatable): its state partition only; other regions' "
                           "hosts it affects are shown and left to their own next run.")


TARGET = typer.Option(None, "--target", show_default=False,
                      help="Aim at part of the cluster (repeatable): a glob on addresses as plans print them "
                           "(east/*, */train/node-00*, east/fabric/mgmt, link/east--west; east/train: all under "
                           "it). Dependencies a new resource needs come along; a pattern matching nothing exits 1.")
EXCLUDE = typer.Option(None, "--exclude", show_default=False,
                       help="Leave these addresses out (repeatable; globs like --target): the run is the targets "
                            "(all without --target) minus these.")


POLICY = typer.Option(None, "--policy", show_default=False, metavar="DIR",
                      help="Run the policy pack in this directory on the plan (repeatable), besides the spec's own "
                           "(spec.policy.packs): a mandatory finding fails the plan and makes up/apply refuse "
                           "(docs/policy.md).")


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
        raise typer.Exit(1)
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
