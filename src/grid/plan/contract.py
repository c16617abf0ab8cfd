"""The plan is the contract: what the engine may not do that the plan did not show.

A plan lists, per address, what `grid up` will do. The infrastructure engine decides on its own, from
what it reads: a changed input it treats as replacing, a resource it holds that grid never recorded.
Before (or, for grid's own providers, at the moment) the engine replaces or deletes anything, grid holds
that step against the plan: an address the plan shows staying (no change, or an in-place update) must
not be replaced or deleted. Anything else the plan shows (create, replace, delete) may happen as shown;
addresses the plan never saw (left in a stack by a killed run) are the engine's to clean up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Pulumi's provider process reads the Allowance only: not the plan's models
    from grid.plan.model import Plan

ALLOWANCE_ENV = "GRID_PLAN_ALLOWANCE"
"""Names a file with the running plan's Allowance for one region: set by grid's Pulumi worker for `up` only,
read by grid's own providers (grid.stacks.local_provider) in Pulumi's provider process."""

DESTRUCTIVE_OPS = ("replace", "create-replacement", "delete-replaced", "delete", "discard", "discard-replaced")
"""Pulumi step operations that end an existing object (its data with it)."""


@dataclass(frozen=True)
class Allowance:
    """What the engine may do in one region: `kept` addresses must survive the run."""

    region: str
    kept: frozenset[str]

    def to_dict(self) -> dict[str, object]:
        return {"region": self.region, "kept": sorted(self.kept)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> Allowance:
        kept = raw.get("kept")
        return cls(str(raw.get("region", "")), frozenset(str(a) for a in kept) if isinstance(kept, list) else
                   frozenset())

    def refusal(self, address: str, op: str, detail: str = "") -> str | None:
        """Why the engine may not `op` `address`, or None when it may."""
        if op not in DESTRUCTIVE_OPS or address not in self.kept:
            return None
        verb = "delete" if op.startswith(("delete", "discard")) else "replace"
        return (f"{address}: the engine would {verb} it{f' ({detail})' if detail else ''}, but the plan shows it "
                "staying; grid stopped before that step — run `grid plan` to see why, then apply again")


def allowance(plan: Plan, region: str) -> Allowance:
    """The region's resources the plan keeps: recorded ones it neither replaces, recreates nor deletes (and
    the previous addresses of those it renames: the engine may re-address them, never end them)."""
    from grid.plan.model import Action

    kept = {c.address for c in plan.changes
            if c.region == region and c.action in (Action.NOOP, Action.UPDATE)}
    if plan.moved is not None:  # a renamed resource survives under its previous address too
        kept |= plan.moved.previous(region)
    return Allowance(region, frozenset(kept))


def violations(allowed: Allowance, steps: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[str]:
    """The refusals among an engine's steps (address -> operation, e.g. from a preview)."""
    pairs = steps.items() if isinstance(steps, Mapping) else steps
    return [reason for address, op in pairs if (reason := allowed.refusal(address, op)) is not None]
