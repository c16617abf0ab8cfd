"""Plans: compare the spec's resources with the state (and optionally the live target)."""

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

__all__ = [
    "PLAN_FORMAT", "SCOPES", "Action", "AttributeChange", "Cause", "HostConfigChange", "LiveHost", "LiveResource",
    "Plan", "Policy", "ResourceChange", "make_plan",
]
