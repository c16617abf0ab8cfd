"""The agent's real seams: git for the spec, grid's operations for acting, the state backend for leases and
heartbeats (tests give grid.agent.loop.Agent fakes instead)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from grid.agent.config import AgentConfig
from grid.agent.heartbeat import AgentRecord, agents, heartbeat
from grid.agent.lease import AgentLease
from grid.agent.loop import AgentEvent, Lease, Metrics, Seams
from grid.agent.policy import GridActor
from grid.agent.source import SpecSource
from grid.workspace import Rejected, Workspace, open_workspace


class StateRegistry:
    """Heartbeats in the cluster's state backend (a grid_agent row, or agents/<name>.json beside state.json)."""

    def __init__(self, config: AgentConfig) -> None:
        self._state = config.state

    def heartbeat(self, ws: Workspace, record: AgentRecord) -> None:
        heartbeat(self._state, ws.workdir, ws.cluster.name, record)

    def agents(self, ws: Workspace) -> list[AgentRecord]:
        return agents(self._state, ws.workdir, ws.cluster.name)


def real_seams(config: AgentConfig, *, log: Callable[[AgentEvent], None],
               metrics: Metrics | None = None) -> Seams:
    def open_spec(spec: Path) -> Workspace | Rejected:
        return open_workspace(spec, workdir=config.workdir, state=config.state,
                              regions=config.regions or None)

    def lease_for(ws: Workspace, region: str) -> Lease:
        return AgentLease(config.state, ws.workdir, ws.cluster.name, region, config.name, config.lease_seconds)

    return Seams(source=SpecSource(config), actor=GridActor(config), open_spec=open_spec, lease_for=lease_for,
                 registry=StateRegistry(config), metrics=metrics, log=log)
