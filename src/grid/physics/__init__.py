"""AI-datacenter physics: what a cluster draws, delivers and needs from the building.

Pure functions of the spec and the accelerator catalog (the packaged catalog is the only file read, once):
`summarize` → `CapacitySummary` (per region and total), `compare` → `CapacityDelta`,
`fabric_capacity` for switched fabrics, `cluster_dot` for a Graphviz diagram. Formulas: docs/physics.md.
"""

from __future__ import annotations

from grid.physics.capacity import (
    CapacitySummary,
    PoolLoad,
    RegionCapacity,
    annual_mwh,
    empty_summary,
    fabric_aggregate_gbps,
    node_power_w,
    pool_load,
    region_capacity,
    summarize,
    tco2_per_year,
)
from grid.physics.catalog import (
    CPU_MODEL,
    AcceleratorSpec,
    Catalog,
    CatalogError,
    default_catalog,
    load_catalog,
    parse_catalog,
    read_catalog,
)
from grid.physics.delta import CapacityDelta, FigureDelta, RowDelta, compare
from grid.physics.fabric import clos_capacity, fabric_capacity, fabric_endpoints
from grid.physics.graph import cluster_dot

__all__ = [
    "CPU_MODEL", "AcceleratorSpec", "CapacityDelta", "CapacitySummary", "Catalog", "CatalogError",
    "FigureDelta", "PoolLoad", "RegionCapacity", "RowDelta", "annual_mwh", "clos_capacity", "cluster_dot",
    "compare", "default_catalog", "empty_summary", "fabric_aggregate_gbps", "fabric_capacity",
    "fabric_endpoints", "load_catalog", "node_power_w", "parse_catalog", "pool_load", "read_catalog",
    "region_capacity", "summarize", "tco2_per_year",
]
