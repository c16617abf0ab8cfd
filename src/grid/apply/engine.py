"""Apply a plan: infrastructure per region (concurrently), then configuration, saving state after each step.

Apply always returns the (possibly partial) new state. A failure names its stage and
address; everything that did succeed is recorded, so the next run only finishes the rest.
"""

from __future__ import annotations

import functools
import getpass
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grid.apply.events import Event, EventSink, Failure
from grid.apply.statewriter import StateWriter
from grid.drivers.ansible import AnsibleRunner
from grid.drivers.pulumi import PulumiFailed, StackEngine
from grid.drivers.ssh import KeyPair, write_known_hosts
from grid.killpoints import kill_point
from grid.plan.model import SCOPES, Action, Plan
from grid.render.pulumi import region_program_input
from grid.resources import Kind, ResourceGraph
from grid.spec.model import Cluster
from grid.state.model import ChangeRecord, HistoryEntry, HostRecord, ResourceRecord, State


@dataclass
class ApplyContext:
    cluster: Cluster
    graph: ResourceGraph
    workdir: Path
    rendered: Path  # the directory `grid render` output was written to
    keypair: KeyPair
    stacks: StackEngine | None
    ansible: AnsibleRunner | None
    writer: StateWriter
    emit: EventSink
    host_digests: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    command: str = "up"


@dataclass(frozen=True)
class ApplyResult:
    state: State
    failures: tuple[Failure, ...]
    configured: tuple[str, ...] = ()
    untouched: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failures


INTERRUPTED = "interrupted_regions"  # state.outputs key


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def apply(ctx: ApplyContext, plan: Plan) -> ApplyResult:
    failures: list[Failure] = []
    failed_regions = _infrastructure(ctx, plan, failures)
    configured, untouched = _configuration(ctx, plan, failed_regions, failures)
    outcome = "applied" if not failures else ("failed" if failed_regions and not configured else "partial")
    entry = HistoryEntry(
        serial=ctx.writer.serial + 1, at=now(), command=ctx.command, user=_user(),
        spec_digest=plan.spec_digest, outcome=outcome,
        changes=[ChangeRecord(address=c.address, action=c.action.value, cause=c.cause.value)
                 for c in plan.pending] +
                [ChangeRecord(address=h.address, action=f"configure:{h.scope}", cause=h.cause.value)
                 for h in plan.config],
    )
    ok = not failures
    state = ctx.writer.update(lambda s: s.model_copy(update={
        "history": [*s.history, entry][-200:],
        "spec_digest": plan.spec_digest if ok else s.spec_digest,
    }))
    return ApplyResult(state, tuple(failures), tuple(configured), tuple(untouched))


# -- infrastructure ---------------------------------------------------------------------------------------

def _regions_to_apply(ctx: ApplyContext, plan: Plan) -> tuple[list[str], list[str]]:
    touched = {c.region for c in plan.pending if c.kind != Kind.LINK.value}
    wanted = set(ctx.graph.regions)
    recorded = {r.region for r in ctx.writer.state.resources.values() if r.kind != Kind.LINK.value}
    return sorted(touched & wanted), sorted((touched | recorded) - wanted)


def _infrastructure(ctx: ApplyContext, plan: Plan, failures: list[Failure]) -> set[str]:
    ups, downs = _regions_to_apply(ctx, plan)
    _record_links(ctx)
    if ctx.stacks is None or (not ups and not downs):
        ctx.emit(Event("infrastructure", "skipped", message="no infrastructure changes"))
        return set()
    failed: set[str] = set()
    guard = threading.Lock()
    # Until a region's result is recorded, state cannot say what its stack holds (a killed or failed run
    # may have changed some resources): the next `grid up` refreshes these regions (grid.drift).
    ctx.writer.update(lambda s: _mark_interrupted(s, [*ups, *downs]))

    def run(region: str, destroy: bool) -> None:
        assert ctx.stacks is not None
        ctx.emit(Event("infrastructure", "started", region, "destroying region" if destroy else "applying region"))

        def progress(address: str, op: str, status: str) -> None:
            ctx.emit(Event("infrastructure", "progress", address, f"{op} {status}"))
            kill_point("infra.progress")

        data = region_program_input(ctx.cluster, ctx.graph, region, authorized_key=ctx.keypair.public_key)
        try:
            if destroy:
                ctx.stacks.destroy(region, data, progress)
                ctx.writer.update(lambda s: forget_region(s, region))
            else:
                result = ctx.stacks.up(region, data, progress)
                ctx.writer.update(lambda s: _record_region(s, ctx.graph, region, result.outputs))
        except PulumiFailed as exc:
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
                                    "outputs": _unmark_interrupted(state.outputs, region)})


def forget_region(state: State, region: str) -> State:
    return state.model_copy(update={
        "resources": {a: r for a, r in state.resources.items() if r.region != region},
        "hosts": {a: h for a, h in state.hosts.items() if not a.startswith(region + "/")},
        "outputs": _unmark_interrupted(state.outputs, region),
    })


def interrupted_regions(state: State) -> list[str]:
    """Regions whose last infrastructure run started and did not finish (killed, or failed)."""
    return _interrupted(state.outputs)


def _interrupted(outputs: dict[str, Any]) -> list[str]:
    found = outputs.get(INTERRUPTED)
    return [str(r) for r in found] if isinstance(found, list) else []


def _mark_interrupted(state: State, regions: list[str]) -> State:
    marked = sorted({*_interrupted(state.outputs), *regions})
    return state.model_copy(update={"outputs": {**state.outputs, INTERRUPTED: marked}})


def _unmark_interrupted(outputs: dict[str, Any], region: str) -> dict[str, Any]:
    rest = [r for r in _interrupted(outputs) if r != region]
    return {k: v for k, v in outputs.items() if k != INTERRUPTED} | ({INTERRUPTED: rest} if rest else {})


# -- configuration ----------------------------------------------------------------------------------------

def known_hosts_path(workdir: Path) -> Path:
    return workdir / "known_hosts"


def refresh_known_hosts(workdir: Path, state: State) -> Path:
    entries = []
    for record in state.resources.values():
        if record.kind == Kind.NODE.value and record.outputs.get("host_key"):
            names = [record.attrs["hostname"], *sorted(set(record.attrs.get("fabrics", {}).values()))]
            entries.append(([n for n in names if n], str(record.outputs["host_key"])))
    path = known_hosts_path(workdir)
    write_known_hosts(path, entries)
    return path


def _configuration(ctx: ApplyContext, plan: Plan, failed_regions: set[str],
                   failures: list[Failure]) -> tuple[list[str], list[str]]:
    state = ctx.writer.state
    nodes = {r.address: r for r in ctx.graph.of_kind(Kind.NODE)}
    ready = {a for a in nodes if a in state.resources and nodes[a].region not in failed_regions}
    scopes = {h.address: h.scope for h in plan.config if h.address in ready}
    # Hosts rebuilt by this apply need everything, whatever the plan said before the rebuild.
    for change in plan.pending:
        if change.address in ready and change.action in (Action.CREATE, Action.REPLACE):
            scopes[change.address] = "full"
    untouched = sorted(a for a in ready if a not in scopes)
    if ctx.ansible is None or not scopes:
        ctx.emit(Event("configuration", "skipped", message="no host needs configuration"))
        return [], untouched
    known_hosts = refresh_known_hosts(ctx.workdir, state)
    hostname_of = {a: str(nodes[a].attrs["hostname"]) for a in scopes}
    # One run for every scope (site.yml has a play per scope): one Ansible start-up, one connection per host.
    counts = {scope: sum(1 for s in scopes.values() if s == scope) for scope in SCOPES}
    ctx.emit(Event("configuration", "started", message=", ".join(
        f"{SCOPES[scope]} on {count} host(s)" for scope, count in counts.items() if count)))

    def progress(host: str, task: str, status: str) -> None:
        ctx.emit(Event("configuration", "progress", host, f"{task}: {status}"))
        kill_point("ansible.event")

    kill_point("ansible.start")
    result = ctx.ansible.run(
        ctx.rendered / "ansible", limit=sorted(hostname_of.values()), tags=[],
        scopes={hostname_of[a]: scope for a, scope in scopes.items()},
        private_key=ctx.keypair.private_path, known_hosts=known_hosts, check=False, on_event=progress,
    )
    stamp = now()
    records: dict[str, HostRecord] = {}
    configured: list[str] = []
    for address, scope in sorted(scopes.items()):
        hostname = hostname_of[address]
        outcome = result.hosts.get(hostname)
        if outcome is not None and outcome.ok:
            records[address] = _configured(state.hosts.get(address), address, scope,
                                           ctx.host_digests.get(address, ("", "", "")), stamp)
            configured.append(address)
            ctx.emit(Event("configuration", "done", hostname,
                           f"{outcome.changed} change(s)" if outcome.changed else "ok"))
        else:
            message = outcome.summary() if outcome is not None else "no result from Ansible (unreachable?)"
            records[address] = HostRecord(address=address, status="failed", updated_at=stamp, error=message)
            failures.append(Failure("configuration", hostname, message))
            ctx.emit(Event("configuration", "failed", hostname, message))
    ctx.writer.update(functools.partial(_record_hosts, records=records))
    return sorted(configured), untouched


def _configured(previous: HostRecord | None, address: str, scope: str, digests: tuple[str, str, str],
                stamp: str) -> HostRecord:
    """The record of a host configured in `scope`: the digests of what that scope applied are the new
    ones; what it did not touch keeps the digest it was last configured with."""
    node, cluster, hosts = digests
    if previous is not None and scope != "full":
        node = previous.node_digest
        if scope == "hosts":
            cluster = previous.cluster_digest
    return HostRecord(address=address, status="configured", updated_at=stamp, node_digest=node,
                      cluster_digest=cluster, hosts_digest=hosts)


def _record_hosts(state: State, records: dict[str, HostRecord]) -> State:
    return state.model_copy(update={"hosts": {**state.hosts, **records}})


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
