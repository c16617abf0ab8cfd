"""What an agent measures, in the Prometheus text format (prometheus_client, on a registry of its own).

Every family is per region (an agent may reconcile several); a registry per AgentMetrics, never the process's
global one, so two agents (or tests) in one process do not mix their figures. Nothing here holds a secret:
labels are region, result, node state, agent name and commit.
"""

from __future__ import annotations

import threading
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest

# What render() produces: the classic text format, which every Prometheus (2.x too) scrapes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Apply and reconcile durations: from a no-op (seconds) to a large bring-up (an hour).
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0)


class AgentMetrics:
    """The figures of one agent; `render()` is the /metrics body."""

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._last_reconcile = Gauge(
            "grid_agent_last_reconcile_timestamp_seconds",
            "Unix time the agent last finished a reconcile of the region (whatever its result)",
            ["region"], registry=r)
        self._reconciles = Counter(
            "grid_agent_reconcile",
            "Reconciles of the region the agent finished, by result (applied, no-change, drift, refused, failed...)",
            ["region", "result"], registry=r)
        self._reconcile_seconds = Histogram(
            "grid_agent_reconcile_duration_seconds",
            "Wall time of a whole reconcile of the region: fetch, validate, plan and act",
            ["region"], buckets=DURATION_BUCKETS, registry=r)
        self._drift_found = Counter(
            "grid_agent_drift_found", "Differences between the spec and the machines found by drift checks",
            ["region"], registry=r)
        self._drift_repaired = Counter(
            "grid_agent_drift_repaired", "Differences found by drift checks that the agent repaired",
            ["region"], registry=r)
        self._apply_seconds = Histogram(
            "grid_agent_apply_duration_seconds", "Wall time of the applies (grid up) the agent ran for the region",
            ["region"], buckets=DURATION_BUCKETS, registry=r)
        self._nodes = Gauge(
            "grid_agent_nodes", "Nodes of the region by state, as of the agent's last reconcile",
            ["region", "state"], registry=r)
        self._quarantined = Gauge(
            "grid_agent_quarantined_nodes", "Nodes of the region taken out of service (quarantined)",
            ["region"], registry=r)
        self._active = Gauge(
            "grid_agent_active", "1 while this agent holds the region's lease and acts for it, 0 on standby",
            ["region"], registry=r)
        self._spec_valid = Gauge(
            "grid_agent_spec_valid", "1 when the newest commit's spec is valid, 0 when it was refused",
            ["region"], registry=r)
        self._info = Info(
            "grid_agent", "The agent and the commit whose spec it last applied to the region",
            ["region"], registry=r)
        self._mutex = threading.Lock()
        self._node_states: dict[str, set[str]] = {}

    def reconcile(self, region: str, result: str, seconds: float) -> None:
        self._reconciles.labels(region=region, result=result).inc()
        self._reconcile_seconds.labels(region=region).observe(max(seconds, 0.0))
        self._last_reconcile.labels(region=region).set(time.time())

    def drift(self, region: str, found: int, repaired: int) -> None:
        self._drift_found.labels(region=region).inc(max(found, 0))
        self._drift_repaired.labels(region=region).inc(max(repaired, 0))

    def apply_seconds(self, region: str, seconds: float) -> None:
        self._apply_seconds.labels(region=region).observe(max(seconds, 0.0))

    def nodes(self, region: str, counts: dict[str, int]) -> None:
        """The region's nodes per state now; a state no longer seen drops to 0 (not left at its old count)."""
        with self._mutex:
            seen = self._node_states.setdefault(region, set())
            for state in seen - counts.keys():
                self._nodes.labels(region=region, state=state).set(0)
            for state, count in counts.items():
                self._nodes.labels(region=region, state=state).set(count)
            seen.update(counts)

    def quarantined(self, region: str, n: int) -> None:
        self._quarantined.labels(region=region).set(n)

    def active(self, region: str, active: bool) -> None:
        self._active.labels(region=region).set(1 if active else 0)

    def commit(self, region: str, sha: str) -> None:
        self._info.labels(region=region).info({"agent": self.agent, "commit": sha})

    def spec_invalid(self, region: str, invalid: bool) -> None:
        self._spec_valid.labels(region=region).set(0 if invalid else 1)

    def render(self) -> bytes:
        return generate_latest(self.registry)


__all__ = ["CONTENT_TYPE", "DURATION_BUCKETS", "AgentMetrics"]
