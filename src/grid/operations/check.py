"""`grid check`: acceptance checks of the running cluster, per node (also the end of `grid up`/`grid apply`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grid.check import NodeReport, run_checks
from grid.errors import OperationFailed
from grid.reachability import probes, run_probes
from grid.resources import ResourceGraph
from grid.state.model import State
from grid.workspace import Workspace, graph_for

NodeShown = Callable[[NodeReport], None]
"""Sees each node's report as it comes."""


@dataclass(frozen=True)
class Checks:
    cluster: str
    nodes: tuple[NodeReport, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.nodes)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "nodes": [r.to_dict() for r in self.nodes]}


def check(ws: Workspace, *, on_node: NodeShown | None = None) -> Checks:
    _, state = ws.read_state()
    return check_after_apply(ws, state, graph_for(ws, state), on_node=on_node)


def check_after_apply(ws: Workspace, state: State, graph: ResourceGraph, *,
                      on_node: NodeShown | None = None) -> Checks:
    """The checks against a state and expansion the caller has (an apply just made them)."""
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
        reports = run_checks(graph, state, remote)
        # The network policy: a declared port gets through from a peer, an undeclared one does not.
        run_probes(probes(ws.cluster, graph, set(state.resources)), remote, {r.address: r for r in reports})
        for report in reports:
            if on_node:
                on_node(report)
        return Checks(ws.cluster.name, tuple(reports))
    finally:
        remote.close()
