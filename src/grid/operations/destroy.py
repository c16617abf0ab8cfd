"""`grid destroy`: remove everything the cluster made; protected storage only when asked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from grid.apply import run
from grid.apply.events import EventSink
from grid.errors import OperationFailed
from grid.identity import resolve_identity
from grid.operations.engines import Engines, locked
from grid.operations.outcome import Outcome
from grid.plan.diff import protected_deletions
from grid.workspace import Workspace, graph_for

Approve = Callable[[int], None]
"""Told how many resources go, says yes by returning; raising cancels."""


@dataclass(frozen=True)
class DestroyOptions:
    allow_destroy_protected: bool = False


def destroy(ws: Workspace, options: DestroyOptions, *, approve: Approve, emit: EventSink,
            engines: Engines = Engines()) -> Outcome:
    with locked(ws, "destroy"):
        envelope, state = ws.read_state()
        protected = protected_deletions(state)
        if protected and not options.allow_destroy_protected:
            raise OperationFailed(
                f"protected storage would be destroyed: {', '.join(protected)}",
                hint="pass --allow-destroy-protected, or set protect: false and run grid up first")
        count = len([r for r in state.resources.values() if r.kind != "link"])
        approve(count)
        identity = resolve_identity(ws.workdir, ws.cluster.name, state)
        inputs = run.RunInputs(envelope, state, graph_for(ws, state), {}, identity)
        applied = run.destroy(ws, emit=emit, stacks=engines.stacks(ws, identity, False, False), inputs=inputs)
    return Outcome("destroyed" if applied.ok else "failed", applied=applied, serial=applied.serial or None,
                   counts={"delete": count})
