"""`grid up SPEC`: plan, confirm, apply (regions concurrently), configure, check."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from grid.apply import run
from grid.identity import cancel_rotation
from grid.targets.existing import fingerprint
from grid.workspace import plan as make_plan

from .. import common, console
from ..views.plan import plan_lines
from ..views.progress import ProgressView
from ..views.result import reporting
from .apply import finish


def register(app: typer.Typer) -> None:
    app.command("up")(up)


def up(
    spec: Path = common.SPEC,
    workdir: Path | None = common.WORKDIR,
    state: str | None = common.STATE,
    yes: bool = common.YES,
    json_output: bool = typer.Option(False, "--json", help="Print one JSON result document (grid-result/v1) "
                                     "on stdout; progress goes to stderr."),
    refresh: bool = typer.Option(False, "--refresh", help="Also compare configuration with reality first."),
    skip_check: bool = typer.Option(False, "--skip-check", help="Do not run acceptance checks at the end."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show every resource and task event."),
    trust_new_hosts: bool = typer.Option(
        False, "--trust-new-hosts", help="Targets existing, aws, openstack: pin the SSH host keys of nodes seen "
        "for the first time (check the fingerprints a run without this flag lists)."),
    rotate_ssh_key: bool = typer.Option(
        False, "--rotate-ssh-key", help="Replace the cluster's admin SSH key: a new key pair, written to every "
        "host's authorized keys in place (no node is replaced); the old key is removed once all hosts have it."),
) -> None:
    """Create or update the cluster so that it matches the spec."""
    with reporting(json_output, "up") as report:
        ws = common.workspace(spec, workdir, state)
        report.cluster = ws.cluster.name
        output = console.errout() if json_output else console.out()
        with common.locked(ws, "up"):
            envelope, current = common.read_state(ws)
            started_rotation = rotate_ssh_key and common.begin_rotation(ws)
            identity = common.identity(ws, current)
            if identity.rotating_from:
                output.print(f"Rotating the cluster's admin SSH key ({fingerprint(identity.rotating_from)} → "
                             f"{fingerprint(identity.keypair.public_key)}): every host's authorized keys are "
                             "rewritten in place, no node is replaced; the old key goes once every host has the "
                             "new one.", markup=False)
            stacks = run.default_stacks(ws, identity, trust_new_hosts=trust_new_hosts, warm=True)
            live, live_hosts = common.probe(ws, envelope, current, full=refresh)
            result = make_plan(ws, envelope=envelope, state=current, live=live, live_hosts=live_hosts)
            if result.errors:
                for text, style in plan_lines(result):
                    output.print(text, style=style or None, markup=False)
                raise console.CommandFailed("the plan has errors; nothing was changed: " + "; ".join(result.errors))
            if not result.has_changes:
                output.print(f"No changes: {ws.cluster.name} matches the spec "
                             f"({time.monotonic() - report.started:.1f}s).", markup=False)
                report.finish("no-changes", plan=result, serial=envelope.serial if envelope else 0)
                return
            for text, style in plan_lines(result):
                output.print(text, style=style or None, markup=False)
            try:
                common.confirm("Apply these changes?", yes)
            except BaseException:
                if started_rotation:
                    cancel_rotation(ws.workdir)  # declined: no rotation was started
                raise
            outcome = run.up(ws, result, emit=ProgressView(verbose=verbose, stderr=json_output),
                             stacks=stacks,
                             ansible=run.default_ansible(ws))
        finish(ws, result, outcome, report, output=output, skip_check=skip_check)
