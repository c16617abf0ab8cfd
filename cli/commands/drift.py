"""`grid drift SPEC`: what changed in reality since the last apply, apart from spec changes."""

from __future__ import annotations

from pathlib import Path

import typer

from grid.drift import drift_report, record_drift, refresh_live
from grid.workspace import plan as make_plan

from .. import common, console


def register(app: typer.Typer) -> None:
    app.command("drift")(drift)


def drift(
    spec: Path = common.SPEC,
    workdir: Path | None = common.WORKDIR,
    location: str | None = common.STATE,
    json_output: bool = common.JSON,
    detailed_exitcode: bool = typer.Option(False, "--detailed-exitcode", help="Exit 2 when anything drifted."),
) -> None:
    """Refresh infrastructure (Pulumi) and configuration (Ansible check mode) and report drift."""
    ws = common.workspace(spec, workdir, location)
    with common.locked(ws, "drift"):
        envelope, state = common.read_state(ws)
        if envelope is None or not state.resources:
            raise console.CommandFailed(f"cluster {ws.cluster.name} has no state yet",
                                        hint=f"run `grid up {spec}` first")
        live, live_hosts = refresh_live(ws, state, full=True, lineage=envelope.lineage)
        result = make_plan(ws, envelope=envelope, state=state, live=live, live_hosts=live_hosts)
        report = drift_report(result, state, live_hosts)
        if report.drifted:
            ws.store.write(record_drift(state, report), expected_serial=envelope.serial)
    if json_output:
        console.print_json(report.to_dict())
    else:
        output = console.out()
        if not report.items and not report.unreachable:
            output.print(f"No drift: {ws.cluster.name} is what the state says.", style="bold green", markup=False)
        for item in report.items:
            output.print(f"  ! {item.address} ({item.kind}): recorded {item.recorded}; actually {item.actual}; "
                         f"grid up will {item.remedy}", style="yellow", markup=False)
            for task in item.tasks:
                output.print(f"      task changed: {task}", markup=False)
        for address in report.unreachable:
            output.print(f"  ! {address}: unreachable over SSH", style="red", markup=False)
        for address, tasks in report.unverifiable.items():
            output.print(f"  ? {address}: not verifiable in check mode: {', '.join(tasks)}", style="dim",
                         markup=False)
        if report.drifted:
            output.print(f"{len(report.items) + len(report.unreachable)} drifted item(s); "
                         f"`grid up {spec}` repairs them.", style="bold", markup=False)
    if detailed_exitcode and report.drifted:
        raise typer.Exit(2)
