"""The public API the CLI calls: open a cluster's spec and work directory, plan, render, apply.

Each function composes the pure stages (load → validate → expand → plan → render) and,
in `up`/`destroy`, hands side effects to the drivers. Nothing here prints or exits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grid import physics
from grid.diagnostics import Diagnostics
from grid.errors import GridError
from grid.identity import planned_public_key, resolve_identity
from grid.plan import LiveHost, LiveResource, Plan, make_plan
from grid.plan.moved import keep_recorded_names, readdress, with_moves
from grid.plan.out_of_service import with_out_of_service
from grid.plan.own_changes import explained
from grid.plan.slots import indices_by_pool
from grid.render import Files, render_cluster
from grid.render.ansible import group_name, pools_vars
from grid.render.images import ImageBuild, image_builds
from grid.render.leftovers import leftovers_of
from grid.render.own import NO_OWN_FILES, OwnFiles
from grid.resources import ResourceGraph, expand
from grid.spec import LoadedSpec, load_spec, spec_digest
from grid.spec.model import Cluster
from grid.spec.targets import traits_of
from grid.state import StateStore, open_store, workdir_for
from grid.state.model import Envelope, State, empty_state
from grid.targets import Target, target_for
from grid.validate import spec_catalog, validate
from grid.validate.images import image_files
from grid.validate.roles import own_files


@dataclass(frozen=True)
class Workspace:
    """A valid spec and where its state lives."""

    spec_path: Path
    loaded: LoadedSpec
    cluster: Cluster
    diagnostics: Diagnostics  # warnings (errors never reach a Workspace)
    workdir: Path
    store: StateStore
    target: Target  # chosen once from the spec: nothing else asks which target it is
    own: OwnFiles = NO_OWN_FILES  # the user's roles and scripts, read once from next to the spec
    images: Mapping[str, ImageBuild] = field(default_factory=dict)  # spec.images as builds, files read once
    regions: tuple[str, ...] | None = None  # a `--region` run's regions; None: the whole cluster

    @property
    def rendered_dir(self) -> Path:
        # A region run renders into a directory of its own: runs of other regions at the same time keep theirs.
        if self.regions is not None:
            return self.workdir / "rendered" / "regions" / "+".join(self.regions)
        return self.workdir / "rendered"

    def read_state(self) -> tuple[Envelope | None, State]:
        """The stored state, with the spec's `moved:` renames applied (grid.plan.moved): every run sees the
        new addresses, and the first state write of an apply records them."""
        envelope = self.store.read()
        if envelope is None:
            return None, empty_state(self.cluster.name)
        state = readdress(self.cluster, envelope.state)
        if state is not envelope.state:
            envelope = envelope.model_copy(update={"state": state})
        return envelope, state


@dataclass(frozen=True)
class Rejected:
    """The spec did not validate; the diagnostics say why."""

    loaded: LoadedSpec
    diagnostics: Diagnostics


def open_workspace(spec_path: Path, *, workdir: Path | None = None, store: StateStore | None = None,
                   state: str | None = None, lease_seconds: float | None = None,
                   regions: Sequence[str] | None = None) -> Workspace | Rejected:
    """`state` names where state lives (grid.state.open_store): none → state.json in the work directory,
    `postgres://…` → a team database; raises StateError for a location it cannot use. `regions`: limit the
    run to these regions (their state partitions only; grid.state.partitions); an unknown one is a GridError."""
    loaded = load_spec(str(spec_path))
    own = own_files(loaded)  # read once: validate checks them, the workspace keeps them
    findings = validate(loaded, own=own)
    if loaded.cluster is None or findings.has_errors:
        return Rejected(loaded, findings)
    scope = known_regions(loaded.cluster, regions) if regions else None
    directory = workdir_for(spec_path, workdir, loaded.cluster.name)
    if store is None:
        store = open_store(state, workdir=directory, cluster=loaded.cluster.name, lease_seconds=lease_seconds,
                           regions=scope)
    return Workspace(spec_path, loaded, loaded.cluster, findings, directory, store, target_for(loaded.cluster),
                     own[0], image_builds(loaded.cluster, image_files(loaded)[0]), scope)


def known_regions(cluster: Cluster, regions: Sequence[str]) -> tuple[str, ...]:
    """`regions` sorted and without repeats, once each is one of the spec's; else a GridError naming them."""
    names = [r.name for r in cluster.spec.regions]
    unknown = sorted(set(regions) - set(names))
    if unknown:
        raise GridError(f"--region {', '.join(unknown)}: the spec has no such region",
                        f"the spec's regions: {', '.join(names)}")
    return tuple(sorted(set(regions)))


def graph_for(ws: Workspace, state: State) -> ResourceGraph:
    graph = expand(ws.cluster, state.allocations(), fixed_hosts=ws.target.fixed_hosts(ws.cluster),
                   pool_images=ws.target.pool_images(ws.cluster, ws.images), indices=pool_slots(ws.cluster, state))
    return keep_recorded_names(graph, state)  # renamed resources keep their containers, networks, volumes


def pool_slots(cluster: Cluster, state: State) -> dict[str, list[int]]:
    """{"region/pool": node indices} of the pools whose failed nodes grid replaced (grid.plan.slots)."""
    if not state.slots:
        return {}
    return indices_by_pool(((r.name, p.name, p.count) for r in cluster.spec.regions for p in r.pools), state.slots)


def admin_public_key(ws: Workspace, state: State | None = None) -> str:
    """The cluster's admin public key: the key pair's here, else the one state records (a runner without the
    private key still plans what the cluster is; applying needs the key, grid.identity)."""
    return planned_public_key(ws.workdir, state if state is not None else empty_state(ws.cluster.name))


def render_public_key(ws: Workspace, state: State) -> str:
    """The admin public key rendered files carry. A cloud program gives it to its machines (a key pair,
    cloud-init), so a cluster rendered before its first `grid up` gets its identity now, made as `grid up`
    makes it (grid.identity; the private key stays in secrets/): the program runs as rendered, and the
    next render and `grid up` use the same key."""
    key = admin_public_key(ws, state)
    if key or not traits_of(ws.cluster).cloud:
        return key
    return resolve_identity(ws.workdir, ws.cluster.name, state).keypair.public_key


def host_digests(ws: Workspace, graph: ResourceGraph, public_key: str, *,
                 defer: bool = False) -> Mapping[str, tuple[str, str, str]]:
    """The configuration inputs of every host grid configures: none with `configuration.manage: false`
    (hosts adopted by `grid import`: grid runs no playbook on them, so a plan has no configuration work).
    `defer`: compute them on first read (grid.plan.deferred), for a plan whose hosts have no records yet."""
    from grid.plan.deferred import deferred
    from grid.plan.digests import host_input_digests

    if not ws.cluster.spec.configuration.manage:
        return {}
    if not defer:
        return host_input_digests(ws.cluster, graph, admin_public_key=public_key, own=ws.own)
    return deferred(graph, public_key,
                    lambda: host_input_digests(ws.cluster, graph, admin_public_key=public_key, own=ws.own))


@dataclass(frozen=True)
class PlanParts:
    """A plan and what it was computed from, so that applying it expands and digests nothing again."""

    plan: Plan
    graph: ResourceGraph
    host_digests: Mapping[str, tuple[str, str, str]]
    public_key: str


def plan(ws: Workspace, *, envelope: Envelope | None, state: State, allow_destroy_protected: bool = False,
         live: dict[str, LiveResource] | None = None, live_hosts: dict[str, LiveHost] | None = None) -> Plan:
    return plan_parts(ws, envelope=envelope, state=state, allow_destroy_protected=allow_destroy_protected,
                      live=live, live_hosts=live_hosts).plan


def plan_parts(ws: Workspace, *, envelope: Envelope | None, state: State, allow_destroy_protected: bool = False,
               live: dict[str, LiveResource] | None = None, live_hosts: dict[str, LiveHost] | None = None,
               graph: ResourceGraph | None = None, public_key: str | None = None) -> PlanParts:
    """`graph`: the expansion of the spec against this state when the caller already made it (for a probe);
    `public_key`: the admin key the next apply gives the nodes (default: the planned one, grid.identity)."""
    with planning_gc(ws, state):
        graph = graph if graph is not None else graph_for(ws, state)
        key = public_key if public_key is not None else admin_public_key(ws, state)
        # No host recorded yet (a first plan): every host needs all of its configuration whatever its digests,
        # so they are computed only when something reads them (the apply that records them).
        digests = host_digests(ws, graph, key, defer=not state.hosts) if ws.cluster.spec.target else {}
        made = make_plan(
            graph, state if envelope else None, target=ws.cluster.spec.target,
            spec_digest=spec_digest(ws.cluster),
            serial=envelope.serial if envelope else 0, lineage=envelope.lineage if envelope else "",
            allow_destroy_protected=allow_destroy_protected, live=live, live_hosts=live_hosts,
            host_digests=digests if ws.cluster.spec.target else None,
            capacity=plan_capacity(ws, state),
        )
        made = with_moves(made, ws.cluster, state, ws.loaded.source)
        made = _own_reasons(ws, made, graph)
        made = _slurm_steps(ws, made, graph, state)
        made = with_waves(ws, made, state)
    return PlanParts(made, graph, digests, key)


def plan_capacity(ws: Workspace, state: State) -> dict[str, Any]:
    """A plan's capacity document: the spec's, the change from the spec as last applied, what is out of service."""
    return with_out_of_service(capacity_document(ws.cluster, _applied_cluster(state), spec_catalog(ws.loaded)[0]),
                               state)


def with_waves(ws: Workspace, made: Plan, state: State) -> Plan:
    """The plan with the waves its replaced nodes leave service in (grid.plan.waves); a roll a killed run was
    in goes on with the wave it was in."""
    from grid.plan.waves import plan_waves

    in_flight = {(r.region, r.pool): list(r.nodes) for r in state.rolls.values()}
    progress = {(r.region, r.pool): (r.wave, r.waves) for r in state.rolls.values()}
    return dataclasses.replace(made, roll=plan_waves(made, ws.cluster, in_flight, progress,
                                                     quarantined=state.quarantined))


def _slurm_steps(ws: Workspace, made: Plan, graph: ResourceGraph, state: State) -> Plan:
    """The plan with what it does to Slurm (grid.plan.slurm_plan), against the all.yml grid last rendered here."""
    configured_before = bool(((state.applied_spec or {}).get("spec") or {}).get("scheduler")) and bool(state.hosts)
    if not made.config and not (configured_before and ws.cluster.spec.scheduler is None):
        return made  # no host is configured: nothing reaches Slurm
    from grid.plan.slurm_plan import slurm_steps
    from grid.render.slurm import inventory_vars

    before: dict[str, Any] | None = None
    rendered = ws.rendered_dir / "ansible" / "inventory" / "group_vars" / "all.yml"
    if rendered.is_file():
        with contextlib.suppress(OSError, yaml.YAMLError):
            loaded = yaml.safe_load(rendered.read_text())
            before = loaded if isinstance(loaded, dict) else None
    after = inventory_vars(ws.cluster, graph) if ws.cluster.spec.scheduler is not None else None
    steps = slurm_steps(before, after, configured_before=configured_before)
    return dataclasses.replace(made, slurm=steps) if steps else made


def _own_reasons(ws: Workspace, made: Plan, graph: ResourceGraph) -> Plan:
    """The plan with "role X changed" where a host's own configuration changed (grid.plan.own_changes),
    against the tree grid last rendered here; without one, the plan as it is."""
    rendered = ws.rendered_dir / "ansible"
    if not made.config or not (rendered / "site.yml").is_file():
        return made
    before: dict[str, Any] = {}
    for path in sorted((rendered / "inventory" / "group_vars").glob("pool_*.yml")):
        with contextlib.suppress(OSError, yaml.YAMLError):
            before[path.stem] = yaml.safe_load(path.read_text())
    after = {group_name("pool", region, pool): values
             for (region, pool), values in pools_vars(ws.cluster, ws.own).items()}
    return explained(made, graph, before, after)


def planning_gc(ws: Workspace, state: State) -> contextlib.AbstractContextManager[None]:
    """The cyclic GC held off while a plan of this size is made (see _cyclic_gc_deferred)."""
    nodes = sum(p.count for r in ws.cluster.spec.regions for p in r.pools)
    return _cyclic_gc_deferred(large=len(state.resources) + nodes >= GC_FREEZE_RESOURCES)


GC_FREEZE_RESOURCES = 10_000
"""From this many nodes + recorded resources on, a plan's objects are frozen out of the cyclic GC."""


@contextlib.contextmanager
def _cyclic_gc_deferred(*, large: bool) -> Iterator[None]:
    """No cyclic-GC passes while a plan allocates: at 10^5 nodes they rescan ~10^6 live objects again and
    again (about half the planning time). Plans build no reference cycles; refcounting frees them.

    A large plan (and the state it was made from) lives until the command ends, so its objects are then
    moved to the permanent generation (gc.freeze): no later pass, nor the one at interpreter exit,
    rescans them. Small plans (tests, labs) leave the collector as it was.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if large:
            gc.freeze()
        if was_enabled:
            gc.enable()


def capacity_document(cluster: Cluster, applied: Cluster | None,
                      catalog: physics.Catalog | None = None) -> dict[str, Any]:
    """Capacity and energy of the spec, and the change from the cluster as last applied."""
    after = physics.summarize(cluster, catalog)
    before = physics.summarize(applied, catalog) if applied is not None else None
    return {"summary": after.to_dict(), "change": physics.compare(before, after).to_dict()}


def render(ws: Workspace, state: State) -> Files:
    return render_cluster(ws.cluster, graph_for(ws, state), admin_public_key=render_public_key(ws, state),
                          own=ws.own, leftovers=leftovers_of(state))


def _applied_cluster(state: State) -> Cluster | None:
    """The spec as last applied, for the capacity deltas."""
    applied = state.applied_spec
    if applied is None:
        return None
    try:
        return Cluster.model_validate(applied)
    except ValueError:
        return None
