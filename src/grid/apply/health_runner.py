"""`run_suite`: a health suite (grid.health) run over pinned SSH on the nodes of a running cluster, as the
acceptance checks reach them (the cluster key, the known_hosts of the state's host keys, each node's connect
address). Here rather than in grid.health because it needs the workspace, identity and SSH driver, which sit above
grid.health in the layers; what it returns is grid.health.runner's (re-exported here)."""

from __future__ import annotations

from collections.abc import Callable, Collection

from grid.health.runner import HealthReport, NodeHealth, NodeTarget, check_nodes
from grid.health.suites import Suite
from grid.resources import Kind, ResourceGraph, connect_ip
from grid.state.model import State
from grid.workspace import Workspace

__all__ = ["HealthReport", "NodeHealth", "node_targets", "run_suite"]


def node_targets(graph: ResourceGraph, state: State, nodes: Collection[str] | None = None) -> list[NodeTarget]:
    """The graph's nodes that state records (only `nodes`, when given), in the graph's order."""
    wanted = set(nodes) if nodes is not None else None
    targets = []
    for node in graph.of_kind(Kind.NODE):
        if node.address not in state.resources or (wanted is not None and node.address not in wanted):
            continue
        model = str(node.attrs.get("accelerator") or "cpu")
        targets.append(NodeTarget(node.address, str(node.attrs["hostname"]), connect_ip(node),
                                  None if model == "cpu" else model, int(node.attrs.get("accelerators") or 0)))
    return targets


def run_suite(ws: Workspace, state: State, graph: ResourceGraph, suite: Suite, *,
              nodes: Collection[str] | None = None,
              on_node: Callable[[NodeHealth], None] | None = None) -> HealthReport:
    """Runs `suite` on every node of `state` (or only `nodes`) in parallel and judges each node."""
    from grid.apply.configure import refresh_known_hosts
    from grid.drivers.ssh import PinnedRemote
    from grid.errors import OperationFailed
    from grid.identity import find_keypair

    keys = find_keypair(ws.workdir)
    if keys is None or not state.resources:
        raise OperationFailed(f"cluster {ws.cluster.name} is not up", hint=f"run `grid up {ws.spec_path}`")
    known_hosts = refresh_known_hosts(ws.workdir, state)
    ssh = ws.cluster.spec.defaults.ssh
    remote = PinnedRemote(user=ssh.user, private_key=keys.private_path, also=keys.also, known_hosts=known_hosts,
                          port=ssh.port)
    try:
        return check_nodes(node_targets(graph, state, nodes), suite, remote, on_node=on_node)
    finally:
        remote.close()
