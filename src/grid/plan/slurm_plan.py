"""What the Slurm part of a plan costs: "reconfigure: no job impact", "restart slurmctld: …", with the reason.

Compares the slurm role's vars grid last rendered here (the work directory's rendered all.yml) with the ones
this spec renders (grid.render.slurm.inventory_vars), by grid.render.slurm_changes.classify. Pure: the caller
reads the files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grid.render.slurm import CONF_VARS
from grid.render.slurm_changes import IMPACT, SlurmAction, classify


@dataclass(frozen=True)
class SlurmStep:
    """One thing applying the plan does to Slurm, what running work feels of it, and why."""

    action: str  # a SlurmAction value, or "install" (first configuration) / "remove"
    impact: str
    reason: str

    def line(self) -> str:
        return f"{self.action}: {self.impact} ({self.reason})" if self.reason else f"{self.action}: {self.impact}"

    def to_document(self) -> dict[str, str]:
        return {"action": self.action, "impact": self.impact, "reason": self.reason}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> SlurmStep:
        return cls(str(doc["action"]), str(doc.get("impact", "")), str(doc.get("reason", "")))


INSTALL = "install"
UNKNOWN_BEFORE = ("Slurm's files change; grid did not render the last ones here, so each host compares its own "
                  "and restarts only where a restart-only key or the node list changed")


def slurm_steps(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, *,
                configured_before: bool) -> tuple[SlurmStep, ...]:
    """The steps from the vars last rendered (`before`: all.yml as loaded, None when there is none here) to
    `after` (None: the spec has no scheduler); `configured_before`: the last applied spec had a scheduler."""
    if after is None:
        if configured_before:
            return (SlurmStep("leave", "the daemons keep running as they are; grid no longer manages them",
                              "scheduler removed from the spec"),)
        return ()
    new = _files(after)
    old = _files(before) if before else {}
    if not configured_before and not old:
        return (SlurmStep(INSTALL, "no jobs yet", "munge, slurmctld and slurmd configured and started"),)
    if not old:
        return (SlurmStep(SlurmAction.RECONFIGURE.value, "decided per host", UNKNOWN_BEFORE),)
    return tuple(SlurmStep(change.action.value, IMPACT[change.action], change.reason)
                 for change in classify(old, new))


def _files(values: Mapping[str, Any]) -> dict[str, str]:
    return {name: str(values.get(var) or "") for name, var in CONF_VARS.items() if values.get(var)}
