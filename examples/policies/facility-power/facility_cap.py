"""A hub's facility MW within its cap (pack.yaml: default_cap_mw, caps_mw per region)."""

from collections.abc import Iterator, Mapping
from typing import Any

from grid.policy import Finding, PlanView, policy


@policy(name="facility-mw-cap", level="mandatory",
        description="Each hub's facility power (IT load times PUE) stays within its cap")
def facility_cap(plan: PlanView, config: Mapping[str, Any]) -> Iterator[Finding]:
    caps = config.get("caps_mw") or {}
    for region in plan.regions:
        cap = float(caps.get(region.name, config["default_cap_mw"]))
        if region.facility_mw is None:
            yield Finding("facility power unknown (an accelerator without power figures): cannot check the "
                          f"{cap:g} MW cap", address=region.name)
        elif region.facility_mw > cap:
            yield Finding(f"facility power {region.facility_mw:,.2f} MW is over the cap of {cap:g} MW "
                          f"(by {region.facility_mw - cap:,.2f} MW)", address=region.name)
