"""Which failing nodes of a pool may be taken out of service now, and when grid must stop instead.

A pool may have at most `max_unhealthy` of its nodes out of service at once (grid.spec.lifecycle.Health).
Nodes already out (quarantined earlier, as state records them) count against it; newly failing nodes are
taken out by index until the limit is reached. When the nodes failing and out together exceed it, grid
stops after that: so many failures at once are more likely a fabric outage or a bug in grid (or in its
checks) than dead machines, and taking the pool apart would make it worse. Pure: the caller gives the facts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from grid.plan.waves import node_order
from grid.spec.lifecycle import Health, allowed_nodes, share_text

MASS_FAILURE = "a mass failure is more likely a fabric outage or a grid bug"


@dataclass(frozen=True, slots=True)
class QuarantineDecision:
    """What to do about one pool's failing nodes (node addresses, by index)."""

    quarantine: tuple[str, ...]
    """Newly failing nodes to drain and record as quarantined now (on_failure quarantine or replace)."""
    left_in_service: tuple[str, ...]
    """Newly failing nodes left as they are: reported only, or beyond the limit."""
    stop: bool
    """Failing and out together exceed max_unhealthy: grid takes out what the limit allows, then stops."""
    limit: int
    """Nodes the pool may have out of service at once."""
    message: str


def decide_quarantine(health: Health | None, pool_size: int, out: Iterable[str],
                      failing: Iterable[str]) -> QuarantineDecision:
    """What to do with `failing` nodes of a pool of `pool_size` whose nodes `out` are out of service already.
    Without `health` the pool reports (the default policy)."""
    policy = health if health is not None else Health()
    already = set(out)
    new = sorted(set(failing) - already, key=node_order)
    limit = allowed_nodes(policy.max_unhealthy, pool_size)
    unhealthy = len(already) + len(new)
    stop = unhealthy > limit
    if policy.on_failure == "report":
        take: list[str] = []
    else:
        take = new[:max(0, limit - len(already))]
    kept = tuple(address for address in new if address not in take)
    what = "failing" if not already else "failing or out"
    allowed = f"max_unhealthy {share_text(policy.max_unhealthy, pool_size)}"
    if stop:
        message = f"{unhealthy} of {pool_size} {what} > {allowed}: stopping — {MASS_FAILURE}"
    elif not new:
        message = f"no node newly failing ({len(already)} of {pool_size} out of service, {allowed})"
    elif policy.on_failure == "report":
        message = f"{len(new)} of {pool_size} failing: reported only (on_failure: report)"
    else:
        message = f"{unhealthy} of {pool_size} {what} ≤ {allowed}: {policy.on_failure} {_names(take)}"
    return QuarantineDecision(tuple(take), kept, stop, limit, message)


def _names(addresses: list[str]) -> str:
    return ", ".join(address.rsplit("/", 1)[-1] for address in addresses)
