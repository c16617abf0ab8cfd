"""`grid check SPEC`: acceptance checks of the running cluster, per node."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from grid.apply.configure import refresh_known_hosts
from grid.check import NodeReport
from grid.check import run_checks as check_nodes
from grid.drivers.ssh import PinnedRemote
from grid.identity import find_keypair
from grid.workspace import Workspace, graph_for

from .. import common, console


def register(app: typer.Typer) -> None:
    app.command("check")(check)


def check(spec: Path = common.SPEC, workdir: Path | None = common.WORKDIR, json_output: bool = common.JSON,
          state: str | None = common.STATE) -> None:
    """Verify SSH (pinned keys), fabric MTU and reachability, shared storage and facts on every node."""
    ws = common.workspace(spec, workdir, state)
    if not run_checks(ws, json_output=json_output):
        raise typer.Exit(1)


def run_checks(ws: Workspace, *, json_output: bool) -> bool:
    output = console.out()

    def show(report: NodeReport) -> None:
        if json_output:
            return
        mark = "✓" if report.ok else "✗"
        passed = sum(report.checks.values())
        output.print(f"  {mark} {report.hostname}: {passed}/{len(report.checks)} checks",
                     style="green" if report.ok else "bold red", markup=False)
        for problem in report.problems:
            output.print(f"      {problem}", style="red", markup=False)

    if not json_output:
        output.print("Acceptance checks:", style="bold", markup=False)
    reports = collect_checks(ws, show)
    ok = all(r.ok for r in reports)
    if json_output:
        console.print_json({"cluster": ws.cluster.name, "ok": ok, "nodes": [r.to_dict() for r in reports]})
    else:
        output.print(f"{sum(r.ok for r in reports)}/{len(reports)} node(s) pass", style="bold", markup=False)
    return ok


def collect_checks(ws: Workspace, show: Callable[[NodeReport], None] | None = None) -> list[NodeReport]:
    """Run the checks on every node; `show` sees each report as it comes (`grid up/apply --json` embed them)."""
    _, state = common.read_state(ws)
    keys = find_keypair(ws.workdir)
    if keys is None or not state.resources:
        raise console.CommandFailed(f"cluster {ws.cluster.name} is not up", hint=f"run `grid up {ws.spec_path}`")
    known_hosts = refresh_known_hosts(ws.workdir, state)
    remote = PinnedRemote(user=ws.cluster.spec.defaults.ssh.user, private_key=keys.private_path, also=keys.also,
                          known_hosts=known_hosts, port=ws.cluster.spec.defaults.ssh.port)
    try:
        return list(check_nodes(graph_for(ws, state), state, remote, progress=show))
    finally:
        remote.close()
