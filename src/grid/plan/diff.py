"""Spec + state (+ live view) → Plan. Pure: the same inputs give the same plan."""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from grid.image_refs import POOL_IMAGE_REPOSITORY
from grid.plan.model import (
    Action,
    AttributeChange,
    Cause,
    HostConfigChange,
    Plan,
    Policy,
    ResourceChange,
    new_resource_action,
)
from grid.plan.policy import policy_for
from grid.render.names import RECORDS_DIGEST
from grid.resources import Kind, ResourceGraph
from grid.state.model import HostRecord, ResourceRecord, State


@dataclass(frozen=True, slots=True)
class LiveResource:
    """What the target really has for an address (from a refresh)."""

    exists: bool
    detail: str = ""  # e.g. "container is stopped"
    healthy: bool = True
    # The engine must make it anew although it exists (what it depends on is gone): a drift replacement.
    replace: bool = False
    # Another state owns the object at this address (who, where): grid refuses to touch it.
    foreign: str = ""


@dataclass(frozen=True, slots=True)
class LiveHost:
    """What a check-mode configuration run found on one host."""

    drifted_tasks: tuple[str, ...] = ()
    unreachable: bool = False
    unverifiable_tasks: tuple[str, ...] = ()


def make_plan(
    graph: ResourceGraph,
    state: State | None,
    *,
    target: str,
    spec_digest: str,
    serial: int = 0,
    lineage: str = "",
    allow_destroy_protected: bool = False,
    live: Mapping[str, LiveResource] | None = None,
    host_digests: Mapping[str, tuple[str, str, str]] | None = None,
    live_hosts: Mapping[str, LiveHost] | None = None,
    capacity: dict[str, Any] | None = None,
) -> Plan:
    recorded = state.resources if state else {}
    # A target that never creates machines (`existing`) adopts what it has not recorded yet.
    new_action = new_resource_action(target)
    new_reason = "in spec, not adopted yet" if new_action is Action.ADOPT else "new in spec"
    changes: list[ResourceChange] = []
    errors: list[str] = []
    noop = Action.NOOP
    kinds = {kind: kind.value for kind in Kind}  # an enum's .value is a property: 0.05 s at 10^5 resources
    for resource in graph:
        before = recorded.get(resource.address)
        # The graph is built for this plan and never changed afterwards: its attribute dicts serve as the
        # plan's `after` as they are (a copy per resource costs ~65 MB and 0.1 s at 10^5 nodes).
        attrs = resource.attrs
        after = attrs if type(attrs) is dict else dict(attrs)
        if before is None:
            changes.append(ResourceChange(resource.address, kinds[resource.kind], resource.region, new_action,
                                          Cause.SPEC, (), new_reason, after))  # positional: cheaper at 10^5
            if live is not None and (seen := live.get(resource.address)) is not None and seen.foreign:
                errors.append(_foreign(resource.address, seen))
            continue
        if before.attrs == after:  # most resources of a large plan: no call to _compare for them
            change = ResourceChange(resource.address, kinds[resource.kind], resource.region, noop, after=after)
        else:
            change = _compare(resource.address, kinds[resource.kind], resource.region, before.attrs, after)
        seen = live.get(resource.address) if live is not None else None
        if seen is not None and seen.foreign:
            errors.append(_foreign(resource.address, seen))
        elif change.action is Action.NOOP and seen is not None and (not seen.exists or not seen.healthy
                                                                      or seen.replace):
            action = Action.REPLACE if seen.replace else new_action if not seen.exists else Action.UPDATE
            change = ResourceChange(resource.address, resource.kind.value, resource.region, action, Cause.DRIFT,
                                    reason=seen.detail or "missing on the target", after=after)
        if resource.kind is Kind.VOLUME and change.action is Action.REPLACE and before.attrs.get("protect"):
            errors.append(f"{resource.address}: replacing protected storage would destroy its data "
                          f"({', '.join(a.name for a in change.attributes)} changed)")
        changes.append(change)
    for address, before in recorded.items():
        if graph.get(address) is not None:
            continue
        if is_protected_storage(before) and not allow_destroy_protected:
            errors.append(f"{address}: protected storage would be deleted; set protect: false first, "
                          "or pass --allow-destroy-protected")
        changes.append(ResourceChange(address, before.kind, before.region, Action.DELETE, reason="gone from spec"))
    config = _config_changes(graph, state, changes, host_digests, live_hosts) if host_digests is not None else ()
    return Plan(
        cluster=graph.cluster, target=target, spec_digest=spec_digest, state_serial=serial, state_lineage=lineage,
        changes=tuple(changes), config=config, errors=tuple(errors), capacity=capacity or {},
        refreshed=live is not None,
        unfinished=_unfinished(graph, state),
    )


def is_protected_storage(record: ResourceRecord) -> bool:
    """Storage marked `protect: true`: deleting it (its data) takes --allow-destroy-protected."""
    return record.kind == Kind.VOLUME.value and bool(record.attrs.get("protect"))


def protected_deletions(state: State, keep: Container[str] = ()) -> list[str]:
    """The protected storage that deleting every recorded resource outside `keep` would destroy."""
    return sorted(a for a, r in state.resources.items() if a not in keep and is_protected_storage(r))


def _foreign(address: str, seen: LiveResource) -> str:
    return (f"{address}: {seen.detail or 'the object'} already exists and belongs to another grid state "
            f"({seen.foreign}); grid will not replace or delete it. Run grid with that state (its directory, "
            "or --workdir/--state), or remove the objects there with `grid destroy`")


def _unfinished(graph: ResourceGraph, state: State | None) -> tuple[str, ...]:
    interrupted = state.interrupted_regions() if state is not None else []
    wanted = set(graph.regions) if interrupted else set()
    return tuple(r for r in interrupted if r in wanted)


def _compare(address: str, kind: str, region: str, before: Mapping[str, Any], after: dict[str, Any]) -> ResourceChange:
    if before == after:
        return ResourceChange(address, kind, region, Action.NOOP, after=after)
    diffs = tuple(
        AttributeChange(key, before.get(key), after.get(key), policy_for(kind, key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    )
    worst = max((d.policy for d in diffs), key=lambda p: p.rank)
    action = Action.UPDATE if worst is Policy.IN_PLACE else Action.REPLACE
    # A pool image's tag is its recipe hash (grid.render.images): another tag is another recipe.
    recipe = any(d.name == "image" and str(d.after).startswith(POOL_IMAGE_REPOSITORY) for d in diffs)
    reason = "image recipe changed" if recipe else "spec changed"
    return ResourceChange(address, kind, region, action, Cause.SPEC, diffs, reason=reason, after=after)


def _config_changes(
    graph: ResourceGraph,
    state: State | None,
    changes: list[ResourceChange],
    host_digests: Mapping[str, tuple[str, str, str]],
    live_hosts: Mapping[str, LiveHost] | None,
) -> tuple[HostConfigChange, ...]:
    makes = frozenset(a for a in Action if a.makes)  # a set lookup per change, not the property
    hosts = state.hosts if state else {}
    if not hosts:  # a first plan: every host is new, made again for drift or else for the spec
        drift, spec = Cause.DRIFT, Cause.SPEC
        remade = {c.address for c in changes if c.cause is drift and c.action in makes and c.kind == "node"}
        return tuple([HostConfigChange(a, "full", "new node", drift if a in remade else spec)
                      for a in sorted(host_digests)])
    rebuilt = {c.address: c.cause for c in changes if c.action in makes and c.kind == "node"}
    out: list[HostConfigChange] = []
    switch: list[str] = []  # _names_switch, found at the first host that needs it (O(N) once, not per host)
    # Keys first, digests only for hosts with a record: a new host needs everything whatever its digests are, so
    # a plan of new hosts never asks for them (grid.workspace.host_digests computes them on first use).
    for address in sorted(host_digests):
        record = hosts.get(address)
        if address in rebuilt or record is None:
            out.append(HostConfigChange(address, "full", "new node", rebuilt.get(address, Cause.SPEC)))
            continue
        node_digest, cluster_digest, hosts_digest = host_digests[address]
        seen = live_hosts.get(address) if live_hosts else None
        if record.status != "configured":
            cause = Cause.DRIFT if record.status == "drifted" else Cause.SPEC
            out.append(HostConfigChange(address, "full", f"last configuration {record.status}", cause))
        elif seen is not None and seen.drifted_tasks:
            out.append(HostConfigChange(address, "full", "configuration drifted: " + ", ".join(seen.drifted_tasks),
                                        Cause.DRIFT))
        elif record.node_digest != node_digest or record.cluster_digest != cluster_digest:
            if not switch:
                switch.append(_names_switch(hosts, host_digests) or _zone_switch(changes))
            full = record.node_digest != node_digest
            reason = "configuration inputs changed" if full else "cluster-wide inputs changed"
            out.append(HostConfigChange(address, "full" if full else "cluster-wide", reason + switch[0]))
        elif record.hosts_digest != hosts_digest:
            out.append(HostConfigChange(address, "hosts", _hosts_reason(hosts_digest, changes)))
    return tuple(out)


def _names_switch(hosts: Mapping[str, HostRecord], host_digests: Mapping[str, tuple[str, str, str]]) -> str:
    """"; name resolution: A -> B" when the cluster's name resolution switches (grid.render.names: `names` set,
    or its default on the target), else "": that changes how every node resolves, so the plan says it. A cluster
    with a name service has servers whose hosts digest is of records, before (state) and after (the spec)."""
    before = any(r.hosts_digest.startswith(RECORDS_DIGEST) for r in hosts.values())
    after = any(d[2].startswith(RECORDS_DIGEST) for d in host_digests.values())
    if before == after:
        return ""
    return "; name resolution: hosts_file -> dns" if after else "; name resolution: dns -> hosts_file"


def _zone_switch(changes: list[ResourceChange]) -> str:
    """The same for a cloud's private zone (`names: dns` on aws, alicloud), which no host's digest shows: the
    fabrics that carry the zone gain or lose it (grid.resources)."""
    for change in changes:
        if change.kind == "fabric":
            for attribute in change.attributes:
                if attribute.name == "dns_zone":
                    return ("; name resolution: hosts_file -> dns (private zone)" if attribute.after
                            else "; name resolution: dns (private zone) -> hosts_file")
    return ""


def _hosts_reason(hosts_digest: str, changes: list[ResourceChange]) -> str:
    """Why a host's hosts-table part changed: on a name server (grid.render.names), the records of the nodes
    that come, go or are made again."""
    if not hosts_digest.startswith(RECORDS_DIGEST):
        return "the cluster's hosts table changed"
    count = sum(1 for c in changes if c.kind == "node" and (c.action.makes or c.action is Action.DELETE))
    return f"{count} name record{'s' if count != 1 else ''} changed" if count else "name records changed"
