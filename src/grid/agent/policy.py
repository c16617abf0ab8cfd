"""What an active agent does with a valid spec, by policy — the one place the agent calls grid's operations.

- `apply`: converge (`grid up`, approved automatically); drift found on the drift schedule is repaired the same way.
- `drift-only`: plan and check drift, report, change nothing (drift is recorded in state as `grid drift` does).
- `plan-approval`: apply only the plan approved in the repository (a saved plan file committed next to the spec,
  `grid plan SPEC --out SPEC.plan`), and only when it still matches what grid plans now; else wait for one.

`fence()` is called before every step that changes something, and every state write of a run calls it too
(grid.apply.statewriter.fenced_writes): an agent that lost its lease stops before it writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from grid.agent.config import AgentConfig
from grid.apply.events import Event
from grid.apply.statewriter import fenced_writes
from grid.drift import DriftReport
from grid.errors import GridError
from grid.identity import Identity
from grid.operations import (
    ApplySavedOptions,
    Outcome,
    Planned,
    PlanOptions,
    UpOptions,
    apply_saved,
    drift,
    load_saved_plan,
    plan,
    up,
)
from grid.plan import Plan
from grid.workspace import Workspace

Fence = Callable[[], None]


@dataclass(frozen=True)
class StepResult:
    """How one reconcile or drift step ended. `done`: nothing is left to retry until the next commit or drift."""

    result: str  # applied | no-changes | changes-pending | waiting-approval | no-drift | drift | drift-repaired |
    #              failed | refused
    message: str
    done: bool
    seconds: float = 0.0
    drift_found: int = 0
    drift_repaired: int = 0
    applied: bool = False  # something was changed (its duration is an apply duration)
    fields: dict[str, Any] = field(default_factory=dict)


class Actor(Protocol):
    """The seam between the loop and grid's operations (tests give the loop a fake)."""

    def reconcile(self, ws: Workspace, tree: Path, fence: Fence) -> StepResult: ...

    def drift(self, ws: Workspace, fence: Fence) -> StepResult: ...


class GridActor:
    def __init__(self, config: AgentConfig, *, on_event: Callable[[Event], None] | None = None) -> None:
        self._config = config
        self._emit = on_event or (lambda _event: None)

    def reconcile(self, ws: Workspace, tree: Path, fence: Fence) -> StepResult:
        started = time.monotonic()
        if self._config.policy == "apply":
            result = self._up(ws, fence)
        elif self._config.policy == "drift-only":
            result = self._report_plan(ws)
        else:
            result = self._approved(ws, tree, fence)
        return _timed(result, started)

    def drift(self, ws: Workspace, fence: Fence) -> StepResult:
        started = time.monotonic()
        fence()
        with fenced_writes(fence):
            report = drift(ws)
        found = len(report.items)
        if not report.drifted:
            return _timed(StepResult("no-drift", "no drift", True, fields=_unreachable(report)), started)
        if self._config.policy != "apply":
            return _timed(StepResult("drift", f"{found} drifted: {_drift_words(report)}; nothing changed "
                                     f"(policy {self._config.policy})", True, drift_found=found,
                                     fields=_unreachable(report)), started)
        repaired = self._up(ws, fence)
        if repaired.result not in ("applied", "no-changes"):
            return _timed(StepResult("failed", f"{found} drifted ({_drift_words(report)}); the repair "
                                     f"failed: {repaired.message}", False, drift_found=found, applied=True),
                          started)
        return _timed(StepResult("drift-repaired", f"{found} drifted ({_drift_words(report)}); repaired",
                                 True, drift_found=found, drift_repaired=found, applied=True), started)

    def _up(self, ws: Workspace, fence: Fence) -> StepResult:
        def approve(_planned: Planned, _identity: Identity) -> None:
            fence()  # the last moment before anything changes

        fence()
        with fenced_writes(fence):
            outcome = up(ws, UpOptions(), approve=approve, emit=self._emit)
        return _from_outcome(outcome)

    def _report_plan(self, ws: Workspace) -> StepResult:
        planned = plan(ws, PlanOptions(probe=True))
        if planned.plan.errors:
            return StepResult("failed", "the plan has errors: " + "; ".join(planned.plan.errors), False)
        if not planned.plan.has_changes:
            return StepResult("no-changes", "the cluster matches the spec", True)
        return StepResult("changes-pending", f"{_counts(planned.plan)} pending; nothing changed (policy "
                          "drift-only)", True, fields={"counts": _nonzero(planned.plan)})

    def _approved(self, ws: Workspace, tree: Path, fence: Fence) -> StepResult:
        planned = plan(ws, PlanOptions(probe=True))
        if planned.plan.errors:
            return StepResult("failed", "the plan has errors: " + "; ".join(planned.plan.errors), False)
        if not planned.plan.has_changes:
            return StepResult("no-changes", "the cluster matches the spec", True)
        plan_file = tree / self._config.approved_plan_path
        waiting = f"waiting for an approved plan: {_counts(planned.plan)} pending"
        if not plan_file.is_file():
            return StepResult("waiting-approval", f"{waiting}; commit `grid plan {self._config.path} --out "
                              f"{self._config.approved_plan_path}` next to the spec", False)
        try:
            saved = load_saved_plan(plan_file)
        except GridError as exc:
            return StepResult("waiting-approval", f"{waiting}; {exc.message}", False)
        if _changes(saved.plan) != _changes(planned.plan):
            return StepResult("waiting-approval", f"{waiting}; the approved plan "
                              f"{self._config.approved_plan_path} no longer matches what grid plans now "
                              "(the cluster or its state changed since): plan again and commit it", False)
        fence()
        try:
            with fenced_writes(fence):
                outcome = apply_saved(ws, saved, ApplySavedOptions(), approve=lambda _plan: fence(),
                                      emit=self._emit)
        except GridError as exc:
            if exc.message.startswith(("the saved plan is stale", f"{ws.spec_path} no longer matches",
                                       "the policy files changed")):  # plan again, approve again
                return StepResult("waiting-approval", f"{waiting}; {exc.message}", False)
            raise
        return _from_outcome(outcome)


def _from_outcome(outcome: Outcome) -> StepResult:
    if outcome.status == "no-changes":
        return StepResult("no-changes", "the cluster matches the spec", True)
    if outcome.status == "applied":
        counts = _counts(outcome.plan) if outcome.plan else "changes"
        return StepResult("applied", f"applied {counts}", True, applied=True,
                          fields={"serial": outcome.serial} if outcome.serial is not None else {})
    if outcome.status == "plan-errors":
        errors = "; ".join(outcome.plan.errors) if outcome.plan else ""
        return StepResult("failed", f"the plan has errors, nothing was changed: {errors}", False)
    why = ""
    if outcome.applied is not None and outcome.applied.failures:
        why = ": " + "; ".join(str(f) for f in outcome.applied.failures[:3])
    elif outcome.checks is not None:
        why = ": acceptance checks failed"
    return StepResult("failed", f"the run ended {outcome.status}{why}", False, applied=True)


def _timed(result: StepResult, started: float) -> StepResult:
    from dataclasses import replace

    return replace(result, seconds=round(time.monotonic() - started, 3))


def _nonzero(made: Plan) -> dict[str, int]:
    return {action: n for action, n in made.counts().items() if n and action != "no-op"}


def _counts(made: Plan) -> str:
    counts = _nonzero(made)
    words = ", ".join(f"{n} to {action}" for action, n in counts.items())
    if made.config:
        words = (words + ", " if words else "") + f"{len(made.config)} host(s) to configure"
    return words or "changes"


def _changes(made: Plan) -> list[tuple[str, str]]:
    return sorted((c.address, c.action.value) for c in made.pending)


def _drift_words(report: DriftReport) -> str:
    shown = ", ".join(item.address for item in report.items[:5])
    return shown + (f" and {len(report.items) - 5} more" if len(report.items) > 5 else "")


def _unreachable(report: DriftReport) -> dict[str, Any]:
    return {"unreachable": list(report.unreachable)} if report.unreachable else {}
