"""What a run that applies returns: how far it got, and with what."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from grid.plan import Plan

if TYPE_CHECKING:
    from grid.apply.context import ApplyResult
    from grid.operations.check import Checks

Status = Literal["plan-errors", "no-changes", "applied", "failed", "checks-failed", "destroyed"]


@dataclass(frozen=True)
class Outcome:
    status: Status
    plan: Plan | None = None
    applied: ApplyResult | None = None
    checks: Checks | None = None
    serial: int | None = None  # of the state as this run left it (None: no state was saved)
    counts: dict[str, int] | None = None  # destroy: what it removed, by action

    @property
    def ok(self) -> bool:
        return self.status in ("no-changes", "applied", "destroyed")
