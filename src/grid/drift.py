"""Drift: what really exists compared with what state says, kept apart from spec changes.

Two depths: a cheap probe of the target (for the local target, one podman listing) that
`grid up` always runs, and a full refresh (`grid plan --refresh`, `grid drift`): Pulumi
preview with refresh per region and, at the same time, one digest probe per host (grid.drift_digest), the
playbook in check + diff mode only on hosts whose digests differ (`full_check`: on every host).
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from grid.drift_words import findings
from grid.identity import Identity
from grid.plan import LiveHost, LiveResource, Plan
from grid.resources import Kind, ResourceGraph
from grid.state.model import State
from grid.workspace import Workspace, graph_for

REPLACE_OPS = ("create-replacement", "replace", "delete-replaced")
REMEDY = {"create": "recreate it", "adopt": "adopt it again (`grid up`)"}
"""What repairs a resource found missing, by the plan's action (else: restart/update it in place)."""


def probe(ws: Workspace, state: State, lineage: str, graph: ResourceGraph | None = None
          ) -> dict[str, LiveResource] | None:
    """The target's cheap reality check (the local target's podman listing), None when it has none."""
    return ws.target.probe(ws.cluster, state, graph if graph is not None else graph_for(ws, state), lineage=lineage)


def refresh_live(ws: Workspace, state: State, *, full: bool = True, lineage: str = "",
                 graph: ResourceGraph | None = None, identity: Identity | None = None,
                 only: Collection[str] | None = None, full_check: bool = False
                 ) -> tuple[dict[str, LiveResource] | None, dict[str, LiveHost] | None]:
    """`lineage`: the state's (its envelope's; "" before the first write); `graph`: the spec expanded against
    this state, when the caller has it (else it is expanded here, once); `identity`: the run's, when the caller
    resolved it already; `only`: the addresses a --target/--exclude run selected (the playbook's check runs on
    those hosts alone); `full_check`: check mode on every host, not only on those whose digests differ
    (grid.drift_digest)."""
    graph = graph if graph is not None else graph_for(ws, state)
    outside = set() if only is None else {a for a in state.hosts if a not in only}
    live = probe(ws, state, lineage, graph)
    if not state.resources:
        return live, None
    # grid.apply.run is the whole apply: a no-op `grid up` (no full refresh, nothing interrupted) needs none of it.
    if not full:
        # A killed or failed apply may have changed resources state does not know about: refresh those regions.
        from grid.engines import EngineFailed

        if interrupted := state.interrupted_regions():
            from grid.apply.run import ensure_identity

            # On failure the region stays marked; applying it reports what Pulumi says.
            with contextlib.suppress(EngineFailed):
                live = {**(live or {}), **_pulumi_refresh(ws, state, graph, identity or ensure_identity(ws, state),
                                                          only=set(interrupted))}
        return live, None
    from grid.apply.run import ensure_identity

    identity = identity or ensure_identity(ws, state)  # once, before any thread: none may race to create the key pair
    if live is None:
        # No cheap probe: Pulumi says which hosts are gone, and those would only time out over SSH.
        live = _pulumi_refresh(ws, state, graph, identity)
        return live, _configuration_check(ws, state, graph, identity, skip=_absent(live) | outside,
                                          full_check=full_check)
    # The probe already names the nodes that are gone or stopped: Pulumi's refresh and the playbook's
    # check run at once (they are independent and each leaves a core idle much of the time).
    with ThreadPoolExecutor(max_workers=1) as pool:
        refreshed = pool.submit(_pulumi_refresh, ws, state, graph, identity)
        hosts = _configuration_check(ws, state, graph, identity, skip=_absent(live) | outside,
                                     full_check=full_check)
        live = {**live, **refreshed.result()}
    gone = _absent(live)
    return live, {address: seen for address, seen in hosts.items() if address not in gone}


def _absent(live: dict[str, LiveResource]) -> set[str]:
    return {address for address, seen in live.items() if not seen.exists or not seen.healthy}


def _pulumi_refresh(ws: Workspace, state: State, graph: ResourceGraph, identity: Identity,
                    only: set[str] | None = None) -> dict[str, LiveResource]:
    from grid.apply.run import default_stacks
    from grid.render.pulumi import region_program_input

    stacks = default_stacks(ws, identity)
    if stacks is None:
        return {}
    if only is None and ws.regions is not None:
        only = set(ws.regions)  # a `--region` run refreshes its regions' stacks only
    keys = identity.keypair
    regions = sorted({r.region for r in state.resources.values() if r.region and r.kind != Kind.LINK.value}
                     & set(graph.regions) & (set(graph.regions) if only is None else only))
    found: dict[str, LiveResource] = {}

    def preview(region: str) -> dict[str, str]:
        data = region_program_input(ws.cluster, graph, region, authorized_key=keys.public_key)
        return stacks.preview(region, data, refresh=True).steps

    with ThreadPoolExecutor(max_workers=max(1, len(regions))) as pool:
        for steps in pool.map(preview, regions):
            found.update(live_from_steps(steps, state))
    return found


def live_from_steps(steps: Mapping[str, str], state: State) -> dict[str, LiveResource]:
    """What a refreshed preview's steps ({Pulumi resource name: op}) say about the recorded resources: gone,
    to be replaced, or differing. A part of one that grid does not record on its own — a node's DNS record, the
    region's private zone (a cloud's `names: dns`, grid.stacks) — makes what carries it differ: the next apply
    of its region makes the part again."""
    out: dict[str, LiveResource] = {}
    for address, op in steps.items():
        if address not in state.resources:
            # Its carrier only for a change: most steps are `same`, and a zone's carrier is looked up in the state.
            if op in ("create", "update") or op in REPLACE_OPS:
                carrier, part = _carrier(address, state)
                if carrier:
                    out.setdefault(carrier, LiveResource(exists=True, healthy=False,
                                                         detail=f"{part} is missing or differs (Pulumi refresh)"))
            continue
        if op == "create":
            out[address] = LiveResource(exists=False, detail="missing on the target (Pulumi refresh)")
        elif op in REPLACE_OPS:
            out[address] = LiveResource(exists=True, replace=True, detail="must be replaced: what it "
                                        "depends on is gone (Pulumi refresh)")
        elif op == "update" and address not in state.moved_now:  # a renamed one's update is its move
            out.setdefault(address, LiveResource(exists=True, healthy=False,
                                                 detail="differs from state (Pulumi refresh)"))
    return out


def _carrier(name: str, state: State) -> tuple[str, str]:
    """The recorded resource a stack's name-service resource belongs to, and what that resource is of it:
    `<node>/name` its node's record, `<region>/names...` the region's zone (carried by its fabrics)."""
    if name.endswith("/name") and name.removesuffix("/name") in state.resources:
        return name.removesuffix("/name"), "its DNS record"
    region, _, rest = name.partition("/")
    if rest == "names" or rest.startswith("names/"):
        fabrics = sorted(a for a, r in state.resources.items()
                         if r.kind == Kind.FABRIC.value and r.region == region and r.attrs.get("dns_zone"))
        return (fabrics[0], "the region's private DNS zone") if fabrics else ("", "")
    return "", ""


def _configuration_check(ws: Workspace, state: State, graph: ResourceGraph, identity: Identity, *,
                         skip: set[str], full_check: bool = False) -> dict[str, LiveHost]:
    from grid.apply.configure import refresh_known_hosts
    from grid.apply.run import default_ansible
    from grid.render import render_cluster, write_tree
    from grid.render.leftovers import leftovers_of

    if not ws.cluster.spec.configuration.manage:
        return {}  # grid runs no playbook on these hosts (`grid import`): nothing of theirs is grid's to compare
    hosts = {a: r for a, r in state.resources.items()
             if r.kind == Kind.NODE.value and a in state.hosts and a not in skip
             and (ws.regions is None or r.region in ws.regions)}
    if not hosts:
        return {}
    keys = identity.keypair
    leftovers = leftovers_of(state)
    names = {str(r.attrs["hostname"]): a for a, r in hosts.items()}
    known_hosts = refresh_known_hosts(ws.workdir, state)
    out: dict[str, LiveHost] = {}
    checked = sorted(names)
    if not full_check:
        # One probe per host first: check mode only explains the hosts whose digests differ.
        from grid.drift_digest import triage

        clean, checked = triage(ws, graph, keys, known_hosts, checked, leftovers)
        out = {names[hostname]: LiveHost(unverifiable_tasks=tasks) for hostname, tasks in clean.items()}
    if not checked:
        return out
    write_tree(render_cluster(ws.cluster, graph, admin_public_key=keys.public_key, own=ws.own,
                              leftovers=leftovers), ws.rendered_dir)
    result = default_ansible(ws).run(
        ws.rendered_dir / "ansible", limit=checked, tags=[], private_key=keys.private_paths,
        known_hosts=known_hosts, check=True, on_event=None)
    for hostname in checked:
        address = names[hostname]
        outcome = result.hosts.get(hostname)
        if outcome is None or outcome.unreachable:
            out[address] = LiveHost(unreachable=True)
        else:
            out[address] = LiveHost(drifted_tasks=tuple(outcome.changed_tasks),
                                    unverifiable_tasks=tuple(outcome.unverifiable_tasks))
    return out


@dataclass(frozen=True)
class DriftItem:
    address: str
    kind: str  # resource | configuration | region (its last run did not finish)
    recorded: str  # what state says
    actual: str  # what is really there
    remedy: str  # what `grid up` will do
    tasks: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()  # what the tasks found, in words (grid.drift_words)


@dataclass(frozen=True)
class DriftReport:
    cluster: str
    items: tuple[DriftItem, ...]
    unverifiable: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unreachable: tuple[str, ...] = ()

    @property
    def drifted(self) -> bool:
        return bool(self.items) or bool(self.unreachable)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "grid-drift/v1", "cluster": self.cluster, "drifted": self.drifted,
            "items": [{"address": i.address, "kind": i.kind, "recorded": i.recorded, "actual": i.actual,
                       "remedy": i.remedy, "tasks": list(i.tasks), "findings": list(i.findings)}
                      for i in self.items],
            "unverifiable": {k: list(v) for k, v in sorted(self.unverifiable.items())},
            "unreachable": list(self.unreachable),
        }


def drift_report(plan: Plan, state: State, live_hosts: dict[str, LiveHost] | None) -> DriftReport:
    items = [
        DriftItem(c.address, "resource", "exists" + (" and running" if c.kind == "node" else ""), c.reason,
                  REMEDY.get(c.action.value, "restart/update it in place"))
        for c in plan.drifted
    ]
    # State cannot say what a region's stack holds until a run of the region finishes.
    items += [DriftItem(region, "region", "its last run finished", "its last run did not finish (killed, or "
                        "failed)", "run the region again, reading what exists first") for region in plan.unfinished]
    unverifiable: dict[str, tuple[str, ...]] = {}
    unreachable: list[str] = []
    missing = {c.address for c in plan.drifted}
    for address, seen in sorted((live_hosts or {}).items()):
        if seen.unreachable:
            if address not in missing:
                unreachable.append(address)
            continue
        if seen.drifted_tasks:
            node = state.resources.get(address)
            hostname = str(node.attrs.get("hostname") or address) if node is not None else address
            items.append(DriftItem(address, "configuration", "configured", "changed by hand",
                                   "re-run the playbook on this host only", seen.drifted_tasks,
                                   findings(seen.drifted_tasks, hostname)))
        if seen.unverifiable_tasks:
            unverifiable[address] = seen.unverifiable_tasks
    return DriftReport(plan.cluster, tuple(items), unverifiable, tuple(unreachable))


def record_drift(state: State, report: DriftReport) -> State:
    """Remember configuration drift so a following `grid up` (without --refresh) repairs exactly those hosts."""
    hosts = dict(state.hosts)
    for item in report.items:
        if item.kind == "configuration" and item.address in hosts:
            hosts[item.address] = hosts[item.address].model_copy(update={"status": "drifted",
                                                                         "drift": list(item.tasks)})
    return state.model_copy(update={"hosts": hosts})
