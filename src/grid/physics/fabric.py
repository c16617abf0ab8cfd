"""How many endpoints (host ports) a switched fabric can hold.

A t-tier folded Clos (fat-tree, leaf-spine; rail-optimized fabrics are built of the same blocks) of
switches with k ports:

- 1 tier (one switch):       k endpoints.
- t ≥ 2 tiers, non-blocking: every switch below the top uses k/2 ports down and k/2 up; the top tier
  uses all k ports down. That gives 2·(k/2)^(t-1) leaves of k/2 endpoints each:
  2·(k/2)^t endpoints — k²/2 for 2 tiers, k³/4 for 3 tiers.
- oversubscription o (down:up bandwidth at the leaf, o ≥ 1): a leaf gives ⌊k·o/(1+o)⌋ ports to hosts
  and k/(1+o) to uplinks; the tiers above are unchanged, so
  endpoints = 2·(k/2)^(t-1) · ⌊k·o/(1+o)⌋   (o = 1 gives back 2·(k/2)^t).

`single-switch` is one switch of radix k whatever `tiers` says.
"""

from __future__ import annotations

from grid.spec.model import Region, Topology

COMMON_RADICES = (32, 48, 64, 128, 256, 512, 1024)
MAX_TIERS = 3


def fabric_capacity(topology: Topology) -> int:
    """Endpoints (host-facing ports) the topology can connect."""
    k = topology.switch_radix
    tiers = 1 if topology.kind == "single-switch" else topology.tiers
    return clos_capacity(k, tiers, topology.oversubscription)


def clos_capacity(radix: int, tiers: int, oversubscription: float = 1.0) -> int:
    if tiers <= 1:
        return radix
    leaves: int = 2 * (radix // 2) ** (tiers - 1)
    down = int(radix * oversubscription / (1 + oversubscription) + 1e-9)
    return leaves * down


def fabric_endpoints(region: Region, fabric: str) -> int:
    """Σ nodes * ports_per_node over the region's pools attached to `fabric`."""
    ports = next((f.ports_per_node for f in region.fabrics if f.name == fabric), 0)
    return sum(p.count * ports for p in region.pools if fabric in p.fabrics)


def describe(topology: Topology) -> str:
    if topology.kind == "single-switch" or topology.tiers == 1:
        return f"a single switch of radix {topology.switch_radix}"
    over = "" if topology.oversubscription == 1 else f", {topology.oversubscription:g}:1 oversubscribed"
    return f"a {topology.tiers}-tier {topology.kind} of radix {topology.switch_radix}{over}"


def suggest(topology: Topology, endpoints: int) -> str:
    """A topology change that fits `endpoints`: more tiers, a larger radix, or a split."""
    k, o = topology.switch_radix, topology.oversubscription
    tiers = 1 if topology.kind == "single-switch" else topology.tiers
    options = []
    for more in range(tiers + 1, MAX_TIERS + 1):
        if clos_capacity(k, more, o) >= endpoints:
            kind = "kind: fat-tree, " if topology.kind == "single-switch" else ""
            options.append(f"{kind}tiers: {more} (holds {clos_capacity(k, more, o):,})")
            break
    for radix in COMMON_RADICES:
        if radix > k and clos_capacity(radix, tiers, o) >= endpoints:
            options.append(f"switch_radix: {radix} (holds {clos_capacity(radix, tiers, o):,})")
            break
    if options:
        return "use " + " or ".join(options)
    best = clos_capacity(max(COMMON_RADICES[-1], k), MAX_TIERS, o)
    return (f"even a {MAX_TIERS}-tier fat-tree of radix {max(COMMON_RADICES[-1], k)} holds only {best:,}: "
            "split the pools over several fabrics or regions, or use fewer ports per node")
