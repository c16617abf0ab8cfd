"""`up` and `destroy` as sequences of steps over a Workspace; the CLI only renders their events."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from grid.apply import reaper
from grid.apply.engine import ApplyContext, ApplyResult, apply, forget_region
from grid.apply.events import Event, EventSink, Failure
from grid.apply.statewriter import StateWriter
from grid.drivers.ansible import AnsibleRunner
from grid.drivers.pulumi import PulumiFailed, StackEngine
from grid.identity import RECORDED_KEY, Identity, complete_rotation, resolve_identity
from grid.killpoints import kill_point
from grid.plan import Plan
from grid.render import render_cluster, tree_digest, write_tree
from grid.render.pulumi import project_name, region_program_input
from grid.state.history import accounts_removed
from grid.state.model import INTERRUPTED, State
from grid.workspace import Workspace, graph_for, host_digests


def ensure_identity(ws: Workspace, state: State) -> Identity:
    """The cluster's SSH key pair and Pulumi passphrase: made once, before the first apply; for a cluster that
    exists, found or refused (IdentityError) — never made again (grid.identity)."""
    return resolve_identity(ws.workdir, ws.cluster.name, state)


def default_stacks(ws: Workspace, identity: Identity, *, trust_new_hosts: bool = False,
                   warm: bool = False) -> StackEngine | None:
    """The region stack engine of the spec's target; `trust_new_hosts` (existing hosts and cloud
    targets) lets `up` pin host keys it has not seen before; `warm`: start a Pulumi worker now, tagged
    as this process's run (grid.apply.reaper), so that it is ready when the plan is."""
    if ws.cluster.spec.target == "existing":
        from grid.targets.existing import ExistingHostsEngine

        return ExistingHostsEngine.for_workspace(ws, trust_new_hosts=trust_new_hosts)
    from grid.drivers.pulumi import ProcessStackEngine
    from grid.state import pulumi_backend

    # Team state in PostgreSQL keeps the Pulumi stacks in the same database; file state, in the work directory.
    engine = ProcessStackEngine(project=project_name(ws.cluster.name), target=ws.cluster.spec.target,
                                workdir=ws.workdir, passphrase_file=identity.passphrase_file,
                                backend_url=pulumi_backend(ws.store))
    if warm:
        engine.warm({reaper.RUN_ENV: reaper.run_tag(ws.workdir)})
    from grid.targets.cloud import CLOUD_TARGETS, HostKeyPinningEngine, pins_from_state

    if ws.cluster.spec.target in CLOUD_TARGETS:
        return HostKeyPinningEngine(engine, pins=lambda: pins_from_state(ws), trust_new_hosts=trust_new_hosts,
                                    port=ws.cluster.spec.defaults.ssh.port)
    return engine


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


def _reap(ws: Workspace, emit: EventSink) -> None:
    if reaped := reaper.reap(ws.workdir):
        emit(Event("state", "info", message=f"ended {len(reaped)} process(es) a killed run had left behind"))


def up(ws: Workspace, plan: Plan, *, emit: EventSink, stacks: StackEngine | None,
       ansible: AnsibleRunner | None, options: UpOptions = UpOptions()) -> ApplyResult:
    _reap(ws, emit)
    with reaper.tagged(ws.workdir):
        return _up(ws, plan, emit=emit, stacks=stacks, ansible=ansible, options=options)


def _up(ws: Workspace, plan: Plan, *, emit: EventSink, stacks: StackEngine | None,
        ansible: AnsibleRunner | None, options: UpOptions) -> ApplyResult:
    envelope, state = ws.read_state()
    identity = ensure_identity(ws, state)
    keypair = identity.keypair
    writer = StateWriter(ws.store, envelope, state)
    graph = graph_for(ws, state)
    emit(Event("render", "started"))
    files = render_cluster(ws.cluster, graph, admin_public_key=keypair.public_key)
    changed = write_tree(files, ws.rendered_dir)
    kill_point("render.written")
    emit(Event("render", "done", message=f"{len(files)} files, {len(changed)} changed"))
    writer.update(lambda s: s.model_copy(update={"outputs": {
        **s.outputs, "applied_spec": ws.cluster.model_dump(mode="json"), "rendered_digest": tree_digest(files),
        RECORDED_KEY: identity.accepted_public_key}}))
    ctx = ApplyContext(
        cluster=ws.cluster, graph=graph, workdir=ws.workdir, rendered=ws.rendered_dir, keypair=keypair,
        stacks=stacks, ansible=ansible, writer=writer, emit=emit,
        host_digests=host_digests(ws, graph, keypair.public_key), command=options.command,
        fresh_plan=options.fresh_plan, owner=owner_labels(ws, writer.lineage),
        removed_accounts=tuple(accounts_removed(state.outputs.get("applied_spec"),
                                                ws.cluster.model_dump(mode="json"))),
    )
    result = apply(ctx, plan)
    if identity.rotating_from and _every_host_has(result.state, ctx.host_digests):
        # Every node has the new key: state records it first, then the new pair takes the old one's place
        # (a run stopped between the two is completed by grid.identity on the next run).
        state_now = writer.update(lambda s: s.model_copy(update={"outputs": {**s.outputs,
                                                                             RECORDED_KEY: keypair.public_key}}))
        kill_point("rotation.recorded")
        complete_rotation(ws.workdir)
        emit(Event("state", "info", message="the cluster's admin SSH key is rotated: every node has the new "
                                            "key and no longer the old one"))
        return ApplyResult(state_now, result.failures, result.configured, result.untouched, serial=writer.serial)
    return result


def _every_host_has(state: State, digests: Mapping[str, tuple[str, str, str]]) -> bool:
    """Whether every host is configured with the cluster-wide inputs of this run (the new admin key)."""
    return all(address in state.hosts and state.hosts[address].status == "configured"
               and state.hosts[address].cluster_digest == digest[1] for address, digest in digests.items())


def destroy(ws: Workspace, *, emit: EventSink, stacks: StackEngine | None) -> ApplyResult:
    """Remove every region stack the cluster has, then forget its resources (state keeps its history)."""
    _reap(ws, emit)
    with reaper.tagged(ws.workdir):
        return _destroy(ws, emit=emit, stacks=stacks)


def _destroy(ws: Workspace, *, emit: EventSink, stacks: StackEngine | None) -> ApplyResult:
    envelope, state = ws.read_state()
    keypair = ensure_identity(ws, state).keypair
    writer = StateWriter(ws.store, envelope, state)
    graph = graph_for(ws, state)
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
        except PulumiFailed as exc:
            failures.append(Failure("infrastructure", region, exc.message))
            emit(Event("infrastructure", "failed", region, exc.message))
            continue
        writer.update(functools.partial(forget_region, region=region))
        emit(Event("infrastructure", "done", region))
    if not failures:
        writer.update(lambda s: s.model_copy(update={
            "resources": {}, "hosts": {}, "spec_digest": "",
            "outputs": {k: v for k, v in s.outputs.items()
                        if k not in ("applied_spec", "rendered_digest", INTERRUPTED)}}))
    return ApplyResult(writer.state, tuple(failures), serial=writer.serial)
