"""`--target`/`--exclude` in the operations: the plan of a partial run, made against the graph it applies.

The whole-cluster plan is made first (the patterns match the addresses it shows, deletions included); the
selection it yields turns the spec's graph into the graph the run applies (grid.plan.partial), and the plan is
made again against that one, so that the stacks, the configuration and the state see only the selected part.
"""

from __future__ import annotations

from collections.abc import Mapping

from grid.errors import GridError, OperationFailed
from grid.plan import LiveHost, LiveResource
from grid.plan.partial import effective_graph, narrowed, select
from grid.plan.selection import Selection, matched
from grid.resources import ResourceGraph
from grid.state.model import Envelope, State
from grid.workspace import PlanParts, Workspace, plan_parts


def aimed(ws: Workspace, whole: PlanParts, *, envelope: Envelope | None, state: State,
          live: Mapping[str, LiveResource] | None, live_hosts: Mapping[str, LiveHost] | None,
          targets: tuple[str, ...], excludes: tuple[str, ...], allow_destroy_protected: bool = False) -> PlanParts:
    """The parts of the run the patterns select: its graph, host digests and plan (with its Selection).
    Raises GridError when a pattern matches nothing or the selection cannot be applied as it is."""
    selection = select(whole.plan, whole.graph, state, targets, excludes, ws.regions)
    graph = effective_graph(whole.graph, state, selection)
    part = plan_parts(ws, envelope=envelope, state=state, live=dict(live) if live is not None else None,
                      live_hosts=dict(live_hosts) if live_hosts is not None else None, graph=graph,
                      public_key=whole.public_key, allow_destroy_protected=allow_destroy_protected)
    return PlanParts(narrowed(part.plan, whole.plan, selection), graph, part.host_digests, part.public_key)


def aimed_at(graph: ResourceGraph, state: State, targets: tuple[str, ...], excludes: tuple[str, ...]
             ) -> frozenset[str] | None:
    """The addresses the patterns match among the spec's and the state's (before dependencies are pulled in),
    None without patterns; raises GridError naming a pattern that matches nothing."""
    if not (targets or excludes):
        return None
    return frozenset(matched(targets, excludes, {*(r.address for r in graph), *state.resources}))


def selected_graph(ws: Workspace, envelope: Envelope | None, state: State, saved: Selection, public_key: str
                   ) -> tuple[ResourceGraph, Mapping[str, tuple[str, str, str]]]:
    """What `grid apply` applies for a saved partial plan: the graph and host digests its patterns select now.
    Refused (OperationFailed) when they no longer select what the plan was made for."""
    whole = plan_parts(ws, envelope=envelope, state=state, public_key=public_key)
    try:
        now = select(whole.plan, whole.graph, state, saved.targets, saved.excludes, ws.regions)
    except GridError as exc:
        raise OperationFailed(f"the saved partial plan cannot be applied: {exc.message}", hint=exc.hint) from None
    if now.addresses != saved.addresses:
        changed = sorted(set(now.addresses) ^ set(saved.addresses))
        raise OperationFailed(f"the saved plan's selection ({saved.flags()}) no longer selects what it did: "
                              f"{', '.join(changed[:5])}{' …' if len(changed) > 5 else ''}",
                              hint="plan again with the same --target/--exclude and --out, then apply that plan")
    graph = effective_graph(whole.graph, state, now)
    return graph, plan_parts(ws, envelope=envelope, state=state, graph=graph, public_key=public_key).host_digests
