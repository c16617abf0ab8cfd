"""The configuration stage of an apply: which hosts Ansible runs on, in which scope, and when.

Hosts whose node this apply leaves alone and that need only cluster-wide tasks or the hosts table
(a pool grew elsewhere) are configured at once, while the infrastructure changes: what they get
depends on the plan's addresses, never on a resource being made. The run for everyone else starts
at the same time, so that Ansible's start-up overlaps the infrastructure, and its hosts wait at a gate
(grid.drivers.ansible.Gate) that opens when the infrastructure is applied. Each batch is one Ansible
run with a play per scope.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from grid.apply.context import ApplyContext, now
from grid.apply.events import Event, Failure
from grid.apply.shared_known_hosts import known_hosts_locked, lines_of_others, region_runs_here
from grid.drivers.ansible import Gate
from grid.drivers.ssh import write_known_hosts
from grid.killpoints import kill_point
from grid.plan.model import SCOPES, Plan
from grid.resources import Kind
from grid.state.model import HostRecord, State

EARLY_SCOPES = ("cluster-wide", "hosts")


def known_hosts_path(workdir: Path) -> Path:
    return workdir / "known_hosts"


def refresh_known_hosts(workdir: Path, state: State,
                        extra: Iterable[tuple[Mapping[str, Any], str]] = ()) -> Path:
    """known_hosts of the nodes in `state`, and of `extra` nodes (attrs, host key) not recorded yet."""
    nodes = [(r.attrs, str(r.outputs["host_key"])) for r in state.resources.values()
             if r.kind == Kind.NODE.value and r.outputs.get("host_key")]
    entries = []
    for attrs, key in [*nodes, *extra]:
        names = [attrs["hostname"], *sorted(set(attrs.get("fabrics", {}).values()))]
        entries.append(([str(n) for n in names if n], key))
    path = known_hosts_path(workdir)
    if not region_runs_here(workdir):
        write_known_hosts(path, entries)
        return path
    with known_hosts_locked(path):  # another region's run may write it at the same time
        known = {name for names, _ in entries for name in names}
        write_known_hosts(path, [*entries, *lines_of_others(path, known)])
    return path


class Gates:
    """The gates of a run started before the infrastructure (see the module doc).

    A waiting host's gate opens as soon as Pulumi reports its node made, with the host key pinned
    first (`made`), or when the infrastructure is done (`settle`); `settle` closes the gates of
    hosts that are not ready after all, and lists them in `not_made`.
    """

    def __init__(self, ctx: ApplyContext, gate: Gate, waiting: Mapping[str, str]) -> None:
        self.ctx, self.gate, self.waiting = ctx, gate, dict(waiting)
        self.nodes = {r.address: r for r in ctx.graph.of_kind(Kind.NODE) if r.address in self.waiting}
        self.not_made: set[str] = set()
        self._closed_hostnames: set[str] = set()
        self._keys: dict[str, str] = {}
        self._opened: set[str] = set()
        self._lock = threading.Lock()
        self.settled = threading.Event()

    def _hostname(self, address: str) -> str:
        return str(self.nodes[address].attrs["hostname"])

    def _open(self, address: str) -> None:
        hostname = self._hostname(address)
        kill_point(f"gate.open.{hostname}")  # the node is made, Ansible has not connected to it yet
        self.gate.open(hostname)
        self._opened.add(address)

    def made(self, address: str, outputs: Mapping[str, Any]) -> None:
        key = str(outputs.get("host_key") or "")
        if address not in self.waiting or not key:
            return
        with self._lock:
            self._keys[address] = key
            refresh_known_hosts(self.ctx.workdir, self.ctx.writer.state,
                                [(self.nodes[a].attrs, k) for a, k in self._keys.items()])
            self._open(address)

    def settle(self, scopes: Mapping[str, str], failed_regions: set[str]) -> None:
        """The infrastructure is done: open the gates of the hosts ready in the scope their run has, close
        the others' (their region failed, or they now need another scope: a later run serves them)."""
        with self._lock:
            try:
                refresh_known_hosts(self.ctx.workdir, self.ctx.writer.state)
                for address, scope in sorted(self.waiting.items()):
                    if scopes.get(address) == scope:
                        if address not in self._opened:
                            self._open(address)
                        continue
                    region = self.nodes[address].region
                    self._close(address, f"region {region} failed" if region in failed_regions else "not ready")
            finally:
                self._close_rest("grid could not open it")

    def abandon(self, why: str) -> None:
        """The infrastructure stage ended in an exception: end the waiting run's hosts that are still waiting."""
        with self._lock:
            self._close_rest(why)

    def closed(self, hostname: str) -> bool:
        """Whether the host's gate was closed: its run ends there, and its region's failure says why."""
        return hostname in self._closed_hostnames

    def _close(self, address: str, why: str) -> None:
        self.not_made.add(address)
        self._closed_hostnames.add(self._hostname(address))
        self.gate.close(self._hostname(address), why)

    def _close_rest(self, why: str) -> None:
        """Every gate not opened yet is closed (the run never waits for a gate nobody will open); settled."""
        try:
            for address in sorted(set(self.waiting) - self._opened - self.not_made):
                self._close(address, why)
        finally:
            self.settled.set()


def early_scopes(ctx: ApplyContext, plan: Plan) -> dict[str, str]:
    """{address: scope} of hosts configured while the infrastructure changes (see the module doc)."""
    state = ctx.writer.state
    changing = {c.address for c in plan.pending}
    wanted = set(ctx.graph.regions)
    nodes = {r.address: r for r in ctx.graph.of_kind(Kind.NODE)}
    return {h.address: h.scope for h in plan.config
            if h.scope in EARLY_SCOPES and h.address not in changing and h.address in state.resources
            and h.address in nodes and nodes[h.address].region in wanted}


def late_scopes(ctx: ApplyContext, plan: Plan, failed_regions: set[str],
                done: set[str]) -> tuple[dict[str, str], list[str]]:
    """{address: scope} of hosts to configure once the infrastructure is applied, and the ready hosts
    that need nothing; hosts in `done` were configured early."""
    state = ctx.writer.state
    nodes = {r.address: r for r in ctx.graph.of_kind(Kind.NODE)}
    ready = {a for a in nodes if a in state.resources and nodes[a].region not in failed_regions}
    scopes = _scopes(plan, ready, done)
    return scopes, sorted(a for a in ready if a not in scopes and a not in done)


def planned_late_scopes(ctx: ApplyContext, plan: Plan, done: set[str]) -> dict[str, str]:
    """What late_scopes will say if every region applies: the scopes of a run started before that."""
    state = ctx.writer.state
    made = {c.address for c in plan.pending if c.action.makes}
    wanted = set(ctx.graph.regions)
    ready = {r.address for r in ctx.graph.of_kind(Kind.NODE)
             if r.region in wanted and (r.address in state.resources or r.address in made)}
    return _scopes(plan, ready, done)


def _scopes(plan: Plan, ready: set[str], done: set[str]) -> dict[str, str]:
    scopes = {h.address: h.scope for h in plan.config if h.address in ready and h.address not in done}
    # Hosts rebuilt by this apply need everything, whatever the plan said before the rebuild.
    for change in plan.pending:
        if change.address in ready and change.action.makes:
            scopes[change.address] = "full"
    return scopes


def configure(ctx: ApplyContext, scopes: dict[str, str], failures: list[Failure], *,
              gates: Gates | None = None) -> list[str]:
    """One Ansible run for `scopes` ({address: scope}); records each host's outcome; the configured.

    gates: the run starts now, each host waiting at its gate (Gates); outcomes are recorded once the
    gates are settled, without the hosts whose node was not made (their region's failure is recorded).
    """
    if ctx.ansible is None or not scopes:
        return []
    state = ctx.writer.state
    nodes = {r.address: r for r in ctx.graph.of_kind(Kind.NODE)}
    known_hosts = refresh_known_hosts(ctx.workdir, state)
    hostname_of = {a: str(nodes[a].attrs["hostname"]) for a in scopes}
    counts = {scope: sum(1 for s in scopes.values() if s == scope) for scope in SCOPES}
    ctx.emit(Event("configuration", "started", message=", ".join(
        f"{SCOPES[scope]} on {count} host(s)" for scope, count in counts.items() if count)
        + (" (each as soon as its node is made)" if gates is not None else "")))

    def progress(host: str, task: str, status: str) -> None:
        if gates is not None and status == "failed" and gates.closed(host):
            return  # not a configuration failure: the infrastructure failure is reported
        ctx.emit(Event("configuration", "progress", host, f"{task}: {status}"))
        kill_point("ansible.event")

    kill_point("ansible.start")
    result = ctx.ansible.run(
        ctx.rendered / "ansible", limit=sorted(hostname_of.values()), tags=[],
        scopes={hostname_of[a]: scope for a, scope in scopes.items()},
        private_key=ctx.keypair.private_paths, known_hosts=known_hosts, check=False, on_event=progress,
        gate=gates.gate if gates is not None else None,
    )
    if gates is not None:
        gates.settled.wait()
    stamp = now()
    records: dict[str, HostRecord] = {}
    configured: list[str] = []
    for address, scope in sorted(scopes.items()):
        if gates is not None and address in gates.not_made:
            continue  # its infrastructure failed: that failure is recorded, the host stays to do
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
    return configured


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
