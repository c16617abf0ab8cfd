"""Validators: does the cluster fit the building — accelerators known, power, racks, cooling, fabric, links.

The building is the user's where the target has a facility (`has_facility`, grid.spec.targets): a region needs
its site there. On a public cloud a site is optional and, given, a power budget; racks and cooling are the
cloud's, so they are not checked there.

Figures come from `grid.physics` (formulas in its module docstrings and docs/physics.md). Every finding
has a `physics.*` code and points at the field to change: the pool count, nodes_per_rack, the fabric
topology, the link bandwidth.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from grid.diagnostics import Diagnostic, error, warning
from grid.physics.capacity import fabric_aggregate_gbps, pool_load, pool_model
from grid.physics.catalog import Catalog, default_catalog
from grid.physics.fabric import describe, fabric_capacity, fabric_endpoints, suggest
from grid.physics.units import LINK, X, num, nums
from grid.spec.model import Cluster, Site
from grid.spec.targets import traits_of
from grid.validate.base import Validator

POWER_WARN_FRACTION = 0.9
"""Facility draw above this share of site power is a WARNING: no room for growth, hot days or failover."""
AIR_RACK_KW_MAX = 40.0
"""Above ~40 kW per rack air cannot carry the heat away (rear-door or direct liquid cooling is needed)."""
LINK_MIN_FRACTION = 0.01
"""A link below 1% of the smaller side's compute-fabric injection bandwidth is a WARNING (docs/physics.md)."""


def check_accelerator_models(cluster: Cluster, catalog: Catalog) -> Iterator[Diagnostic]:
    for ri, region in enumerate(cluster.spec.regions):
        for pi, pool in enumerate(region.pools):
            model = pool_model(pool)
            if catalog.get(model) is not None:
                continue
            # Only a model of the same family is offered: a near name of another accelerator (a100 → h100)
            # would have the user plan with the wrong hardware.
            close = catalog.suggest(model)
            known = ", ".join(catalog.ids())
            hint = (f"did you mean '{close}'? " if close else "") + \
                ("if it is another model, add it to a catalog file the spec names with `spec.catalog` "
                 "(tdp_w, memory_gb, bf16_tflops, host_overhead_w and a source; see docs/catalog.md); "
                 f"the catalog has: {known}")
            yield error(f"accelerator model '{model}' is not in the catalog",
                        ("spec", "regions", ri, "pools", pi, "accelerator", "model"),
                        detail=f"pool '{pool.name}' in region '{region.name}' names a model grid has no "
                               "figures for, so its power and compute cannot be computed",
                        hint=hint, code="physics.accelerator")


def check_sites(cluster: Cluster, catalog: Catalog) -> Iterator[Diagnostic]:
    """A target with a facility (the lab's machine, your own data centre) needs each region's site: its power,
    cooling and racks are what the cluster must fit. A public cloud's building is the cloud's: a site there is
    optional, and figures that need one stay unknown."""
    traits = traits_of(cluster)
    if not traits.has_facility:
        return
    for ri, region in enumerate(cluster.spec.regions):
        if region.site is not None:
            continue
        loads = [load for pool in region.pools if (load := pool_load(pool, catalog)) is not None]
        it_mw = sum(load.it_w for load in loads) / 1e6
        # Enough for the pools at the default PUE with the headroom check's margin, at least 0.1 MW.
        power = max(0.1, math.ceil(it_mw * Site.model_fields["pue"].default / POWER_WARN_FRACTION * 10) / 10)
        yield error(f"region '{region.name}' has no site", ("spec", "regions", ri),
                    detail=f"on the {traits.name} target the cluster lives in a building of yours: grid checks "
                           "its power, cooling and racks against the region's site",
                    hint=f"add `site: {{power_mw: {power:g}}}` to region '{region.name}' (the MW the hub may "
                         "draw; pue, cooling and rack_kw_max have defaults, see docs/spec.md)",
                    code="physics.site-missing")


def check_power(cluster: Cluster, catalog: Catalog) -> Iterator[Diagnostic]:
    """A site's power_mw is the building's supply, or on a public cloud a power/quota budget: checked alike."""
    for ri, region in enumerate(cluster.spec.regions):
        site = region.site
        if site is None:
            continue  # no budget given (a cloud region), or reported by check_sites
        loads = [(pi, load) for pi, pool in enumerate(region.pools)
                 if (load := pool_load(pool, catalog)) is not None and load.nodes > 0]
        it_w = sum(load.it_w for _, load in loads)
        facility_mw = it_w / 1e6 * site.pue
        fac, budget = nums(facility_mw, site.power_mw)
        equation = f"IT {num(it_w / 1e6)} MW {X} PUE {site.pue:g} = {fac} MW"
        if facility_mw > site.power_mw:
            pi, top = max(loads, key=lambda item: item[1].it_w)
            others_w = it_w - top.it_w
            fit = max(0, math.floor((site.power_mw * 1e6 / site.pue - others_w) / top.node_w))
            pool = region.pools[pi]
            unchanged = " (other pools unchanged)" if len(loads) > 1 else ""
            yield error(
                f"region '{region.name}' needs {fac} MW of facility power but the site has {budget} MW",
                ("spec", "regions", ri, "pools", pi, "count"),
                detail=f"{equation} > {budget} MW site power; pool '{pool.name}' draws "
                       f"{num(top.it_w / 1e6)} MW IT ({top.nodes:,} nodes {X} {num(top.node_w / 1000)} kW)",
                hint=f"at most {fit:,} of the {top.nodes:,} nodes of pool '{pool.name}' fit{unchanged}, "
                     f"or raise site.power_mw to at least {math.ceil(facility_mw * 10) / 10:g}",
                code="physics.power")
        elif facility_mw > POWER_WARN_FRACTION * site.power_mw:
            share = facility_mw / site.power_mw
            yield warning(
                f"region '{region.name}' uses {share:.0%} of its site power",
                ("spec", "regions", ri, "site", "power_mw"),
                detail=f"{equation} of {budget} MW site power; "
                       f"headroom {num(site.power_mw - facility_mw)} MW",
                hint=f"keep {1 - POWER_WARN_FRACTION:.0%} headroom for growth, failover and hot days: "
                     f"power_mw ≥ {math.ceil(facility_mw / POWER_WARN_FRACTION * 10) / 10:g}, or fewer nodes",
                code="physics.power-headroom")


def check_racks(cluster: Cluster, catalog: Catalog) -> Iterator[Diagnostic]:
    """Rack density and air cooling, where the user owns the racks (a public cloud's are the cloud's:
    grid.validate.fit says a nodes_per_rack, cooling or rack_kw_max given there is ignored)."""
    if not traits_of(cluster).has_facility:
        return
    for ri, region in enumerate(cluster.spec.regions):
        site = region.site
        if site is None:
            continue
        for pi, pool in enumerate(region.pools):
            load = pool_load(pool, catalog)
            if load is None or load.nodes == 0 or load.node_w <= 0:
                continue
            path = ("spec", "regions", ri, "pools", pi, "nodes_per_rack")
            node_kw = load.node_w / 1000
            per_rack = min(pool.nodes_per_rack, pool.count)
            rack = f"{per_rack} nodes {X} {num(node_kw)} kW = {num(load.rack_kw)} kW per rack"
            if load.rack_kw > site.rack_kw_max:
                fit = math.floor(site.rack_kw_max / node_kw)
                hint = (f"set nodes_per_rack: {fit} ({num(fit * node_kw)} kW) or raise site.rack_kw_max to "
                        f"at least {math.ceil(load.rack_kw):g}" if fit >= 1 else
                        f"one node draws {num(node_kw)} kW, more than a whole rack may: "
                        f"raise site.rack_kw_max to at least {math.ceil(node_kw):g}")
                yield error(f"pool '{pool.name}' racks draw {num(load.rack_kw)} kW, over the "
                            f"{site.rack_kw_max:g} kW rack limit of region '{region.name}'",
                            path, detail=f"{rack} > rack_kw_max {site.rack_kw_max:g} kW", hint=hint,
                            code="physics.rack-density")
            if site.cooling == "air" and load.rack_kw > AIR_RACK_KW_MAX:
                fit = math.floor(AIR_RACK_KW_MAX / node_kw)
                fewer = f" or nodes_per_rack: {fit} ({num(fit * node_kw)} kW)" if fit >= 1 else ""
                yield error(f"pool '{pool.name}' racks draw {num(load.rack_kw)} kW, more than air cooling "
                            f"removes (~{AIR_RACK_KW_MAX:g} kW per rack)",
                            path, detail=f"{rack} in region '{region.name}', cooled by air",
                            hint=f"use site.cooling: liquid (direct-to-chip or rear-door){fewer}",
                            code="physics.air-cooling")


def check_fabrics(cluster: Cluster) -> Iterator[Diagnostic]:
    for ri, region in enumerate(cluster.spec.regions):
        for fi, fabric in enumerate(region.fabrics):
            if fabric.topology is None:
                continue
            needed = fabric_endpoints(region, fabric.name)
            capacity = fabric_capacity(fabric.topology)
            if needed <= capacity:
                continue
            users = [p for p in region.pools if fabric.name in p.fabrics]
            parts = " + ".join(f"{p.count:,} {X} {fabric.ports_per_node}" for p in users)
            yield error(f"fabric '{fabric.name}' in region '{region.name}' needs {needed:,} ports but "
                        f"{describe(fabric.topology)} holds {capacity:,}",
                        ("spec", "regions", ri, "fabrics", fi, "topology"),
                        detail=f"nodes {X} ports_per_node = {parts} = {needed:,} endpoints",
                        hint=suggest(fabric.topology, needed), code="physics.fabric-capacity")


def check_link_presence(cluster: Cluster) -> Iterator[Diagnostic]:
    regions = cluster.spec.regions
    if len(regions) < 2:
        return
    links = [link.between for link in cluster.spec.links if link.between[0] != link.between[1]]
    linked = {name for pair in links for name in pair}
    for ri, region in enumerate(regions):
        if region.name not in linked:
            # Regions of one name (reported by the references validator) leave no other to name.
            other = next((r.name for r in regions if r.name != region.name), "OTHER")
            yield warning(f"region '{region.name}' has no link to any other region",
                          ("spec", "regions", ri, "name"),
                          detail=f"the cluster has {len(regions)} regions; regions are independent unless "
                                 "linked, so data and checkpoints cannot move to or from this one",
                          hint=f"add a link under spec.links, e.g. {{between: [{region.name}, {other}], "
                               "bandwidth_gbps: 400, latency_ms: 10}",
                          code="physics.link-missing")


def check_link_bandwidth(cluster: Cluster) -> Iterator[Diagnostic]:
    regions = {r.name: r for r in cluster.spec.regions}
    for li, link in enumerate(cluster.spec.links):
        a, b = link.between
        if a not in regions or b not in regions or a == b:
            continue  # the references validator reports unknown regions
        side, fabric_gbps = min(((n, fabric_aggregate_gbps(regions[n])) for n in (a, b)), key=lambda x: x[1])
        need = LINK_MIN_FRACTION * fabric_gbps
        if fabric_gbps <= 0 or link.bandwidth_gbps >= need:
            continue
        yield warning(f"link {a}{LINK}{b} carries {link.bandwidth_gbps:,.0f} Gbps, under "
                      f"{LINK_MIN_FRACTION:.0%} of the compute fabric of region '{side}'",
                      ("spec", "links", li, "bandwidth_gbps"),
                      detail=f"region '{side}' injects {fabric_gbps:,.0f} Gbps into its RDMA fabrics "
                             f"(Σ nodes {X} ports {X} speed); "
                             f"{LINK_MIN_FRACTION:.0%} of it is {need:,.0f} Gbps",
                      hint=f"raise bandwidth_gbps to at least {math.ceil(need):,} or plan for slow dataset "
                           "and checkpoint transfers between these regions",
                      code="physics.link-bandwidth")


CatalogCheck = Callable[[Cluster, Catalog], Iterator[Diagnostic]]


def _bind(check: CatalogCheck, catalog: Catalog | None) -> Validator:
    def bound(cluster: Cluster) -> Iterator[Diagnostic]:
        return check(cluster, catalog or default_catalog())

    bound.__name__ = bound.__qualname__ = check.__name__
    return bound


def make_validators(catalog: Catalog | None = None) -> list[Validator]:
    """The physics validators using `catalog` (default: the packaged one, read when first used)."""
    bound = [_bind(check, catalog)
             for check in (check_accelerator_models, check_sites, check_power, check_racks)]
    return [*bound, check_fabrics, check_link_presence, check_link_bandwidth]


VALIDATORS: list[Validator] = make_validators()
