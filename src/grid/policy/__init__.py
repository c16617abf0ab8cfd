"""Policy packs: checks on a plan, written in Python, that the plan must pass before it is applied.

A pack is a directory of `.py` files and an optional `pack.yaml` (its thresholds): `grid plan --policy DIR`, or
`spec.policy.packs` so that every plan of the spec (CI, agents) runs it. Each policy sees the plan document
(grid-plan/v1) through `PlanView` and returns findings; a `mandatory` finding blocks `grid up` / `grid apply`,
an `advisory` one is shown. docs/policy.md has the whole story.

Policy authors import from here only: `policy`, `Finding`, `PlanView` (and its `ChangeView`, `RegionFigures`).
"""

from grid.policy.api import Finding, Level, policy
from grid.policy.report import PackRun, PolicyFinding, PolicyReport
from grid.policy.view import ChangeView, PlanView, RegionFigures

__all__ = ["ChangeView", "Finding", "Level", "PackRun", "PlanView", "PolicyFinding", "PolicyReport",
           "RegionFigures", "policy"]
