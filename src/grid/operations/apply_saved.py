"""`grid apply PLAN`: apply exactly a plan saved by `grid plan SPEC --out PLAN` — no re-planning.

The saved plan records the spec's path and digest and the state's serial and lineage it was made against.
It is refused when the spec no longer has that digest or the state moved on (someone applied in between):
the plan no longer describes what would happen, so plan again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grid.apply import run
from grid.apply.events import EventSink
from grid.errors import OperationFailed
from grid.identity import resolve_identity
from grid.operations.check import NodeShown
from grid.operations.engines import Engines, locked
from grid.operations.outcome import Outcome
from grid.operations.planning import Planned, seal_saved
from grid.operations.policy_gate import check_saved
from grid.operations.targeting import selected_graph
from grid.operations.up import Applied, finished
from grid.plan import Plan
from grid.plan.document import from_document
from grid.spec import spec_digest
from grid.workspace import Workspace, graph_for, host_digests

REPLAN = "plan again (`grid plan SPEC --out FILE`), review it, then `grid apply FILE`"
WRITE_ONE = "write one with `grid plan SPEC --out FILE`"


@dataclass(frozen=True)
class SavedPlan:
    path: Path
    plan: Plan
    spec_path: Path | None  # as the plan records it (None: it does not)


@dataclass(frozen=True)
class ApplySavedOptions:
    skip_check: bool = False
    trust_new_hosts: bool = False
    allow_job_impact: bool = False  # see UpOptions.allow_job_impact


def spec_of(saved: SavedPlan, given: Path | None) -> Path:
    """The spec to apply the plan with: the one given, else the one the plan records."""
    if given is not None:
        return given
    if saved.spec_path is None:
        raise OperationFailed(f"{saved.path} does not record its spec", hint="pass --spec SPEC")
    return saved.spec_path


def load_saved_plan(path: Path) -> SavedPlan:
    document = _load(path)
    try:
        saved = from_document(document)
    except (ValueError, KeyError, TypeError) as exc:
        raise OperationFailed(f"{path} is not a usable saved plan: {exc}", hint=WRITE_ONE) from None
    return SavedPlan(path, saved, _recorded_spec(document, path))


def apply_saved(ws: Workspace, saved: SavedPlan, options: ApplySavedOptions, *, approve: Callable[[Plan], None],
                emit: EventSink, engines: Engines = Engines(), on_applied: Applied | None = None,
                on_node: NodeShown | None = None) -> Outcome:
    _check_matches(saved.plan, ws)
    with locked(ws, "apply"):
        envelope, state = ws.read_state()
        now = (envelope.serial, envelope.lineage) if envelope else (0, "")
        if now != (saved.plan.state_serial, saved.plan.state_lineage):
            raise OperationFailed(
                f"the saved plan is stale: it was made against state serial {saved.plan.state_serial} "
                f"(lineage {saved.plan.state_lineage or 'none yet'}), and the state is now serial {now[0]} "
                f"(lineage {now[1] or 'none yet'}) — someone applied since", hint=REPLAN)
        if not saved.plan.has_changes:
            return Outcome("no-changes", saved.plan, serial=now[0])
        approve(saved.plan)
        identity = resolve_identity(ws.workdir, ws.cluster.name, state)
        run.ensure_scheduler_secrets(ws, state)
        if saved.plan.selection is not None:  # a partial plan applies the graph its selection makes, nothing else
            graph, digests = selected_graph(ws, envelope, state, saved.plan.selection, identity.keypair.public_key)
        else:
            graph = graph_for(ws, state)
            digests = host_digests(ws, graph, identity.keypair.public_key)
        applied = run.up(ws, saved.plan, emit=emit,
                         stacks=engines.stacks(ws, identity, options.trust_new_hosts, False),
                         ansible=engines.ansible(ws),
                         options=run.UpOptions(command=f"apply {saved.path.name}", fresh_plan=False,
                                               allow_job_impact=options.allow_job_impact, slurm=engines.slurm),
                         inputs=run.RunInputs(envelope, state, graph, digests, identity))
        if applied.ok and saved.plan.selection is None:
            seal_saved(ws, applied.saved, applied.state)
    planned = Planned(saved.plan, envelope, state, graph, digests, identity.keypair.public_key)
    return finished(ws, planned, applied, skip_check=options.skip_check, on_applied=on_applied, on_node=on_node)


def _load(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise OperationFailed(f"no saved plan at {path}", hint=WRITE_ONE) from None
    except (OSError, ValueError) as exc:
        raise OperationFailed(f"cannot read the saved plan {path}: {exc}") from None
    if not isinstance(document, dict):
        raise OperationFailed(f"{path} is not a grid plan document (a JSON object is expected)")
    return document


def _recorded_spec(document: dict[str, Any], plan_file: Path) -> Path | None:
    """The spec path the plan records: as written (relative to the working directory), else beside the plan."""
    recorded = str((document.get("spec") or {}).get("path") or "")
    if not recorded:
        return None
    path = Path(recorded)
    if not path.is_absolute() and not path.exists() and (plan_file.parent / path).exists():
        return plan_file.parent / path
    return path


def _check_matches(saved: Plan, ws: Workspace) -> None:
    if saved.errors:
        raise OperationFailed("the saved plan has errors and cannot be applied: " + "; ".join(saved.errors),
                              hint="fix the spec, then " + REPLAN)
    if saved.cluster != ws.cluster.name:
        raise OperationFailed(f"the saved plan is for cluster '{saved.cluster}', but {ws.spec_path} is "
                              f"cluster '{ws.cluster.name}'", hint="pass the plan's spec with --spec")
    digest = spec_digest(ws.cluster)
    if digest != saved.spec_digest:
        raise OperationFailed(
            f"{ws.spec_path} no longer matches the saved plan (spec digest {digest[:19]}…, the plan was made from "
            f"{saved.spec_digest[:19]}…): the spec changed after the plan was made", hint=REPLAN)
    check_saved(saved)  # its policies passed, and their files are the ones that said so
