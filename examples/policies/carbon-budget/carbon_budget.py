"""tCO2/yr per region under a budget (pack.yaml: default_budget_tco2_per_year, budgets_tco2_per_year,
warn_at_fraction)."""

from collections.abc import Iterator, Mapping
from typing import Any

from grid.policy import Finding, PlanView, policy


def _budget(config: Mapping[str, Any], region: str) -> float:
    return float((config.get("budgets_tco2_per_year") or {}).get(region, config["default_budget_tco2_per_year"]))


@policy(name="tco2-budget", level="mandatory", description="Each region's tCO2/yr stays under its budget")
def tco2_budget(plan: PlanView, config: Mapping[str, Any]) -> Iterator[Finding]:
    for region in plan.regions:
        budget = _budget(config, region.name)
        if region.tco2_per_year is not None and region.tco2_per_year > budget:
            yield Finding(f"{region.tco2_per_year:,.0f} tCO2/yr is over the budget of {budget:,.0f} tCO2/yr",
                          address=region.name)


@policy(name="tco2-near-budget", level="advisory", description="Warn when a region nears its carbon budget")
def near_budget(plan: PlanView, config: Mapping[str, Any]) -> Iterator[Finding]:
    share = float(config.get("warn_at_fraction", 0.9))
    for region in plan.regions:
        budget = _budget(config, region.name)
        if region.tco2_per_year is not None and share * budget < region.tco2_per_year <= budget:
            yield Finding(f"{region.tco2_per_year:,.0f} tCO2/yr is {region.tco2_per_year / budget:.0%} of its "
                          f"budget of {budget:,.0f}", address=region.name)
