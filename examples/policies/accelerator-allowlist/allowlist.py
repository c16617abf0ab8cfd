"""Accelerators only from an allowed list (pack.yaml: allowed)."""

from collections.abc import Iterator, Mapping
from typing import Any

from grid.policy import Finding, PlanView, policy


@policy(name="allowed-accelerators", level="mandatory",
        description="Every pool's accelerator model is on the allowed list")
def allowed_accelerators(plan: PlanView, config: Mapping[str, Any]) -> Iterator[Finding]:
    allowed = set(config["allowed"])
    seen: set[tuple[str, str]] = set()
    for change in plan.pending():  # the pools a change makes or keeps, named by address
        if change.kind == "node" and change.action != "delete" and change.accelerator \
                and change.accelerator not in allowed and (change.region, change.pool) not in seen:
            seen.add((change.region, change.pool))
            yield Finding(f"pool {change.pool} uses {change.accelerator}, which is not on the allowed list",
                          address=f"{change.region}/{change.pool}")
    for region in plan.regions:  # and what already runs, from the capacity figures
        for model, count in region.accelerators_by_model.items():
            if model not in allowed and not any(r == region.name for r, _ in seen):
                yield Finding(f"{count:,} {model} accelerator(s), which is not on the allowed list",
                              address=region.name)
