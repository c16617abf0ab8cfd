"""Plans: compare the spec's resources with the state (and optionally the live target).

The names below load on first use: Pulumi's provider process reads grid.plan.contract only, and should
not pay for the planner and its models (~0.18 s) to check a step against the plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grid import lazy_names

if TYPE_CHECKING:
    from grid.plan.diff import LiveHost, LiveResource, make_plan
    from grid.plan.model import (
        PLAN_FORMAT,
        SCOPES,
        Action,
        AttributeChange,
        Cause,
        HostConfigChange,
        Plan,
        Policy,
        ResourceChange,
    )

_HOMES = {
    "LiveHost": "grid.plan.diff", "LiveResource": "grid.plan.diff", "make_plan": "grid.plan.diff",
    **{name: "grid.plan.model" for name in ("PLAN_FORMAT", "SCOPES", "Action", "AttributeChange", "Cause",
                                            "HostConfigChange", "Plan", "Policy", "ResourceChange")},
}

__all__ = [
    "PLAN_FORMAT", "SCOPES", "Action", "AttributeChange", "Cause", "HostConfigChange", "LiveHost", "LiveResource",
    "Plan", "Policy", "ResourceChange", "make_plan",
]


__getattr__ = lazy_names.loader(__name__, _HOMES)
