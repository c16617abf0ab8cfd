"""`grid up`: plan under the lock, have the plan approved, apply it, check the result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from grid.drivers import podman_listing
from grid.identity import Identity, begin_rotation, cancel_rotation, resolve_identity, rotation_pending
from grid.operations.engines import Engines, locked
from grid.operations.outcome import Outcome
from grid.operations.planning import Planned, PlanOptions, plan_against, seal_saved
from grid.operations.policy_gate import refuse_if_blocked, with_policy
from grid.operations.region_pending import record_pending
from grid.render.templating import cached_in
from grid.resources import Kind, ResourceGraph
from grid.spec import spec_digest
from grid.state.model import State
from grid.state.store import FileStateStore
from grid.workspace import Workspace, admin_public_key

if TYPE_CHECKING:  # the apply and the checks are loaded when a run applies: a no-op `grid up` needs neither
    from grid.apply.context import ApplyResult
    from grid.apply.events import EventSink
    from grid.operations.check import Checks, NodeShown

Approve = Callable[[Planned, Identity], None]
"""Shown the plan (and the identity it will be applied with), says yes by returning; raising cancels."""
Applied = Callable[["ApplyResult"], None]
"""Told how the apply went, before the acceptance checks start."""


@dataclass(frozen=True)
class UpOptions:
    refresh: bool = False  # compare configuration with reality first (Ansible check mode), not only the probe
    skip_check: bool = False  # no acceptance checks at the end
    trust_new_hosts: bool = False  # pin host keys of nodes seen for the first time (existing hosts, clouds)
    rotate_ssh_key: bool = False  # a new admin key pair, written to every host in place
    # Go on when jobs still run on the Slurm nodes the plan removes once their drain timed out (they end).
    allow_job_impact: bool = False
    # --target/--exclude: only the part of the cluster these globs select (grid.plan.selection).
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    # --policy DIR: policy packs besides the spec's own; a mandatory finding refuses the run (policy_gate).
    policy_dirs: tuple[Path, ...] = ()


def up(ws: Workspace, options: UpOptions, *, approve: Approve, emit: EventSink,
       engines: Engines = Engines(), on_applied: Applied | None = None,
       on_node: NodeShown | None = None) -> Outcome:
    # site.yml's text kept in the work directory: a no-op run hashes it without loading Jinja2 (start-up).
    with locked(ws, "up"), cached_in(ws.workdir / "cache"):
        podman_listing.check(ws.store.path if isinstance(ws.store, FileStateStore) else None)
        envelope, state = ws.read_state()
        started_rotation = options.rotate_ssh_key and not rotation_pending(ws.workdir)
        if options.rotate_ssh_key:
            begin_rotation(ws.workdir, ws.cluster.name)
        identity = resolve_identity(ws.workdir, ws.cluster.name, state)
        if ws.cluster.spec.scheduler is not None:
            from grid.apply.run import ensure_scheduler_secrets  # the whole apply: only with a scheduler here

            ensure_scheduler_secrets(ws, state)
        # Started now, its worker is ready when the plan is (tagged as this run's: grid.apply.reaper).
        early = likely_to_apply(state, ws, options)
        stacks = engines.stacks(ws, identity, options.trust_new_hosts, True) if early else None
        planned = plan_against(ws, envelope, state, public_key=identity.keypair.public_key,
                               options=PlanOptions(refresh=options.refresh, probe=True, targets=options.targets,
                                                   excludes=options.excludes), identity=identity,
                               slurm=engines.slurm)
        planned = replace(planned, plan=with_policy(ws, planned.plan, options.policy_dirs))
        if planned.plan.errors:
            return Outcome("plan-errors", planned.plan, serial=planned.serial)
        if not planned.plan.has_changes:
            if envelope is not None and planned.plan.selection is None:
                record_pending(ws, state, envelope.serial, {})  # nothing left to do here: clear its record
            seal_no_op(ws, planned, options)
            return Outcome("no-changes", planned.plan, serial=planned.serial)
        try:
            refuse_if_blocked(planned.plan, "grid up")  # a mandatory policy failed: before anything changes
            approve(planned, identity)
        except BaseException:
            if started_rotation:
                cancel_rotation(ws.workdir)  # declined: no rotation was started
            raise
        from grid.apply import run

        if not early:  # the plan has changes after all (what the probe found changed by hand)
            stacks = engines.stacks(ws, identity, options.trust_new_hosts, False)
        applied = run.up(ws, planned.plan, emit=emit, stacks=stacks, ansible=engines.ansible(ws),
                         options=run.UpOptions(allow_job_impact=options.allow_job_impact, slurm=engines.slurm),
                         inputs=run.RunInputs(envelope, state, planned.graph, planned.host_digests, identity))
        if applied.ok and planned.plan.selection is None:  # a partial run did not do the pending work
            record_pending(ws, applied.state, applied.serial, planned.pending_elsewhere)
            seal_saved(ws, applied.saved, applied.state)
    return finished(ws, planned, applied, skip_check=options.skip_check, on_applied=on_applied, on_node=on_node)


def seal_no_op(ws: Workspace, planned: Planned, options: UpOptions) -> None:
    """A no-op run seals the state for the `grid plan`s that follow (grid.operations.sealed): its plan, made with
    the target's probe, changed nothing, so neither would one without it — when the key it planned with is the
    one an offline plan uses."""
    from grid.operations.sealed import may_seal, seal_if_unchanged

    if may_seal(ws, refresh=options.refresh, probe=False, targets=options.targets, excludes=options.excludes,
                policy_dirs=options.policy_dirs) and planned.public_key == admin_public_key(ws, planned.state):
        seal_if_unchanged(ws, planned.plan, planned.envelope, planned.state, planned.public_key)


def likely_to_apply(state: State, ws: Workspace, options: UpOptions) -> bool:
    """Whether the run will most likely apply something, so that its Pulumi worker is worth starting before the
    plan (its ~0.4 CPU-s of imports then overlap planning): the spec changed since the last apply, or the run
    is asked to change or look at more. A re-run of an applied spec is mostly a no-op, which would only pay
    for the worker (issue 20, start-up); when its plan has changes after all, the worker starts then."""
    return options.rotate_ssh_key or options.refresh or state.spec_digest != spec_digest(ws.cluster)


def finished(ws: Workspace, planned: Planned, applied: ApplyResult, *, skip_check: bool,
             on_applied: Applied | None, on_node: NodeShown | None) -> Outcome:
    """After an apply (of `grid up` or `grid apply`): its outcome, with the acceptance checks when it worked."""
    if on_applied is not None:
        on_applied(applied)
    serial = applied.serial or None
    if not applied.ok:
        return Outcome("failed", planned.plan, applied, serial=serial)
    checks: Checks | None = None
    if not skip_check:
        from grid.operations.check import check_after_apply

        graph = planned.graph
        if planned.plan.selection is not None:  # a partial run checks the nodes it selected
            graph = ResourceGraph(graph.cluster, tuple(r for r in graph if r.kind is not Kind.NODE
                                                       or r.address in planned.plan.selection))
        checks = check_after_apply(ws, applied.state, graph, on_node=on_node)
        if not checks.ok:
            return Outcome("checks-failed", planned.plan, applied, checks, serial=serial)
    return Outcome("applied", planned.plan, applied, checks, serial=serial)
