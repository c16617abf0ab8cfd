"""`grid destroy --target/--exclude`: remove only the selected resources.

The run applies the recorded cluster without them (grid.plan.partial): the selected resources are deleted,
everything else stays exactly as recorded. A fabric or volume whose nodes stay is refused; protected storage
needs --allow-destroy-protected, as for a whole destroy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from grid.apply import run
from grid.apply.events import EventSink
from grid.errors import OperationFailed
from grid.identity import resolve_identity
from grid.operations.engines import Engines, locked
from grid.operations.outcome import Outcome
from grid.plan import Action, Plan
from grid.plan.partial import narrowed, select_for_destroy, without_selected
from grid.workspace import Workspace, graph_for, plan_parts

Approve = Callable[[Plan], None]
"""Shown the partial plan (its deletions), says yes by returning; raising cancels."""


def destroy_part(ws: Workspace, targets: tuple[str, ...], excludes: tuple[str, ...], *, approve: Approve,
                 emit: EventSink, engines: Engines = Engines(), allow_destroy_protected: bool = False) -> Outcome:
    with locked(ws, "destroy"):
        envelope, state = ws.read_state()
        if envelope is None or not state.resources:
            raise OperationFailed(f"cluster {ws.cluster.name} has no resources to destroy",
                                  hint=f"`grid status {ws.spec_path}` shows what grid recorded")
        selection = select_for_destroy(state, targets, excludes)
        identity = resolve_identity(ws.workdir, ws.cluster.name, state)
        graph = without_selected(state, graph_for(ws, state), selection)
        parts = plan_parts(ws, envelope=envelope, state=state, graph=graph, public_key=identity.keypair.public_key,
                           allow_destroy_protected=allow_destroy_protected)
        plan = narrowed(parts.plan, parts.plan, selection)
        plan = dataclasses.replace(plan, changes=tuple(
            dataclasses.replace(c, reason="destroy --target") if c.action is Action.DELETE else c
            for c in plan.changes))
        if plan.errors:
            raise OperationFailed("; ".join(plan.errors), hint="pass --allow-destroy-protected to delete its data")
        approve(plan)
        applied = run.up(ws, plan, emit=emit, stacks=engines.stacks(ws, identity, False, False),
                         ansible=engines.ansible(ws), options=run.UpOptions(command="destroy --target"),
                         inputs=run.RunInputs(envelope, state, graph, parts.host_digests, identity))
    deleted = sum(1 for c in plan.pending if c.action is Action.DELETE and c.kind != "link")
    return Outcome("destroyed" if applied.ok else "failed", plan, applied, serial=applied.serial or None,
                   counts={"delete": deleted})
