"""What a cluster draws and delivers: pure functions over the spec and the catalog, O(pools).

Formulas (units in the names):
- node_w           = accelerators_per_node * tdp_w + host_overhead_w
                     (a pool's host_overhead_w overrides the catalog's)
- pool it_w        = count * node_w
- rack_kw          = min(nodes_per_rack, count) * node_w / 1000;  racks = ceil(count / nodes_per_rack)
- peak_pflops      = count * accelerators_per_node * bf16_tflops / 1000
- region it_mw     = Σ pool it_w / 1e6;  facility_mw = it_mw * PUE;  headroom_mw = power_mw - facility_mw
- annual_mwh       = facility_mw * 8760 h * energy.utilization
- tco2_per_year    = annual_mwh * grid_carbon_g_per_kwh * (1 - renewable_fraction) / 1000
                     (MWh * 1000 kWh/MWh * g/kWh = g; g / 1e6 = t  ⇒  MWh * g/kWh / 1000 = t)

Unknown stays unknown: a figure that needs what the spec does not say (a site without
`grid_carbon_g_per_kwh`, a model not in the catalog, a cloud region without a `site`: no PUE, no budget) is
`None`, never 0, and so is any sum over it.
Figures are kept as computed; views round them once, when they print them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from grid.physics.catalog import CPU_MODEL, Catalog, default_catalog
from grid.spec.model import Cluster, Pool, Region

HOURS_PER_YEAR = 8760


@dataclass(frozen=True, slots=True)
class PoolLoad:
    """The physical figures of one pool (all nodes of a pool are alike)."""

    model: str
    nodes: int
    accelerators_per_node: int
    node_w: float
    nodes_per_rack: int
    tflops_per_accelerator: float

    @property
    def accelerators(self) -> int:
        return self.nodes * self.accelerators_per_node

    @property
    def it_w(self) -> float:
        return self.nodes * self.node_w

    @property
    def rack_kw(self) -> float:
        """Power of the fullest rack: a pool smaller than a rack fills only part of one."""
        return min(self.nodes_per_rack, self.nodes) * self.node_w / 1000

    @property
    def racks(self) -> int:
        return math.ceil(self.nodes / self.nodes_per_rack)

    @property
    def peak_pflops(self) -> float:
        return self.accelerators * self.tflops_per_accelerator / 1000


def pool_model(pool: Pool) -> str:
    return pool.accelerator.model if pool.accelerator else CPU_MODEL


def pool_load(pool: Pool, catalog: Catalog | None = None) -> PoolLoad | None:
    """Figures for `pool`, or `None` when its accelerator model is not in the catalog."""
    entry = (catalog or default_catalog()).get(pool_model(pool))
    if entry is None:
        return None
    per_node = pool.accelerator.per_node if pool.accelerator else 0
    host_w = entry.host_overhead_w if pool.host_overhead_w is None else pool.host_overhead_w
    return PoolLoad(pool_model(pool), pool.count, per_node, node_power_w(per_node, entry.tdp_w, host_w),
                    pool.nodes_per_rack, entry.bf16_tflops)


def node_power_w(accelerators: int, tdp_w: float, host_overhead_w: float) -> float:
    return accelerators * tdp_w + host_overhead_w


def annual_mwh(facility_mw: float, utilization: float) -> float:
    return facility_mw * HOURS_PER_YEAR * utilization


def tco2_per_year(mwh: float | None, grid_carbon_g_per_kwh: float | None,
                  renewable_fraction: float) -> float | None:
    """None when the energy or the site's carbon intensity is unknown."""
    if mwh is None or grid_carbon_g_per_kwh is None:
        return None
    return mwh * grid_carbon_g_per_kwh * (1 - renewable_fraction) / 1000


def known_sum(values: Iterable[float | None]) -> float | None:
    """The sum, or None when any term is unknown (a partial sum would read as the whole)."""
    total = 0.0
    for value in values:
        if value is None:
            return None
        total += value
    return total


@dataclass(frozen=True, slots=True)
class RegionCapacity:
    """One row of the capacity summary: a region, or the cluster total (name `total`)."""

    name: str
    province: str
    nodes: int
    accelerators: tuple[tuple[str, int], ...]  # (model, count), sorted by model; CPU-only nodes not listed
    racks: int
    # None: unknown (a model not in the catalog; for tco2 also a site without a carbon intensity)
    peak_pflops: float | None
    it_mw: float | None
    facility_mw: float | None
    power_budget_mw: float | None  # None: a cloud region without a site (no budget given)
    headroom_mw: float | None
    annual_mwh: float | None
    tco2_per_year: float | None
    unknown_models: tuple[str, ...] = ()

    @property
    def accelerator_count(self) -> int:
        return sum(n for _, n in self.accelerators)

    @property
    def over_budget(self) -> bool:
        return (self.facility_mw is not None and self.power_budget_mw is not None
                and self.facility_mw > self.power_budget_mw)

    def figures(self) -> dict[str, float | None]:
        """The numeric figures by name (None: unknown), as `compare` and the JSON view use them."""
        return {
            "nodes": self.nodes, "accelerators": self.accelerator_count, "racks": self.racks,
            "peak_pflops": self.peak_pflops, "it_mw": self.it_mw, "facility_mw": self.facility_mw,
            "power_budget_mw": self.power_budget_mw, "headroom_mw": self.headroom_mw,
            "annual_mwh": self.annual_mwh, "tco2_per_year": self.tco2_per_year,
        }

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.province:
            out["province"] = self.province
        out.update(self.figures())  # as computed: the views round once, when they print
        out["accelerators_by_model"] = dict(self.accelerators)
        if self.unknown_models:
            out["unknown_models"] = list(self.unknown_models)
        return out


@dataclass(frozen=True, slots=True)
class CapacitySummary:
    regions: tuple[RegionCapacity, ...]
    total: RegionCapacity
    utilization: float

    def region(self, name: str) -> RegionCapacity | None:
        return next((r for r in self.regions if r.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {"utilization": self.utilization, "regions": [r.to_dict() for r in self.regions],
                "total": self.total.to_dict()}


def region_capacity(region: Region, utilization: float, catalog: Catalog | None = None) -> RegionCapacity:
    site = region.site
    loads, unknown = [], []
    for pool in region.pools:
        load = pool_load(pool, catalog)
        if load is None:
            unknown.append(pool_model(pool))
        else:
            loads.append(load)
    by_model: dict[str, int] = {}
    for load in loads:
        if load.accelerators:
            by_model[load.model] = by_model.get(load.model, 0) + load.accelerators
    # A pool of a model the catalog lacks draws an unknown power: every figure built on power is unknown.
    known = not unknown
    it_mw = sum(load.it_w for load in loads) / 1e6 if known else None
    # Without a site (a public cloud region) the PUE, budget and carbon are the cloud's: unknown, never 0.
    facility_mw = it_mw * site.pue if it_mw is not None and site is not None else None
    mwh = annual_mwh(facility_mw, utilization) if facility_mw is not None else None
    budget = site.power_mw if site is not None else None
    return RegionCapacity(
        name=region.name, province=site.province if site else "", nodes=sum(p.count for p in region.pools),
        accelerators=tuple(sorted(by_model.items())),
        racks=sum(math.ceil(p.count / p.nodes_per_rack) for p in region.pools),
        peak_pflops=sum(load.peak_pflops for load in loads) if known else None, it_mw=it_mw,
        facility_mw=facility_mw, power_budget_mw=budget,
        headroom_mw=budget - facility_mw if facility_mw is not None and budget is not None else None,
        annual_mwh=mwh, tco2_per_year=None if site is None else tco2_per_year(
            mwh, site.grid_carbon_g_per_kwh, site.renewable_fraction),
        unknown_models=tuple(sorted(set(unknown))),
    )


def summarize(cluster: Cluster, catalog: Catalog | None = None) -> CapacitySummary:
    """Per-region and total figures. Nodes of an unknown accelerator model count as nodes; the power,
    compute and energy of their region (and of the total) are unknown (None)."""
    utilization = cluster.spec.energy.utilization
    rows = tuple(region_capacity(r, utilization, catalog) for r in cluster.spec.regions)
    return CapacitySummary(rows, total_row(rows), utilization)


def total_row(rows: tuple[RegionCapacity, ...]) -> RegionCapacity:
    by_model: dict[str, int] = {}
    for row in rows:
        for model, count in row.accelerators:
            by_model[model] = by_model.get(model, 0) + count
    return RegionCapacity(
        name="total", province="", nodes=sum(r.nodes for r in rows),
        accelerators=tuple(sorted(by_model.items())),
        racks=sum(r.racks for r in rows), peak_pflops=known_sum(r.peak_pflops for r in rows),
        it_mw=known_sum(r.it_mw for r in rows), facility_mw=known_sum(r.facility_mw for r in rows),
        power_budget_mw=known_sum(r.power_budget_mw for r in rows),
        headroom_mw=known_sum(r.headroom_mw for r in rows),
        annual_mwh=known_sum(r.annual_mwh for r in rows), tco2_per_year=known_sum(r.tco2_per_year for r in rows),
        unknown_models=tuple(sorted({m for r in rows for m in r.unknown_models})),
    )


def empty_summary() -> CapacitySummary:
    """The figures of nothing built."""
    return CapacitySummary((), total_row(()), 0.0)


def fabric_aggregate_gbps(region: Region, kinds: frozenset[str] = frozenset({"roce", "infiniband"})) -> float:
    """Injection bandwidth of a region's compute fabrics: Σ nodes * ports_per_node * speed_gbps."""
    fabrics: Mapping[str, tuple[float, int]] = {
        f.name: (f.speed_gbps, f.ports_per_node) for f in region.fabrics if f.kind in kinds}
    total = 0.0
    for pool in region.pools:
        for name in dict.fromkeys(pool.fabrics):
            if name in fabrics:
                speed, ports = fabrics[name]
                total += pool.count * ports * speed
    return total
