"""`grid check`: acceptance checks of the running cluster, per node (also the end of `grid up`/`grid apply`),
and with a scheduler, Slurm's jobs per partition (grid.check_slurm)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grid.check import NodeReport, run_checks
from grid.check_slurm import PartitionReport, check_partitions, unanswered
from grid.errors import OperationFailed
from grid.plan.partial import with_nodes
from grid.reachability import probes, run_probes
from grid.resources import ResourceGraph
from grid.state.model import State
from grid.workspace import Workspace, graph_for

NodeShown = Callable[[NodeReport], None]
"""Sees each node's report as it comes."""
PartitionShown = Callable[[PartitionReport], None]
"""Sees each partition's report (Slurm's jobs) as it comes."""


@dataclass(frozen=True)
class Checks:
    cluster: str
    nodes: tuple[NodeReport, ...]
    partitions: tuple[PartitionReport, ...] = ()  # Slurm's jobs, when the spec has a scheduler

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.nodes) and all(p.ok for p in self.partitions)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "nodes": [r.to_dict() for r in self.nodes]}
        if self.partitions:
            out["partitions"] = [p.to_dict() for p in self.partitions]
        return out


def check(ws: Workspace, *, on_node: NodeShown | None = None,
          on_partition: PartitionShown | None = None, targets: tuple[str, ...] = (),
          excludes: tuple[str, ...] = ()) -> Checks:
    """`targets`/`excludes` (--target/--exclude): check only the nodes they select (Slurm's jobs, which run
    across nodes, only without them)."""
    _, state = ws.read_state()
    graph = graph_for(ws, state)
    partial = bool(targets or excludes)
    if partial:
        graph = with_nodes(graph, targets, excludes)
    return check_after_apply(ws, state, graph, on_node=on_node, slurm=not partial, on_partition=on_partition)


def check_after_apply(ws: Workspace, state: State, graph: ResourceGraph, *,
                      on_node: NodeShown | None = None, slurm: bool = False,
                      on_partition: PartitionShown | None = None) -> Checks:
    """The checks against a state and expansion the caller has (an apply just made them); `slurm`: with a
    scheduler in the spec, its jobs per partition too, after the nodes' checks."""
    from grid.apply.configure import refresh_known_hosts
    from grid.drivers.ssh import PinnedRemote
    from grid.identity import find_keypair

    keys = find_keypair(ws.workdir)
    if keys is None or not state.resources:
        raise OperationFailed(f"cluster {ws.cluster.name} is not up", hint=f"run `grid up {ws.spec_path}`")
    known_hosts = refresh_known_hosts(ws.workdir, state)
    remote = PinnedRemote(user=ws.cluster.spec.defaults.ssh.user, private_key=keys.private_path, also=keys.also,
                          known_hosts=known_hosts, port=ws.cluster.spec.defaults.ssh.port)
    try:
        reports = run_checks(graph, state, remote, configured=ws.cluster.spec.configuration.manage)
        # The network policy: a declared port gets through from a peer, an undeclared one does not.
        run_probes(probes(ws.cluster, graph, set(state.resources)), remote, {r.address: r for r in reports})
        for report in reports:
            if on_node:
                on_node(report)
        partitions: list[PartitionReport] = []
        if slurm and ws.cluster.spec.scheduler is not None:
            partitions = slurm_checks(ws, state, graph, keys.private_path, keys.also, known_hosts, reports)
            for partition in partitions:
                if on_partition:
                    on_partition(partition)
        return Checks(ws.cluster.name, tuple(reports), tuple(partitions))
    finally:
        remote.close()


def slurm_checks(ws: Workspace, state: State, graph: ResourceGraph, private_key: Path, also: tuple[Path, ...],
                 known_hosts: Path, nodes: list[NodeReport]) -> list[PartitionReport]:
    """Slurm's jobs per partition, submitted on the controller over a connection of its own (jobs outlive the
    node checks' SSH timeout); a Slurm that does not answer fails every partition with what it said, and a
    controller the node checks could not reach is not tried again."""
    from grid.drivers.slurm import SSH_TIMEOUT, SlurmUnavailable, controller_of
    from grid.drivers.ssh import PinnedRemote
    from grid.render.slurm import controller_hosts

    ssh = ws.cluster.spec.defaults.ssh
    hostname, _ = controller_hosts(ws.cluster, graph)[0]
    if any(r.hostname == hostname and not r.checks.get("ssh", True) for r in nodes):
        return unanswered(ws.cluster, graph, set(state.resources),
                          f"the controller {hostname} is not reachable over SSH: no job submitted")
    remote = PinnedRemote(user=ssh.user, private_key=private_key, also=also, known_hosts=known_hosts,
                          port=ssh.port, timeout=SSH_TIMEOUT)
    try:
        controller = controller_of(ws.cluster, graph, remote, sudo=ssh.user != "root")
        try:
            return check_partitions(ws.cluster, graph, set(state.resources), controller)
        except SlurmUnavailable as exc:
            return unanswered(ws.cluster, graph, set(state.resources), f"{exc.message} ({exc.hint})")
    finally:
        remote.close()
