"""What a policy author writes against: the `@policy` decorator and `Finding`.

    from grid.policy import Finding, PlanView, policy

    @policy(name="facility-mw-cap", level="mandatory", description="A hub's facility power stays under its cap")
    def facility_cap(plan: PlanView, config: Mapping[str, Any]) -> Iterator[Finding]:
        for region in plan.regions:
            if region.facility_mw > config["cap_mw"]:
                yield Finding(f"{region.facility_mw:.1f} MW over the cap", address=region.name)

A policy returns (or yields) `Finding`s or plain strings; nothing (or an empty list) means it passed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from grid.policy.view import PlanView

Level = Literal["mandatory", "advisory"]
LEVELS: tuple[Level, ...] = ("mandatory", "advisory")
POLICY_ATTRIBUTE = "__grid_policy__"
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")

PolicyFunction = Callable[["PlanView", Mapping[str, Any]], "Iterable[Finding | str] | None"]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a policy found wrong with the plan; `address`: what it is about (a region, a node address)."""

    message: str
    address: str = ""


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    name: str
    level: Level
    description: str = ""


def policy(*, name: str, level: Level = "mandatory", description: str = "") -> Callable[[F], F]:
    """Mark a function `(plan, config) -> findings` as a policy of its pack; the function is returned unchanged."""
    if not NAME.match(name):
        raise ValueError(f"policy name {name!r}: use lowercase letters, digits, '-' and '_' (at most 63)")
    if level not in LEVELS:
        raise ValueError(f"policy {name}: level {level!r} is not one of {', '.join(LEVELS)}")

    def mark(function: F) -> F:
        setattr(function, POLICY_ATTRIBUTE, PolicyInfo(name, level, description))
        return function

    return mark


def info_of(candidate: object) -> PolicyInfo | None:
    found = getattr(candidate, POLICY_ATTRIBUTE, None) if callable(candidate) else None
    return found if isinstance(found, PolicyInfo) else None
