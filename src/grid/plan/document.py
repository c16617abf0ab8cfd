"""The plan as a versioned JSON document (`grid plan --json`, `--out`), and back.

Format `grid-plan/v1` is documented in docs/plan-format.md; `has_changes` is the
field CI reads to recognise a no-change plan without parsing prose.
"""

from __future__ import annotations

from typing import Any

from grid.plan.jobs import JobImpact
from grid.plan.model import (
    PLAN_FORMAT,
    Action,
    AttributeChange,
    Cause,
    HostConfigChange,
    Plan,
    Policy,
    ResourceChange,
)
from grid.plan.moved import Moves
from grid.plan.selection import Selection
from grid.plan.slurm_plan import SlurmStep
from grid.policy.report import PolicyReport


def to_document(plan: Plan, *, spec_path: str = "", grid_version: str = "") -> dict[str, Any]:
    return {
        "format": PLAN_FORMAT,
        "grid_version": grid_version,
        "cluster": plan.cluster,
        "target": plan.target,
        "spec": {"path": spec_path, "digest": plan.spec_digest},
        "state": {"serial": plan.state_serial, "lineage": plan.state_lineage},
        "refreshed": plan.refreshed,
        "unfinished_regions": list(plan.unfinished),
        "has_changes": plan.has_changes,
        "summary": {**plan.counts(), "configure": len(plan.config), "drifted": len(plan.drifted)},
        "errors": list(plan.errors),
        "changes": [_change(c) for c in plan.changes],
        "configuration": [{"address": h.address, "scope": h.scope, "reason": h.reason, "cause": h.cause.value}
                          for h in plan.config],
        "capacity": plan.capacity,
        "jobs": plan.jobs.to_document() if plan.jobs is not None else None,
        "slurm": [step.to_document() for step in plan.slurm],
        "waves": [{"region": p.region, "pool": p.pool, "max_unavailable": p.max_unavailable,
                   "waves": [list(w) for w in p.waves], "lines": p.lines()}
                  for p in (plan.roll.pools if plan.roll is not None else ())],
        # A partial plan (--target/--exclude): its patterns and what they selected; null for the whole cluster.
        "selection": plan.selection.to_document() if plan.selection is not None else None,
        # Resources the spec's `moved:` entries re-address, and entries matching nothing; null: no entries.
        "moved": plan.moved.to_document() if plan.moved is not None else None,
        # What the policy packs found, the packs and the digest of their files; null when no pack ran.
        "policy": plan.policy.to_document() if plan.policy is not None else None,
    }


def _change(change: ResourceChange) -> dict[str, Any]:
    return {
        "address": change.address, "kind": change.kind, "region": change.region,
        "action": change.action.value, "symbol": change.action.symbol, "cause": change.cause.value,
        "policy": change.policy.value, "reason": change.reason,
        "attributes": [{"name": a.name, "before": a.before, "after": a.after, "policy": a.policy.value}
                       for a in change.attributes],
        "after": change.after,
    }


def from_document(doc: dict[str, Any]) -> Plan:
    """Rebuild a saved plan; raises ValueError with a message when the document is not a grid plan."""
    if doc.get("format") != PLAN_FORMAT:
        raise ValueError(f"not a {PLAN_FORMAT} document (format: {doc.get('format')!r})")
    changes = tuple(
        ResourceChange(
            address=c["address"], kind=c["kind"], region=c["region"], action=Action(c["action"]),
            cause=Cause(c["cause"]), reason=c.get("reason", ""), after=c.get("after"),
            attributes=tuple(AttributeChange(a["name"], a["before"], a["after"], Policy(a["policy"]))
                             for a in c.get("attributes", [])),
        )
        for c in doc["changes"]
    )
    config = tuple(HostConfigChange(h["address"], h["scope"], h["reason"], Cause(h.get("cause", "spec")))
                   for h in doc.get("configuration", []))
    return Plan(
        cluster=doc["cluster"], target=doc["target"], spec_digest=doc["spec"]["digest"],
        state_serial=int(doc["state"]["serial"]), state_lineage=str(doc["state"]["lineage"]),
        changes=changes, config=config, errors=tuple(doc.get("errors", [])), capacity=doc.get("capacity", {}),
        refreshed=bool(doc.get("refreshed")), unfinished=tuple(doc.get("unfinished_regions", [])),
        jobs=JobImpact.from_document(doc["jobs"]) if doc.get("jobs") else None,
        slurm=tuple(SlurmStep.from_document(step) for step in doc.get("slurm") or []),
        selection=Selection.from_document(doc["selection"]) if doc.get("selection") else None,
        moved=Moves.from_document(doc["moved"]) if doc.get("moved") else None,
        policy=PolicyReport.from_document(doc["policy"]) if doc.get("policy") else None,
    )
