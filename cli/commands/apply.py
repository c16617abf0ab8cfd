"""`grid apply PLAN`: apply exactly a plan saved by `grid plan SPEC --out PLAN` — no re-planning.

The saved plan records the spec's path and digest and the state's serial and lineage it was made against.
`apply` refuses (exit 1) when the spec no longer has that digest or the state moved on (someone applied in
between): the plan no longer describes what would happen, so plan again. A plan without changes exits 0
saying so (its `has_changes` is false). Same flow as `grid up` from the plan on: lock, confirm, apply, check.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from grid.apply import run
from grid.apply.engine import ApplyResult
from grid.plan import Plan
from grid.plan.document import from_document
from grid.spec import spec_digest
from grid.workspace import Workspace

from .. import common, console
from ..views.plan import plan_lines
from ..views.progress import ProgressView
from ..views.result import Result, reporting

_REPLAN = "plan again (`grid plan SPEC --out FILE`), review it, then `grid apply FILE`"


def register(app: typer.Typer) -> None:
    app.command("apply")(apply)


def apply(
    plan_file: Path = typer.Argument(..., help="Plan document written by `grid plan SPEC --out FILE`.",
                                     show_default=False),
    spec: Path | None = typer.Option(None, "--spec", show_default=False,
                                     help="The spec the plan was made from [default: the path the plan records]."),
    workdir: Path | None = common.WORKDIR,
    state: str | None = common.STATE,
    yes: bool = common.YES,
    json_output: bool = typer.Option(False, "--json", help="Print one JSON result document (grid-result/v1) "
                                     "on stdout; progress goes to stderr."),
    skip_check: bool = typer.Option(False, "--skip-check", help="Do not run acceptance checks at the end."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show every resource and task event."),
    trust_new_hosts: bool = typer.Option(
        False, "--trust-new-hosts", help="Targets existing, aws, openstack: pin the SSH host keys of nodes seen "
        "for the first time (check the fingerprints a run without this flag lists)."),
) -> None:
    """Apply a saved plan exactly as it was reviewed; refuse if the spec or the state changed since."""
    with reporting(json_output, "apply") as report:
        document = _load(plan_file)
        try:
            saved = from_document(document)
        except (ValueError, KeyError, TypeError) as exc:
            raise console.CommandFailed(f"{plan_file} is not a usable saved plan: {exc}",
                                        hint="write one with `grid plan SPEC --out FILE`") from None
        spec_path = spec or _recorded_spec(document, plan_file)
        ws = common.workspace(spec_path, workdir, state)
        report.cluster = ws.cluster.name
        _check_matches(saved, ws, spec_path)
        output = console.errout() if json_output else console.out()
        with common.locked(ws, "apply"):
            envelope, current = common.read_state(ws)
            now = (envelope.serial, envelope.lineage) if envelope else (0, "")
            if now != (saved.state_serial, saved.state_lineage):
                raise console.CommandFailed(
                    f"the saved plan is stale: it was made against state serial {saved.state_serial} "
                    f"(lineage {saved.state_lineage or 'none yet'}), and the state is now serial {now[0]} "
                    f"(lineage {now[1] or 'none yet'}) — someone applied since", hint=_REPLAN)
            if not saved.has_changes:
                output.print(f"No changes: the saved plan for {ws.cluster.name} has nothing to apply "
                             "(has_changes: false).", markup=False)
                report.finish("no-changes", plan=saved, serial=now[0])
                return
            for text, style in plan_lines(saved):
                output.print(text, style=style or None, markup=False)
            common.confirm("Apply this saved plan?", yes)
            outcome = run.up(ws, saved, emit=ProgressView(verbose=verbose, stderr=json_output),
                             stacks=run.default_stacks(ws, common.identity(ws, current),
                                                        trust_new_hosts=trust_new_hosts),
                             ansible=run.default_ansible(ws),
                             options=run.UpOptions(command=f"apply {plan_file.name}", fresh_plan=False))
        finish(ws, saved, outcome, report, output=output, skip_check=skip_check)


def finish(ws: Workspace, plan: Plan, outcome: ApplyResult, report: Result, *, output: Console,
           skip_check: bool) -> None:
    """After `run.up` (of `grid up` or `grid apply`): say how it went, run the checks, fill the result."""
    common.report_outcome(outcome, report.started, to_stderr=report.enabled)
    serial = outcome.serial or None
    if not outcome.ok:
        report.finish("applied", plan=plan, applied=outcome, serial=serial)
        raise typer.Exit(1)
    checks: dict[str, Any] | None = None
    if not skip_check:
        from .check import collect_checks, run_checks

        if report.enabled:
            reports = collect_checks(ws)
            checks = {"ok": all(r.ok for r in reports), "nodes": [r.to_dict() for r in reports]}
            ok = bool(checks["ok"])
        else:
            ok = run_checks(ws, json_output=False)
        if not ok:
            report.finish("checks-failed", plan=plan, applied=outcome, serial=serial, checks=checks)
            report.doc["ok"] = False
            output.print("acceptance checks failed: `grid check SPEC` shows them again", markup=False)
            raise typer.Exit(1)
    if not report.enabled:
        from grid.resources import pool_fabrics

        from ..views.outputs import output_lines

        for line in output_lines(outcome.state, str(ws.spec_path), pool_fabrics(ws.cluster)):
            output.print(line, markup=False)
    report.finish("applied", plan=plan, applied=outcome, serial=serial, checks=checks)


def _load(plan_file: Path) -> dict[str, Any]:
    try:
        document = json.loads(plan_file.read_text())
    except FileNotFoundError:
        raise console.CommandFailed(f"no saved plan at {plan_file}",
                                    hint="write one with `grid plan SPEC --out FILE`") from None
    except (OSError, ValueError) as exc:
        raise console.CommandFailed(f"cannot read the saved plan {plan_file}: {exc}") from None
    if not isinstance(document, dict):
        raise console.CommandFailed(f"{plan_file} is not a grid plan document (a JSON object is expected)")
    return document


def _recorded_spec(document: dict[str, Any], plan_file: Path) -> Path:
    """The spec path the plan records: as written (relative to the working directory), else beside the plan."""
    recorded = str((document.get("spec") or {}).get("path") or "")
    if not recorded:
        raise console.CommandFailed(f"{plan_file} does not record its spec", hint="pass --spec SPEC")
    path = Path(recorded)
    if not path.is_absolute() and not path.exists() and (plan_file.parent / path).exists():
        return plan_file.parent / path
    return path


def _check_matches(saved: Plan, ws: Workspace, spec_path: Path) -> None:
    if saved.errors:
        raise console.CommandFailed("the saved plan has errors and cannot be applied: " + "; ".join(saved.errors),
                                    hint="fix the spec, then " + _REPLAN)
    if saved.cluster != ws.cluster.name:
        raise console.CommandFailed(f"the saved plan is for cluster '{saved.cluster}', but {spec_path} is "
                                    f"cluster '{ws.cluster.name}'", hint="pass the plan's spec with --spec")
    digest = spec_digest(ws.cluster)
    if digest != saved.spec_digest:
        raise console.CommandFailed(
            f"{spec_path} no longer matches the saved plan (spec digest {digest[:19]}…, the plan was made from "
            f"{saved.spec_digest[:19]}…): the spec changed after the plan was made", hint=_REPLAN)
