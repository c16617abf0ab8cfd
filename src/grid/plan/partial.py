"""A partial run's plan (grid.plan.selection): the graph it applies and the plan narrowed to the selection.

The run applies a graph in which the selected resources are as the spec wants them and every other one is as the
state records it (or absent, when it was never made): the stacks render and record the unselected resources
unchanged, so the state keeps their old records and the next full plan still shows their changes.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Collection, Mapping
from typing import Any

from grid.plan.model import SCOPES, Action, HostConfigChange, Plan, ResourceChange
from grid.plan.selection import Selection, matched, resolve
from grid.resources import Kind, Resource, ResourceGraph
from grid.state.model import ResourceRecord, State

REMOVING = (Action.DELETE, Action.REPLACE)


def select(plan: Plan, graph: ResourceGraph, state: State, targets: Collection[str], excludes: Collection[str],
           regions: Collection[str] | None = None) -> Selection:
    """The selection the patterns make of a whole-cluster plan (within `regions` when a run is limited to them).
    Raises GridError (a pattern matching nothing, a dependency that cannot be pulled in, a removal that breaks
    what stays)."""
    universe = [c.address for c in plan.changes if regions is None or c.region in regions or c.kind == "link"]
    resolved = resolve(targets, excludes, universe=universe, wanted=_described(graph),
                       recorded=_recorded(state), removed={c.address for c in plan.changes if c.action in REMOVING})
    return Selection(tuple(targets), tuple(excludes), tuple(sorted(resolved.selected)), len(universe),
                     resolved.pulled)


def select_for_destroy(state: State, targets: Collection[str], excludes: Collection[str]) -> Selection:
    """What `grid destroy --target` removes: recorded resources only; nothing is pulled in (a fabric whose
    nodes stay is refused)."""
    universe = sorted(state.resources)
    resolved = resolve(targets, excludes, universe=universe, wanted={}, recorded=_recorded(state),
                       removed=universe)
    return Selection(tuple(targets), tuple(excludes), tuple(sorted(resolved.selected)), len(universe))


def effective_graph(graph: ResourceGraph, state: State, selection: Selection) -> ResourceGraph:
    """Selected resources as `graph` has them, the others as recorded (absent when not recorded)."""
    out: list[Resource] = []
    for resource in graph:
        record = state.resources.get(resource.address)
        if resource.address in selection or (record is not None and record.attrs == resource.attrs):
            out.append(resource)
        elif record is not None:
            out.append(_from_record(record, resource))
    out += [_from_record(r) for a, r in state.resources.items() if graph.get(a) is None and a not in selection]
    return ResourceGraph(graph.cluster, tuple(out))


def without_selected(state: State, graph: ResourceGraph, selection: Selection) -> ResourceGraph:
    """What stays after `grid destroy --target`: every recorded resource outside the selection, as recorded."""
    return ResourceGraph(graph.cluster, tuple(_from_record(r, graph.get(a)) for a, r in state.resources.items()
                                              if a not in selection))


def with_nodes(graph: ResourceGraph, targets: Collection[str], excludes: Collection[str]) -> ResourceGraph:
    """`graph` with only the nodes the patterns select (`grid check --target`, `grid drift --target`); the
    fabrics and storage they use stay."""
    chosen = matched(targets, excludes, [r.address for r in graph])
    return ResourceGraph(graph.cluster, tuple(r for r in graph if r.kind is not Kind.NODE or r.address in chosen))


def narrowed(plan: Plan, whole: Plan, selection: Selection) -> Plan:
    """`plan` (made against the effective graph) limited to the selection, saying what it leaves out of `whole`."""
    changes = tuple(c if c.address in selection or c.action is Action.NOOP else _unchanged(c) for c in plan.changes)
    config = tuple(h for h in plan.config if h.address in selection)
    left = [h for h in plan.config if h.address not in selection]
    outside = [c for c in whole.pending if c.address not in selection]
    lines = _left_out_lines(left)
    if outside:
        lines.append(f"left out: {len(outside)} change(s) outside the selection (the next full plan shows them)")
    return dataclasses.replace(plan, changes=changes, config=config,
                               selection=dataclasses.replace(selection, left_out=tuple(lines)))


def _unchanged(change: ResourceChange) -> ResourceChange:
    # Drift found on a resource outside the selection is the next full run's to repair.
    return ResourceChange(change.address, change.kind, change.region, Action.NOOP, after=change.after)


def _left_out_lines(hosts: list[HostConfigChange]) -> list[str]:
    by_scope: dict[str, int] = {}
    for host in hosts:
        by_scope[host.scope] = by_scope.get(host.scope, 0) + 1
    lines = []
    for scope, count in ((s, by_scope[s]) for s in SCOPES if s in by_scope):
        words = f"{count} host{'s' if count != 1 else ''}"
        need = "learn the new hosts table" if scope == "hosts" else f"need {SCOPES[scope]}"
        lines.append(f"left out: {words} outside the selection would {need} (the next full run does it)")
    return lines


def _described(graph: ResourceGraph) -> dict[str, tuple[str, str, Mapping[str, Any]]]:
    return {r.address: (r.kind.value, r.region, r.attrs) for r in graph}


def _recorded(state: State) -> dict[str, tuple[str, str, Mapping[str, Any]]]:
    return {a: (r.kind, r.region, r.attrs) for a, r in state.resources.items()}


def _from_record(record: ResourceRecord, spec: Resource | None = None) -> Resource:
    attrs = copy.deepcopy(record.attrs)
    if spec is not None and record.kind == Kind.NODE.value and isinstance(attrs.get("fabrics"), dict):
        # State keeps keys sorted; the pool's fabric order decides which IP grid connects at (grid.resources).
        order = list(spec.attrs.get("fabrics") or {})
        fabrics = attrs["fabrics"]
        attrs["fabrics"] = {k: fabrics[k] for k in sorted(fabrics, key=lambda k: (k not in order,
                                                                                  order.index(k) if k in order else 0,
                                                                                  k))}
    return Resource(record.address, Kind(record.kind), record.region, attrs)
