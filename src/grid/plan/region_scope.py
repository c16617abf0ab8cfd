"""A plan limited to some regions (`--region`): what it applies, and what it leaves for the other regions' runs.

A region's run changes only that region's resources and hosts. Hosts elsewhere that the change affects (their
/etc/hosts must learn a new node: their hosts digest changed) are not configured by it: they are pending work
for their own region's next run, which sees them in its plan anyway (the digests differ) and clears the record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from grid.plan.model import SCOPES, HostConfigChange, Plan
from grid.plan.waves import Roll
from grid.state.partition_split import region_of_address


@dataclass(frozen=True)
class Scoped:
    plan: Plan  # only the scope's changes
    pending: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # region -> what its next run must do
    skipped: Mapping[str, int] = field(default_factory=dict)  # region -> resource changes left to its own run


def limit_to_regions(plan: Plan, regions: Collection[str]) -> Scoped:
    scope = set(regions)
    # Links between regions are the spec's, recorded by every run alike (grid.state.partitions lets a region
    # run record them): they stay in.
    changes = tuple(c for c in plan.changes if c.region in scope or c.kind == "link")
    config = tuple(h for h in plan.config if region_of_address(h.address) in scope)
    skipped: dict[str, int] = {}
    for change in plan.pending:
        if change.region not in scope and change.kind != "link":
            skipped[change.region] = skipped.get(change.region, 0) + 1
    made_elsewhere = {c.address for c in plan.pending if c.region not in scope}
    elsewhere: dict[str, list[HostConfigChange]] = {}
    for host in plan.config:
        region = region_of_address(host.address)
        if region not in scope and host.address not in made_elsewhere:  # those come with their region's changes
            elsewhere.setdefault(region, []).append(host)
    roll = Roll(tuple(p for p in plan.roll.pools if p.region in scope)) if plan.roll is not None else None
    limited = dataclasses.replace(plan, changes=changes, config=config, roll=roll,
                                  unfinished=tuple(r for r in plan.unfinished if r in scope))
    return Scoped(limited, {r: pending_lines(hosts, sorted(scope)) for r, hosts in sorted(elsewhere.items())},
                  skipped)


def pending_lines(hosts: list[HostConfigChange], changed: list[str]) -> tuple[str, ...]:
    """What a region's next run must do for its hosts, as people read it."""
    by_scope: dict[str, int] = {}
    for host in hosts:
        by_scope[host.scope] = by_scope.get(host.scope, 0) + 1
    who = ", ".join(changed)
    lines = []
    for scope in SCOPES:
        count = by_scope.get(scope)
        if not count:
            continue
        hosts_words = f"{count} host{'s' if count != 1 else ''}"
        if scope == "hosts":
            # With a name service (grid.render.names) these are the regions' name servers: records, not /etc/hosts.
            what = "name records" if all("name record" in h.reason for h in hosts if h.scope == "hosts") \
                else "hosts table"
            lines.append(f"{hosts_words} {'learn' if count != 1 else 'learns'} {who}'s new nodes ({what})")
        else:
            lines.append(f"{hosts_words}: {SCOPES[scope]} after {who} changed")
    return tuple(lines)
