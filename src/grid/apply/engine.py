"""Apply a plan: infrastructure per region (concurrently) and configuration (grid.apply.configure), saving
state after each step.

Apply always returns the (possibly partial) new state. A failure names its stage and
address; everything that did succeed is recorded, so the next run only finishes the rest.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grid.apply.configure import Gates, configure, early_scopes, late_scopes, planned_late_scopes
from grid.apply.context import ApplyContext, ApplyResult, now
from grid.apply.events import Event, Failure
from grid.apply.reaper import owned_prefix
from grid.drivers.ansible import Gate
from grid.engines import EngineFailed, MadeFn, RegionInput
from grid.killpoints import kill_point
from grid.plan.contract import allowance
from grid.plan.model import Cause, Plan
from grid.render.pulumi import region_program_input
from grid.resources import Kind, ResourceGraph
from grid.state.history import account_removals
from grid.state.model import ChangeRecord, HistoryEntry, ResourceRecord, State

__all__ = ["ApplyContext", "ApplyResult", "apply", "forget_region"]



def apply(ctx: ApplyContext, plan: Plan) -> ApplyResult:
    failures: list[Failure] = []
    early = early_scopes(ctx, plan)
    ups, downs = _regions_to_apply(ctx, plan)
    # Hosts that only need cluster-wide pieces are configured while the infrastructure changes. The run
    # for the others starts too, its hosts waiting at a gate until the infrastructure is applied
    # (grid.apply.configure); without infrastructure to wait for, it simply runs afterwards.
    waiting = planned_late_scopes(ctx, plan, set(early)) if ctx.ansible and ctx.stacks and ups else {}
    # The gate directory outlives the runs waiting on it (the pool's exit waits for them).
    with _gate_directory(ctx, bool(waiting)) as gate, ThreadPoolExecutor(max_workers=2) as pool:
        gates = Gates(ctx, gate, waiting) if gate is not None else None
        configuring = pool.submit(configure, ctx, early, failures)
        gated = pool.submit(configure, ctx, waiting, failures, gates=gates) if gates is not None else None
        try:
            failed_regions = _infrastructure(ctx, plan, failures, ups, downs, gates.made if gates else None)
            scopes, untouched = late_scopes(ctx, plan, failed_regions, set(early))
        except BaseException:
            if gates is not None:
                gates.abandon("grid stopped")  # the waiting run ends instead of waiting on
            raise
        if gates is not None:
            gates.settle(scopes, failed_regions)
        rest = {a: s for a, s in scopes.items() if a not in waiting or (gates and a in gates.not_made)}
        configured = configure(ctx, rest, failures) + configuring.result() + (gated.result() if gated else [])
    if not early and not scopes:
        ctx.emit(Event("configuration", "skipped", message="no host needs configuration"))
    configured.sort()
    outcome = "applied" if not failures else ("failed" if failed_regions and not configured else "partial")
    entry = HistoryEntry(
        serial=ctx.writer.serial + 1, at=now(), command=ctx.command, user=_user(),
        spec_digest=plan.spec_digest, outcome=outcome,
        changes=[ChangeRecord(address=c.address, action=c.action.value, cause=c.cause.value)
                 for c in plan.pending] +
                [ChangeRecord(address=h.address, action=f"configure:{h.scope}", cause=h.cause.value)
                 for h in plan.config] + account_removals(ctx.removed_accounts)
                + [ChangeRecord(address=m.address, action=f"moved from {m.previous}")
                   for m in (plan.moved.resources if plan.moved is not None else ())],
    )
    # A partial run (--target/--exclude) did not apply the whole spec: the state keeps the one it last had.
    ok, whole = not failures, plan.selection is None
    state = ctx.writer.update(lambda s: s.model_copy(update={
        "history": [*s.history, entry][-200:],
        "spec_digest": plan.spec_digest if ok and whole else s.spec_digest,
        "applied_spec": ctx.applied_spec if ok and whole and ctx.applied_spec is not None else s.applied_spec,
    }))
    return ApplyResult(state, tuple(failures), tuple(configured), tuple(untouched), serial=ctx.writer.serial,
                       saved=ctx.writer.saved)


# -- infrastructure ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def _gate_directory(ctx: ApplyContext, wanted: bool) -> Iterator[Gate | None]:
    if not wanted:
        yield None
        return
    # Named after this process: a later run removes it once this process is gone (grid.apply.reaper).
    directory = Path(tempfile.mkdtemp(prefix=owned_prefix("gates"), dir=ctx.workdir))
    try:
        yield Gate(directory, os.getpid())
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _regions_to_apply(ctx: ApplyContext, plan: Plan) -> tuple[list[str], list[str]]:
    # An interrupted region is run again even when nothing differs: its stack may hold pending operations.
    touched = {c.region for c in plan.pending if c.kind != Kind.LINK.value} | set(plan.unfinished)
    if plan.moved is not None:  # renamed resources: their stacks re-address them (Pulumi aliases)
        touched |= {m.region for m in plan.moved.resources}
    wanted = set(ctx.graph.regions)
    recorded = {r.region for r in ctx.writer.state.resources.values() if r.kind != Kind.LINK.value}
    return sorted(touched & wanted), sorted((touched | recorded) - wanted)


def _infrastructure(ctx: ApplyContext, plan: Plan, failures: list[Failure], ups: list[str],
                    downs: list[str], made: MadeFn | None = None) -> set[str]:
    _record_links(ctx)
    if ctx.stacks is None or (not ups and not downs):
        ctx.emit(Event("infrastructure", "skipped", message="no infrastructure changes"))
        return set()
    failed: set[str] = set()
    guard = threading.Lock()
    unsure = set(ctx.writer.state.interrupted_regions())
    # Until a region's result is recorded, state cannot say what its stack holds (a killed or failed run
    # may have changed some resources): the next `grid up` refreshes these regions (grid.drift).
    ctx.writer.update(lambda s: _mark_interrupted(s, [*ups, *downs]))

    def run(region: str, destroy: bool) -> None:
        assert ctx.stacks is not None
        ctx.emit(Event("infrastructure", "started", region, "destroying region" if destroy else "applying region"))

        def progress(address: str, op: str, status: str) -> None:
            ctx.emit(Event("infrastructure", "progress", address, f"{op} {status}"))
            kill_point("infra.progress")

        data: RegionInput = {
            **region_program_input(ctx.cluster, ctx.graph, region, authorized_key=ctx.keypair.public_key),
            "owner": dict(ctx.owner)}
        try:
            if destroy:
                ctx.stacks.destroy(region, data, progress)
                ctx.writer.update(lambda s: forget_region(s, region))
            else:
                result = ctx.stacks.up(region, data, progress, refresh=_needs_refresh(ctx, plan, region, unsure),
                                       made=made, allowed=allowance(plan, region))
                ctx.writer.update(lambda s: _record_region(s, ctx.graph, region, result.outputs))
        except EngineFailed as exc:
            with guard:
                failed.add(region)
                failures.append(Failure("infrastructure", region, exc.message))
            ctx.emit(Event("infrastructure", "failed", region, exc.message))
            return
        ctx.emit(Event("infrastructure", "done", region))

    jobs = [(r, False) for r in ups] + [(r, True) for r in downs]
    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        list(pool.map(lambda job: run(*job), jobs))
    return failed


def _needs_refresh(ctx: ApplyContext, plan: Plan, region: str, interrupted: set[str]) -> bool:
    """Whether Pulumi reads the region's resources before changing them.

    Not when this plan was just made against the live target and found the region as state says: the
    read would repeat grid's probe (every container, network and volume there, running) for about a
    second per region. Drift the probe cannot see (a limit changed by hand) is what `grid drift` and
    `grid up --refresh` look for; their drift-caused changes, interrupted regions, targets without a
    probe and saved plans are always refreshed.
    """
    if not (ctx.fresh_plan and plan.refreshed) or region in interrupted:
        return True
    return any(c.cause is Cause.DRIFT for c in plan.pending if c.region == region)


def _record_links(ctx: ApplyContext) -> None:
    links = {r.address: r for r in ctx.graph.of_kind(Kind.LINK)}

    def change(state: State) -> State:
        resources = {a: r for a, r in state.resources.items() if r.kind != Kind.LINK.value}
        resources.update({a: ResourceRecord(address=a, kind=r.kind.value, region="", attrs=dict(r.attrs))
                          for a, r in links.items()})
        return state.model_copy(update={"resources": resources})

    ctx.writer.update(change)


def _record_region(state: State, graph: ResourceGraph, region: str, outputs: dict[str, object]) -> State:
    node_outputs = outputs.get("nodes", {}) if isinstance(outputs.get("nodes"), dict) else {}
    assert isinstance(node_outputs, dict)
    resources = {a: r for a, r in state.resources.items() if r.region != region}
    for res in graph.in_region(region):
        out = node_outputs.get(res.address, {}) if res.kind is Kind.NODE else {}
        resources[res.address] = ResourceRecord(address=res.address, kind=res.kind.value, region=region,
                                                attrs=dict(res.attrs), outputs=dict(out))
    hosts = {a: h for a, h in state.hosts.items() if a in resources or not a.startswith(region + "/")}
    return state.model_copy(update={"resources": resources, "hosts": hosts,
                                    "interrupted": _unmark_interrupted(state, region)})


def forget_region(state: State, region: str) -> State:
    return state.model_copy(update={
        "resources": {a: r for a, r in state.resources.items() if r.region != region},
        "hosts": {a: h for a, h in state.hosts.items() if not a.startswith(region + "/")},
        "interrupted": _unmark_interrupted(state, region),
    })


def _mark_interrupted(state: State, regions: list[str]) -> State:
    return state.model_copy(update={"interrupted": sorted({*state.interrupted, *regions})})


def _unmark_interrupted(state: State, region: str) -> list[str]:
    return [r for r in state.interrupted if r != region]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
