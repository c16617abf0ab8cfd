"""`grid plan`: what `grid up` would change, why, and what it costs; and the plan every run starts from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from grid.errors import GridError
from grid.identity import Identity
from grid.operations.policy_gate import with_policy
from grid.operations.sealed import empty_graph, may_seal, seal_if_unchanged, sealed_plan
from grid.operations.targeting import aimed, aimed_at
from grid.plan import LiveHost, Plan
from grid.plan.region_scope import limit_to_regions
from grid.resources import ResourceGraph
from grid.state.model import Envelope, State
from grid.workspace import Workspace, admin_public_key, graph_for, plan_parts, planning_gc

if TYPE_CHECKING:  # the Slurm driver: loaded when a plan asks Slurm about jobs
    from grid.apply.drain import SlurmConnect


@dataclass(frozen=True)
class PlanOptions:
    refresh: bool = False  # also ask the target (Pulumi refresh, Ansible check mode), not only its cheap probe
    allow_destroy_protected: bool = False
    probe: bool = False  # the target's cheap probe (`grid up` always; `grid plan` only with --refresh)
    # --target/--exclude: globs on addresses; the plan touches only what they select (grid.plan.selection).
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    # --policy DIR: policy packs to run besides the spec's own (spec.policy.packs; grid.operations.policy_gate).
    policy_dirs: tuple[Path, ...] = ()
    # With refresh: the playbook's check mode on every host, not only where digests differ (grid.drift_digest).
    full_check: bool = False
    # May answer from a seal (grid.operations.sealed): a no-op whose unchanged resources are counted, not listed.
    sealed: bool = False


@dataclass(frozen=True)
class Planned:
    """A plan and everything it was made from; applying it reads, expands and digests nothing again."""

    plan: Plan
    envelope: Envelope | None  # None before the first write
    state: State
    graph: ResourceGraph
    host_digests: Mapping[str, tuple[str, str, str]]
    public_key: str  # the admin key the digests were computed with
    live_hosts: Mapping[str, LiveHost] | None = None  # configuration as a full refresh found it
    # A `--region` run's plan: what other regions' next runs must do because of it (region -> lines), and
    # how many resource changes of other regions it leaves to their own runs.
    pending_elsewhere: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    skipped_elsewhere: Mapping[str, int] = field(default_factory=dict)

    @property
    def serial(self) -> int:
        return self.envelope.serial if self.envelope else 0

    @property
    def lineage(self) -> str:
        return self.envelope.lineage if self.envelope else ""


def plan(ws: Workspace, options: PlanOptions = PlanOptions(), *, slurm: SlurmConnect | None = None) -> Planned:
    """Read the state (no lock: the state is not written) and plan against it. A plan that changes nothing seals
    the state it read (grid.operations.sealed); with `options.sealed` a seal that applies answers instead."""
    sealable = may_seal(ws, refresh=options.refresh, probe=options.probe, targets=options.targets,
                        excludes=options.excludes, policy_dirs=options.policy_dirs)
    if sealable and options.sealed and (sealed := sealed_plan(ws)) is not None:
        made, read, small = sealed  # neither holds the node records: this Planned is shown, never applied
        return Planned(made, read, small, empty_graph(ws), {}, admin_public_key(ws, small))
    envelope, state = ws.read_state()
    key = admin_public_key(ws, state)
    planned = plan_against(ws, envelope, state, public_key=key, options=options, slurm=slurm)
    planned = replace(planned, plan=with_policy(ws, planned.plan, options.policy_dirs))  # what the packs say of it
    if sealable:
        seal_if_unchanged(ws, planned.plan, envelope, state, key)
    return planned


def seal_saved(ws: Workspace, saved: Envelope | None, state: State) -> None:
    """After a run saved the state (under its lock: a `grid up` / `grid apply` that applied its whole plan, a
    `grid check` that recorded its run): plan once more, offline, against the state it saved, as the next `grid
    plan` would, and seal that state when the plan changes nothing (grid.operations.sealed) — so the first `grid
    plan` after the run answers from the seal. Verified, not assumed: a run that left work (a roll's later waves,
    a rotation half done, whatever the plan still finds) is not sealed.
    Costs the run one plan without reading the state (it is at hand); an optimisation, so a plan that cannot be
    made here is left to the next `grid plan`, which says why."""
    if saved is None or saved.state is not state or not saved.checksum or not may_seal(
            ws, refresh=False, probe=False, targets=(), excludes=(), policy_dirs=()):
        return  # the seal vouches for a plain offline plan, which is what is made here
    key = admin_public_key(ws, state)
    try:
        made = plan_against(ws, saved, state, public_key=key, options=PlanOptions()).plan
    except (GridError, OSError):
        return
    seal_if_unchanged(ws, made, saved, state, key)


def plan_against(ws: Workspace, envelope: Envelope | None, state: State, *, public_key: str,
                 options: PlanOptions, identity: Identity | None = None,
                 slurm: SlurmConnect | None = None) -> Planned:
    """Plan against a state already read (a run that applies holds the lock it was read under); `identity`:
    the run's, when it has resolved one (a refresh needs it); `slurm`: how to reach the Slurm controller that a
    plan looking at the live cluster asks about jobs on the nodes it removes (grid.apply.drain)."""
    from grid.drift import refresh_live

    with planning_gc(ws, state):
        graph = graph_for(ws, state)
        live = live_hosts = None
        # A pattern that matches nothing stops the run before anything is asked of the target.
        chosen = aimed_at(graph, state, options.targets, options.excludes)
        if options.probe or options.refresh:
            live, live_hosts = refresh_live(ws, state, full=options.refresh, lineage=envelope.lineage
                                            if envelope else "", graph=graph, identity=identity, only=chosen,
                                            full_check=options.full_check)
        parts = plan_parts(ws, envelope=envelope, state=state, live=live, live_hosts=live_hosts, graph=graph,
                           public_key=public_key, allow_destroy_protected=options.allow_destroy_protected)
        if options.targets or options.excludes:  # the part of the cluster they aim at (grid.operations.targeting)
            parts = aimed(ws, parts, envelope=envelope, state=state, live=live, live_hosts=live_hosts,
                          targets=options.targets, excludes=options.excludes,
                          allow_destroy_protected=options.allow_destroy_protected)
            graph = parts.graph
    made = parts.plan
    scoped = limit_to_regions(made, ws.regions) if ws.regions is not None else None
    if scoped is not None:
        made = scoped.plan  # before Slurm is asked: nodes of other regions are not drained by this run
    if (options.probe or options.refresh) and ws.cluster.spec.scheduler is not None:
        from grid.apply import drain  # Slurm's jobs, the Slurm driver: only a cluster with a scheduler has any

        made = drain.plan_with_jobs(ws.workdir, ws.cluster, graph, state, made,
                                    connect=slurm or drain.pinned_controllers)
    return Planned(made, envelope, state, graph, parts.host_digests, public_key, live_hosts,
                   scoped.pending if scoped else {}, scoped.skipped if scoped else {})
