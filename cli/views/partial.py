"""How a partial plan (--target/--exclude) says so: its headline, what it pulled in, what it leaves out."""

from __future__ import annotations

from grid.plan import Plan


def headline(plan: Plan) -> str | None:
    """"Partial plan: --target east/a/* (3 of 9 resources)", or None for a whole-cluster plan."""
    return plan.selection.headline() if plan.selection is not None else None


def selection_lines(plan: Plan) -> list[str]:
    """What the selection pulled in and why, and the work outside it the change calls for."""
    if plan.selection is None:
        return []
    pulled = plan.selection.pulled or {}
    return [*(f"pulled in: {needed} (needed by {by}, which does not exist yet)" for needed, by in sorted(
        pulled.items())), *plan.selection.left_out]


def markdown_lines(plan: Plan) -> list[str]:
    """The same for a pull-request comment: a callout under the headline."""
    if plan.selection is None:
        return []
    return ["", f"> **{plan.selection.headline()}** — only this part of the cluster is applied.",
            *(f"> - {line}" for line in selection_lines(plan))]
