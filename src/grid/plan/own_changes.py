"""Why a host's own configuration changed, in words a user acts on: "role nccl-tuning changed", "script
setup.sh changed", "pool configuration changed" (plan text and JSON: the reason of a host's configuration).

The digests say only that a host's inputs changed. Its pool's group_vars (grid.render.own.pool_vars) hold the
digest of every role and script the pool uses, so comparing them with the ones grid last rendered (the work
directory's rendered tree, when there is one here) names what changed. Pure: the caller reads the files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from grid.plan.model import HostConfigChange, Plan
from grid.render.ansible import group_name
from grid.resources import Kind, ResourceGraph

GENERIC = "configuration inputs changed"
"""grid.plan.diff's reason for a host whose own inputs changed: the one this module makes precise."""
OWN_REASONS = ("role ", "script ", "pool configuration ")
"""How the reasons made here start (views list them with their host counts)."""


def what_changed(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    """The differences between two renderings of a pool's group_vars, as reasons."""
    old, new = ({key: value for key, value in (values or {}).items() if value not in ([], {}, None)}
                for values in (before, after))  # an empty list is no list: a pool without a file had none
    reasons: list[str] = []
    for key, what in (("grid_own_roles", "role"), ("grid_scripts", "script")):
        name = "name" if what == "role" else "run"
        was = {item[name]: item["digest"] for item in old.pop(key, []) or []}
        now = {item[name]: item["digest"] for item in new.pop(key, []) or []}
        for item in now:
            if item not in was:
                reasons.append(f"{what} {item} added")
            elif was[item] != now[item]:
                reasons.append(f"{what} {item} changed")
        reasons += [f"{what} {item} removed" for item in was if item not in now]
    if old != new:
        reasons.append("pool configuration changed")
    return reasons


def explained(plan: Plan, graph: ResourceGraph, before: Mapping[str, Mapping[str, Any]],
              after: Mapping[str, Mapping[str, Any]]) -> Plan:
    """`plan` with the generic reason of each host whose pool's own configuration changed made precise;
    `before`/`after`: {pool group: group_vars} as last rendered and as rendered now."""
    if not plan.config or (not before and not after):
        return plan
    pools = {r.address: group_name("pool", r.region, str(r.attrs["pool"])) for r in graph.of_kind(Kind.NODE)}
    by_pool: dict[str, str] = {}
    config: list[HostConfigChange] = []
    for change in plan.config:
        group = pools.get(change.address)
        if change.reason != GENERIC or group is None:
            config.append(change)
            continue
        if group not in by_pool:
            by_pool[group] = "; ".join(what_changed(before.get(group), after.get(group))) or GENERIC
        config.append(dataclasses.replace(change, reason=by_pool[group]))
    return dataclasses.replace(plan, config=tuple(config))
