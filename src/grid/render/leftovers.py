"""What the nodes may still hold from the spec as last applied that the spec now being applied has no more:
grid's nftables rules, its limits.d file, the name service (dnsmasq, grid's resolv.conf). The playbook removes
them only then, so that a cluster which never had them pays no task for their removal on every run.

Read from the state (State.applied_spec, the JSON form of the last applied spec): a run that did not finish
(no spec recorded as applied while hosts exist, a host not configured) may have left any, so then all are
assumed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # render is imported by validate: the state package stays unloaded until a run needs it
    from grid.state.model import State


@dataclass(frozen=True)
class Leftovers:
    network_policy: bool = False  # grid's rules (table inet grid, /etc/nftables.conf)
    limits: bool = False  # grid's limits.d file
    names: bool = False  # the name service: dnsmasq and its files, grid's resolv.conf (grid.render.names)


NO_LEFTOVERS = Leftovers()
EVERY_LEFTOVER = Leftovers(network_policy=True, limits=True, names=True)
UNFINISHED = ("pending", "failed")
"""Host statuses of a run that did not finish: the spec it was applying (not recorded) may have reached the node."""


def leftovers_of(state: State) -> Leftovers:
    """What the nodes of `state` may hold from the spec last applied there."""
    if not state.hosts:
        return NO_LEFTOVERS
    applied = state.applied_spec
    if not isinstance(applied, Mapping) or any(h.status in UNFINISHED for h in state.hosts.values()):
        return EVERY_LEFTOVER
    return Leftovers(network_policy=_had_policy(applied), limits=_had_limits(applied), names=_had_dns(applied))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _had_policy(applied: Mapping[str, Any]) -> bool:
    """grid.spec.network.declares_policy of the applied spec's JSON form."""
    spec = _mapping(applied.get("spec"))
    if _mapping(spec.get("access")).get("admin_cidrs") is not None:
        return True
    return any(_mapping(fabric).get("ingress") is not None
               for region in _list(spec.get("regions")) for fabric in _list(_mapping(region).get("fabrics")))


def _had_limits(applied: Mapping[str, Any]) -> bool:
    spec = _mapping(applied.get("spec"))
    if _mapping(_mapping(spec.get("configuration")).get("limits")):
        return True
    return any(_mapping(_mapping(_mapping(pool).get("configuration")).get("limits"))
               for region in _list(spec.get("regions")) for pool in _list(_mapping(region).get("pools")))


def _had_dns(applied: Mapping[str, Any]) -> bool:
    """Whether the applied spec's nodes served names (grid.render.names.served_by_nodes of its JSON form). A lab
    spec applied without `names` before dns became its default counts as dns: the removal then finds nothing and
    changes nothing. A cloud's private zone left nothing on the nodes to remove (its stack removes the zone)."""
    from grid.render.names import DNS  # the resource graph with it: `grid validate` loads neither
    from grid.spec.targets import TARGET_TRAITS, default_names

    spec = _mapping(applied.get("spec"))
    target = str(spec.get("target"))
    traits = TARGET_TRAITS.get(target)
    if traits is None or not traits.name_service:
        return False
    given = _mapping(spec.get("configuration")).get("names")
    return (given or default_names(target, scheduler=spec.get("scheduler") is not None)) == DNS
