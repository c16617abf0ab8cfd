"""`up` and `destroy` as sequences of steps over a Workspace; the CLI only renders their events."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from grid.apply import drain, reaper, roll_waves
from grid.apply.engine import ApplyContext, ApplyResult, apply, forget_region
from grid.apply.events import Event, EventSink, Failure
from grid.apply.statewriter import StateWriter
from grid.drivers.ansible import AnsibleRunner
from grid.drivers.images import ImageBuildError
from grid.engines import EngineFailed, StackEngine
from grid.errors import GridError
from grid.identity import Identity, complete_rotation, ensure_munge_key, resolve_identity
from grid.killpoints import kill_point
from grid.plan import Plan
from grid.render import render_cluster, tree_digest, write_tree
from grid.render.images import ImageBuild, builds_for
from grid.render.leftovers import leftovers_of
from grid.render.pulumi import region_program_input
from grid.resources import Kind, ResourceGraph
from grid.state.history import accounts_removed
from grid.state.model import Envelope, State
from grid.workspace import Workspace, graph_for, host_digests


def ensure_identity(ws: Workspace, state: State) -> Identity:
    """The cluster's SSH key pair and Pulumi passphrase (and munge key, with a scheduler): made once, before the
    first apply; for a cluster that exists, found or refused (IdentityError) — never made again (grid.identity)."""
    identity = resolve_identity(ws.workdir, ws.cluster.name, state)
    ensure_scheduler_secrets(ws, state)
    return identity


def ensure_scheduler_secrets(ws: Workspace, state: State) -> None:
    """The munge key of a spec with a scheduler: made with the cluster's Slurm, found or refused afterwards."""
    if ws.cluster.spec.scheduler is not None:
        ensure_munge_key(ws.workdir, ws.cluster.name, state)


def default_stacks(ws: Workspace, identity: Identity, *, trust_new_hosts: bool = False,
                   warm: bool = False) -> StackEngine | None:
    """The region stack engine of the spec's target; `trust_new_hosts` (existing hosts and cloud
    targets) lets `up` pin host keys it has not seen before; `warm`: start a Pulumi worker now, tagged
    as this process's run (grid.apply.reaper), so that it is ready when the plan is."""
    from grid.state import pulumi_backend
    from grid.targets.base import EngineSetup

    # Team state in PostgreSQL keeps the Pulumi stacks in the same database; file state, in the work directory.
    backend = pulumi_backend(ws.store)
    return ws.target.stacks(EngineSetup(
        cluster=ws.cluster, workdir=ws.workdir, passphrase_file=identity.passphrase_file,
        read_state=lambda: ws.read_state()[1], backend_url=backend.url, engine_env=backend.env,
        trust_new_hosts=trust_new_hosts,
        warm_env={reaper.RUN_ENV: reaper.run_tag(ws.workdir)} if warm else None))


def default_ansible(ws: Workspace) -> AnsibleRunner:
    from grid.drivers.ansible import RunnerAnsible

    return RunnerAnsible(ws.workdir)


def owner_labels(ws: Workspace, lineage: str) -> dict[str, str]:
    """What the objects this state makes are labelled with: its lineage and where it lives (no password)."""
    location = getattr(ws.store, "location", None)
    return {"lineage": lineage, "state": str(location() if callable(location) else location or ws.workdir)}


@dataclass(frozen=True)
class UpOptions:
    command: str = "up"
    fresh_plan: bool = True  # see ApplyContext.fresh_plan
    # Jobs still running on the Slurm nodes the plan removes when their drain times out do not stop the run.
    allow_job_impact: bool = False
    slurm: drain.SlurmConnect = drain.pinned_controllers  # how the run reaches Slurm's controller


def _reap(ws: Workspace, emit: EventSink) -> None:
    if reaped := reaper.reap(ws.workdir):
        emit(Event("state", "info", message=f"ended {len(reaped)} process(es) a killed run had left behind"))


@dataclass(frozen=True)
class RunInputs:
    """What the plan was made from, carried into its apply: the state read once (under the lock the run
    holds), the spec expanded once against it, each host's input digests computed once, the identity resolved
    once. The digests must be for `identity.keypair.public_key` (the key this run gives the nodes)."""

    envelope: Envelope | None
    state: State
    graph: ResourceGraph
    host_digests: Mapping[str, tuple[str, str, str]]
    identity: Identity


def run_inputs(ws: Workspace) -> RunInputs:
    """The inputs of a run whose caller has none at hand (read, expand and digest here)."""
    envelope, state = ws.read_state()
    identity = ensure_identity(ws, state)
    graph = graph_for(ws, state)
    return RunInputs(envelope, state, graph, host_digests(ws, graph, identity.keypair.public_key), identity)


def up(ws: Workspace, plan: Plan, *, emit: EventSink, stacks: StackEngine | None,
       ansible: AnsibleRunner | None, options: UpOptions = UpOptions(),
       inputs: RunInputs | None = None) -> ApplyResult:
    _reap(ws, emit)
    with reaper.tagged(ws.workdir):
        return _up(ws, plan, emit=emit, stacks=stacks, ansible=ansible, options=options,
                   inputs=inputs if inputs is not None else run_inputs(ws))


def _up(ws: Workspace, plan: Plan, *, emit: EventSink, stacks: StackEngine | None,
        ansible: AnsibleRunner | None, options: UpOptions, inputs: RunInputs) -> ApplyResult:
    envelope, state, graph, identity = inputs.envelope, inputs.state, inputs.graph, inputs.identity
    keypair = identity.keypair
    # Pools with an update policy replace their nodes in waves (grid.apply.roll); outside their window, none starts.
    waves = roll_waves.schedule(ws.cluster, plan, state)
    if waves is not None:
        from grid.apply import roll  # with its health gate's suites: only for a run that rolls
    if waves is not None and (closed := roll.window_closed(waves, ws.cluster)):
        emit(Event("roll", "info", message=f"{closed}: no wave started, nothing changed (run `grid up` then)"))
        return ApplyResult(state, ())
    _build_images(ws, plan, emit)  # before anything is written: a recipe that does not build changes nothing
    writer = StateWriter(ws.store, envelope, state)
    apply_part = functools.partial(_apply_part, ws, emit=emit, stacks=stacks, ansible=ansible, options=options,
                                   inputs=inputs, writer=writer)
    if waves is not None:
        # Nodes the plan deletes (a pool shrinking beside the roll) are drained as in any run; rolled ones per wave.
        rest = roll_waves.without_rolled(plan, waves)
        drained = drain.before_infrastructure(ws.workdir, ws.cluster, graph, state, rest, connect=options.slurm,
                                              emit=emit, allow_job_impact=options.allow_job_impact)
        result = roll.Roller(
            ws.cluster, graph, writer, waves, lambda part, part_graph, last: apply_part(part, part_graph, last),
            roll.RollSlurm(ws.cluster, graph, options.slurm, ws.workdir),
            functools.partial(roll.report_gate, workspace=ws), emit,
            allow_job_impact=options.allow_job_impact).run(plan)
        if result.ok and drained:
            drain.after_run(ws.workdir, ws.cluster, graph, state, result.state, drained=drained,
                            connect=options.slurm, emit=emit)
    else:
        # The Slurm nodes the plan removes are drained and their jobs waited for before anything changes.
        drained = drain.before_infrastructure(ws.workdir, ws.cluster, graph, state, plan, connect=options.slurm,
                                              emit=emit, allow_job_impact=options.allow_job_impact)
        result = apply_part(plan, graph, True)
        if result.ok:
            drain.after_run(ws.workdir, ws.cluster, graph, state, result.state, drained=drained,
                            connect=options.slurm, emit=emit)
    if identity.rotating_from and result.ok and _every_host_has(result.state, inputs.host_digests):
        # Every node has the new key: state records it first, then the new pair takes the old one's place
        # (a run stopped between the two is completed by grid.identity on the next run).
        state_now = writer.update(lambda s: s.model_copy(update={"admin_public_key": keypair.public_key}))
        kill_point("rotation.recorded")
        complete_rotation(ws.workdir)
        emit(Event("state", "info", message="the cluster's admin SSH key is rotated: every node has the new "
                                            "key and no longer the old one"))
        return ApplyResult(state_now, result.failures, result.configured, result.untouched, serial=writer.serial,
                           saved=writer.saved)
    return result


def _apply_part(ws: Workspace, plan: Plan, graph: ResourceGraph, last: bool, *, emit: EventSink,
                stacks: StackEngine | None, ansible: AnsibleRunner | None, options: UpOptions, inputs: RunInputs,
                writer: StateWriter) -> ApplyResult:
    """Render and apply `plan` over `graph`: the whole run, or one wave of a roll (whose graph keeps the later
    waves' nodes as they are); state records the spec as applied only with the `last` part."""
    identity = inputs.identity
    emit(Event("render", "started"))
    files = render_cluster(ws.cluster, graph, admin_public_key=identity.keypair.public_key, own=ws.own,
                           leftovers=leftovers_of(writer.state))
    changed = write_tree(files, ws.rendered_dir)
    kill_point("render.written")
    emit(Event("render", "done", message=f"{len(files)} files, {len(changed)} changed"))
    writer.update(lambda s: s.model_copy(update={
        "rendered_digest": tree_digest(files), "admin_public_key": identity.accepted_public_key}))
    spec_now = ws.cluster.model_dump(mode="json")
    ctx = ApplyContext(
        cluster=ws.cluster, graph=graph, workdir=ws.workdir, rendered=ws.rendered_dir, keypair=identity.keypair,
        stacks=stacks, ansible=ansible, writer=writer, emit=emit,
        host_digests=inputs.host_digests, command=options.command,
        fresh_plan=options.fresh_plan, owner=owner_labels(ws, writer.lineage),
        removed_accounts=tuple(accounts_removed(inputs.state.applied_spec, spec_now)),
        applied_spec=spec_now if last else None,
    )
    return apply(ctx, plan)


def _build_images(ws: Workspace, plan: Plan, emit: EventSink) -> None:
    """The pool images the nodes this plan makes boot, built first where the target builds them (the local
    target: podman, skipped when the recipe's tag exists)."""
    refs = {str(c.after.get("image")) for c in plan.changes
            if c.kind == Kind.NODE.value and c.action.makes and c.after is not None}
    builds = builds_for(ws.images, refs)
    if not builds:
        return

    def built(build: ImageBuild, seconds: float) -> None:
        emit(Event("image", "done", address=build.name, message=f"built {build.ref} in {seconds:.1f} s"))

    emit(Event("image", "started", message=", ".join(b.name for b in builds)))
    try:
        ws.target.build_images(builds, built)
    except ImageBuildError as exc:
        raise GridError(str(exc), "check the recipe's packages in spec.images (apt names them above); nothing "
                                  "else was changed") from None


def _every_host_has(state: State, digests: Mapping[str, tuple[str, str, str]]) -> bool:
    """Whether every host is configured with the cluster-wide inputs of this run (the new admin key)."""
    return all(address in state.hosts and state.hosts[address].status == "configured"
               and state.hosts[address].cluster_digest == digest[1] for address, digest in digests.items())


def destroy(ws: Workspace, *, emit: EventSink, stacks: StackEngine | None,
            inputs: RunInputs | None = None) -> ApplyResult:
    """Remove every region stack the cluster has, then forget its resources (state keeps its history).
    `inputs`: as read under the caller's lock (host digests are not needed)."""
    _reap(ws, emit)
    with reaper.tagged(ws.workdir):
        return _destroy(ws, emit=emit, stacks=stacks, inputs=inputs if inputs is not None else run_inputs(ws))


def _destroy(ws: Workspace, *, emit: EventSink, stacks: StackEngine | None, inputs: RunInputs) -> ApplyResult:
    envelope, state, graph = inputs.envelope, inputs.state, inputs.graph
    keypair = inputs.identity.keypair
    writer = StateWriter(ws.store, envelope, state)
    failures: list[Failure] = []
    regions = sorted({r.region for r in state.resources.values() if r.region} | set(
        stacks.regions() if stacks else []))
    for region in regions:
        if stacks is None:
            break
        emit(Event("infrastructure", "started", region, "destroying region"))
        data = region_program_input(ws.cluster, graph, region, authorized_key=keypair.public_key)

        def progress(address: str, op: str, status: str) -> None:
            emit(Event("infrastructure", "progress", address, f"{op} {status}"))

        try:
            stacks.destroy(region, data, progress)
        except EngineFailed as exc:
            failures.append(Failure("infrastructure", region, exc.message))
            emit(Event("infrastructure", "failed", region, exc.message))
            continue
        writer.update(functools.partial(forget_region, region=region))
        emit(Event("infrastructure", "done", region))
    if not failures:
        writer.update(lambda s: s.model_copy(update={
            "resources": {}, "hosts": {}, "spec_digest": "", "applied_spec": None, "rendered_digest": "",
            "interrupted": [], "rolls": {}}))
    return ApplyResult(writer.state, tuple(failures), serial=writer.serial)
