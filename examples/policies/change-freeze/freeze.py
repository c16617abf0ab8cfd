"""No node replacement or deletion in a region during a freeze (pack.yaml: freezes of regions, from, to)."""

from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from grid.policy import Finding, PlanView, policy


def _active(config: Mapping[str, Any], today: date) -> list[Mapping[str, Any]]:
    return [f for f in config.get("freezes") or ()
            if date.fromisoformat(str(f["from"])) <= today <= date.fromisoformat(str(f["to"]))]


@policy(name="no-node-removal-in-freeze", level="mandatory",
        description="Nodes are neither replaced nor deleted in a region during its freeze")
def freeze(plan: PlanView, config: Mapping[str, Any]) -> Iterator[Finding]:
    frozen = _active(config, plan.today)
    if not frozen:
        return
    for change in plan.pending():
        if change.kind != "node" or not change.removes:
            continue
        for window in frozen:
            if "*" in window["regions"] or change.region in window["regions"]:
                yield Finding(f"would be {change.action}d during the {window.get('reason', 'freeze')} "
                              f"({window['from']} to {window['to']})", address=change.address)
                break
