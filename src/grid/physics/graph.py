"""A Graphviz DOT diagram of a cluster: regions with their power budget, pools, fabrics, storage, links.

Pure and deterministic: the same spec and summary always give the same text (spec order throughout).
"""

from __future__ import annotations

import math

from grid.physics.capacity import CapacitySummary, RegionCapacity
from grid.physics.units import LINK, UNKNOWN, X, num
from grid.spec.model import Cluster, Fabric, Pool, Region, Storage

OVER = "#c62828"
NEAR = "#ef6c00"
OK = "#2e7d32"
NEAR_FRACTION = 0.9
POOL_FILL = {"accelerated": "#e3f2fd", "cpu": "#f5f5f5"}


def quote(text: str) -> str:
    """A DOT double-quoted string; `\\n` in `text` stays a DOT line break."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**values: str | float) -> str:
    parts = []
    for key, value in values.items():
        parts.append(f"{key}={quote(value) if isinstance(value, str) else f'{value:g}'}")
    return "[" + ", ".join(parts) + "]"


def _colour(row: RegionCapacity | None) -> str:
    if row is None:
        return OK
    if row.over_budget:
        return OVER
    near = (row.facility_mw is not None and row.power_budget_mw is not None
            and row.facility_mw > NEAR_FRACTION * row.power_budget_mw)
    return NEAR if near else OK


def _mw(value: float | None) -> str:
    """Megawatts, or kilowatts below 1 MW so small labs read naturally; a dash when unknown."""
    if value is None:
        return f"{UNKNOWN} MW"
    return f"{num(value)} MW" if abs(value) >= 1 else f"{num(value * 1000)} kW"


def _whole(value: float | None) -> str:
    return UNKNOWN if value is None else f"{value:,.0f}"


def _num(value: float | None) -> str:
    return UNKNOWN if value is None else num(value)


def _bandwidth(gbps: float) -> str:
    return f"{num(gbps / 1000, 4)} Tbps" if gbps >= 1000 else f"{num(gbps, 4)} Gbps"


def _region_label(region: Region, row: RegionCapacity | None) -> str:
    site = region.site
    title = f"{region.name} — {site.province}" if site is not None and site.province else region.name
    if row is None:
        return f"{title}\nbudget {_mw(site.power_mw if site is not None else None)}"
    headroom = _mw(None if row.headroom_mw is None else abs(row.headroom_mw))
    state = f"OVER BUDGET by {headroom}" if row.over_budget else f"headroom {headroom}"
    return (f"{title}\nbudget {_mw(row.power_budget_mw)} · facility {_mw(row.facility_mw)} · {state}\n"
            f"{row.nodes:,} nodes · {row.accelerator_count:,} accelerators · {_num(row.peak_pflops)} PFLOPS")


def _site_label(region: Region, row: RegionCapacity | None) -> str:
    site = region.site
    if site is None:  # a cloud region: the building, its cooling and its power are the cloud's
        lines = ["site: the cloud's (no budget, PUE or carbon given)"]
        if row is not None:
            lines.append(f"IT {_mw(row.it_mw)} · {_whole(row.annual_mwh)} MWh/yr · "
                         f"{_whole(row.tco2_per_year)} tCO2/yr")
        return "\n".join(lines)
    carbon = UNKNOWN if site.grid_carbon_g_per_kwh is None else f"{site.grid_carbon_g_per_kwh:g}"
    lines = [f"site: {site.cooling} cooled, PUE {site.pue:g}, ≤ {site.rack_kw_max:g} kW/rack",
             f"{site.renewable_fraction:.0%} renewable · {carbon} gCO2/kWh"]
    if row is not None:
        lines.append(f"IT {_mw(row.it_mw)} · {_whole(row.annual_mwh)} MWh/yr · {_whole(row.tco2_per_year)} tCO2/yr")
    return "\n".join(lines)


def _pool_label(pool: Pool) -> str:
    if pool.accelerator is None or pool.accelerator.per_node == 0:
        what = f"{pool.count:,} {X} CPU-only"
    else:
        what = f"{pool.count:,} {X} {pool.accelerator.per_node} {pool.accelerator.model}"
    return f"{pool.name}\n{what}\n{', '.join(pool.roles)}"


def _fabric_label(fabric: Fabric) -> str:
    ports = f"{fabric.kind} {fabric.speed_gbps:g}G {X} {fabric.ports_per_node} · MTU {fabric.mtu}"
    lines = [fabric.name, ports, fabric.cidr]
    if fabric.topology is not None:
        t = fabric.topology
        lines.append(f"{t.kind} k={t.switch_radix} tiers={t.tiers} {t.oversubscription:g}:1")
    return "\n".join(lines)


def _storage_label(storage: Storage) -> str:
    protect = " · protected" if storage.protect else ""
    size = "size unknown" if storage.capacity_tib is None else f"{storage.capacity_tib:,g} TiB"  # never 0
    paths = ", ".join(m.path for m in storage.all_mounts)
    return f"{storage.name}\n{storage.kind} {size}\n{paths}{protect}"


def _region_lines(region: Region, row: RegionCapacity | None) -> list[str]:
    r = region.name
    colour = _colour(row)
    box = _attrs(label=_region_label(region, row), color=colour, fontcolor=colour, style="rounded",
                 fontsize=13, penwidth=3 if colour == OVER else 1.5)
    out = [f"  subgraph {quote('cluster_' + r)} {{", f"    graph {box};",
           f"    {quote(r)} {_attrs(shape='note', label=_site_label(region, row), color=colour)};"]
    for pool in region.pools:
        kind = "cpu" if pool.accelerator is None else "accelerated"
        box = _attrs(shape="box", style="rounded,filled", fillcolor=POOL_FILL[kind], label=_pool_label(pool))
        out.append(f"    {quote(r + '/' + pool.name)} {box};")
    for fabric in region.fabrics:
        hexagon = _attrs(shape="hexagon", style="filled", fillcolor="#fff8e1", label=_fabric_label(fabric))
        out.append(f"    {quote(r + '/fabric/' + fabric.name)} {hexagon};")
    for storage in region.storage:
        cylinder = _attrs(shape="cylinder", style="filled", fillcolor="#ede7f6",
                          label=_storage_label(storage))
        out.append(f"    {quote(r + '/storage/' + storage.name)} {cylinder};")
    fabrics = {f.name for f in region.fabrics}
    stores = {s.name for s in region.storage}
    for pool in region.pools:
        for name in dict.fromkeys(pool.fabrics):
            if name in fabrics:
                out.append(f"    {quote(r + '/' + pool.name)} -> {quote(r + '/fabric/' + name)};")
        for name in dict.fromkeys(pool.storage):
            if name in stores:
                target = quote(r + "/storage/" + name)
                out.append(f"    {quote(r + '/' + pool.name)} -> {target} [style=dashed];")
    out.append("  }")
    return out


def _sources(region: Region) -> list[str]:
    """Nodes of a region with no edge into them: they sit in the region's first rank."""
    used = {name for pool in region.pools for name in (*pool.fabrics, *pool.storage)}
    r = region.name
    return ([r] + [f"{r}/{p.name}" for p in region.pools]
            + [f"{r}/fabric/{f.name}" for f in region.fabrics if f.name not in used]
            + [f"{r}/storage/{s.name}" for s in region.storage if s.name not in used])


def _grid_lines(regions: list[Region]) -> list[str]:
    """Lay regions out in ⌈√n⌉ columns (left to right, in spec order) instead of one long diagonal."""
    columns = max(1, math.ceil(math.sqrt(len(regions))))
    out = []
    for col in range(min(columns, len(regions))):
        members = [node for region in regions[col::columns] for node in _sources(region)]
        out.append(f"  {quote(f'_column{col}')} [style=invis, shape=point, width=0];")
        out.append("  { rank=same; " + "; ".join(quote(n) for n in [f"_column{col}", *members]) + "; }")
        if col:
            out.append(f"  {quote(f'_column{col - 1}')} -> {quote(f'_column{col}')} [style=invis, minlen=3];")
    return out


def cluster_dot(cluster: Cluster, summary: CapacitySummary | None = None) -> str:
    """DOT text: one box per region (red when over its power budget), pools, fabrics, storage, links."""
    total = summary.total if summary else None
    title = cluster.name
    if total is not None:
        title += (f" — {total.nodes:,} nodes, {total.accelerator_count:,} accelerators, "
                  f"{_num(total.peak_pflops)} PFLOPS peak BF16, facility {_mw(total.facility_mw)} "
                  f"of {_mw(total.power_budget_mw)}, {_whole(total.tco2_per_year)} tCO2/yr")
    graph = _attrs(label=title, labelloc="t", fontsize=18, fontname="Helvetica", rankdir="LR",
                   compound="true", newrank="true", nodesep=0.25, ranksep=0.5)
    lines = [f"digraph {quote(cluster.name)} {{", f"  graph {graph};",
             f"  node {_attrs(fontname='Helvetica', fontsize=10)};",
             f"  edge {_attrs(fontname='Helvetica', fontsize=9, color='#607d8b')};"]
    for region in cluster.spec.regions:
        lines.extend(_region_lines(region, summary.region(region.name) if summary else None))
    lines.extend(_grid_lines(cluster.spec.regions))
    names = {r.name for r in cluster.spec.regions}
    for link in cluster.spec.links:
        a, b = link.between
        if a in names and b in names and a != b:
            label = f"{a}{LINK}{b}\n{_bandwidth(link.bandwidth_gbps)} · {link.latency_ms:g} ms"
            edge = _attrs(dir="none", constraint="false", penwidth=2, color="#1565c0", fontcolor="#1565c0",
                          label=label, ltail="cluster_" + a, lhead="cluster_" + b)
            lines.append(f"  {quote(a)} -> {quote(b)} {edge};")
    lines.append("}")
    return "\n".join(lines) + "\n"
