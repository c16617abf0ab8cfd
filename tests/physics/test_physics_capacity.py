"""Capacity figures against hand-computed values (catalog: h100-sxm 700 W + 4,600 W host, 989 TF)."""

from __future__ import annotations

import time

import pytest

from grid.physics import compare, empty_summary, pool_load, summarize
from grid.physics.capacity import annual_mwh, node_power_w, tco2_per_year
from grid.spec import load_spec_text
from grid.spec.model import Cluster

SPEC = """
apiVersion: grid/v1
kind: Cluster
metadata: {{name: small}}
spec:
  target: openstack
  regions:
    - name: a
      site: {{power_mw: 1, pue: 1.2, cooling: liquid, rack_kw_max: 80, renewable_fraction: 0.2,
             grid_carbon_g_per_kwh: 500, province: Ningxia}}
      fabrics: [{{name: mgmt, cidr: 198.18.0.0/24}}]
      pools:
        - {{name: gpu, count: {gpus}, accelerator: {{model: h100-sxm, per_node: 8}}, nodes_per_rack: 4,
           fabrics: [mgmt]}}
        - {{name: cpu, count: 5, nodes_per_rack: 16, fabrics: [mgmt]}}
        - {{name: custom, count: 2, accelerator: {{model: h100-sxm, per_node: 4}}, host_overhead_w: 2000,
           fabrics: [mgmt]}}
    - name: b
      site: {{power_mw: 2, pue: 1.5, renewable_fraction: 1.0, grid_carbon_g_per_kwh: 800}}
      fabrics: [{{name: mgmt, cidr: 198.18.1.0/24}}]
      pools:
        - {{name: npu, count: 3, accelerator: {{model: ascend-910b, per_node: 8}}, fabrics: [mgmt]}}
  energy: {{utilization: 0.5}}
"""


def cluster(gpus: int = 10) -> Cluster:
    loaded = load_spec_text(SPEC.format(gpus=gpus))
    assert loaded.cluster is not None, list(loaded.diagnostics)
    return loaded.cluster


def test_node_power_is_accelerators_times_tdp_plus_host() -> None:
    pools = cluster().spec.regions[0].pools
    gpu, cpu, custom = (pool_load(p) for p in pools)
    assert gpu is not None and cpu is not None and custom is not None
    assert gpu.node_w == 8 * 700 + 4600 == 10_200
    assert cpu.node_w == 1000 and cpu.accelerators == 0
    assert custom.node_w == 4 * 700 + 2000  # the pool's host_overhead_w overrides the catalog
    assert node_power_w(8, 700, 4600) == 10_200


def test_rack_density_and_racks() -> None:
    gpu = pool_load(cluster().spec.regions[0].pools[0])
    assert gpu is not None
    assert gpu.rack_kw == pytest.approx(40.8)  # 4 * 10.2 kW
    assert gpu.racks == 3  # ⌈10 / 4⌉
    small = pool_load(cluster(gpus=2).spec.regions[0].pools[0])
    assert small is not None and small.rack_kw == pytest.approx(20.4)  # a 2-node pool half-fills its rack


def test_region_figures_by_hand() -> None:
    a = summarize(cluster()).regions[0]
    it_w = 10 * 10_200 + 5 * 1000 + 2 * 4800  # 116,600 W
    assert a.nodes == 17
    assert a.accelerators == (("h100-sxm", 88),)
    assert a.it_mw == pytest.approx(it_w / 1e6)
    assert a.facility_mw == pytest.approx(0.13992)  # * PUE 1.2
    assert a.headroom_mw == pytest.approx(1 - 0.13992)
    assert a.peak_pflops == pytest.approx(88 * 989 / 1000)
    assert a.annual_mwh == pytest.approx(0.13992 * 8760 * 0.5)  # 612.85 MWh
    # 612.8496 MWh * 500 g/kWh * (1 - 0.2) / 1000 = 245.14 t
    assert a.tco2_per_year == pytest.approx(612.8496 * 500 * 0.8 / 1000)
    assert a.racks == 3 + 1 + 1


def test_energy_and_carbon_helpers() -> None:
    assert annual_mwh(10, 1.0) == 87_600
    # 1,000 MWh at 550 g/kWh, nothing renewable: 1e6 kWh * 550 g = 550 t
    assert tco2_per_year(1000, 550, 0) == pytest.approx(550)
    assert tco2_per_year(1000, 550, 1) == 0


def test_total_row_sums_regions_and_renewables_zero_carbon() -> None:
    summary = summarize(cluster())
    a, b = summary.regions
    assert b.it_mw == pytest.approx(3 * 5600 / 1e6)
    assert b.tco2_per_year == 0  # renewable_fraction 1.0
    total = summary.total
    assert total.nodes == a.nodes + b.nodes == 20
    assert dict(total.accelerators) == {"h100-sxm": 88, "ascend-910b": 24}
    assert total.facility_mw == pytest.approx(a.facility_mw + b.facility_mw)
    assert total.power_budget_mw == 3
    assert total.headroom_mw == pytest.approx(3 - total.facility_mw)


def test_to_dict_is_json_ready() -> None:
    data = summarize(cluster()).to_dict()
    assert data["utilization"] == 0.5
    row = data["regions"][0]
    assert row["name"] == "a" and row["province"] == "Ningxia"
    assert row["accelerators"] == 88 and row["accelerators_by_model"] == {"h100-sxm": 88}
    assert set(row) >= {"nodes", "peak_pflops", "it_mw", "facility_mw", "power_budget_mw", "headroom_mw",
                        "annual_mwh", "tco2_per_year"}
    assert data["total"]["nodes"] == 20


def test_unknown_model_counts_nodes_and_its_power_is_unknown() -> None:
    """A model not in the catalog draws an unknown power, not 0 (issue 14): None here, null in JSON."""
    text = SPEC.format(gpus=10).replace("model: ascend-910b", "model: tpu-v9")
    loaded = load_spec_text(text)
    assert loaded.cluster is not None
    summary = summarize(loaded.cluster)
    b = summary.regions[1]
    assert b.nodes == 3 and b.unknown_models == ("tpu-v9",) and b.racks == 1
    assert b.it_mw is None and b.facility_mw is None and b.headroom_mw is None and b.peak_pflops is None
    assert b.annual_mwh is None and b.tco2_per_year is None and not b.over_budget
    assert summary.total.facility_mw is None and summary.total.nodes == 3 + summary.regions[0].nodes
    assert summary.regions[0].facility_mw is not None  # the other region is still known
    assert summary.to_dict()["regions"][1]["facility_mw"] is None


def test_compare_from_nothing_and_between_plans() -> None:
    before, after = summarize(cluster(gpus=10)), summarize(cluster(gpus=14))
    first = compare(None, after)
    assert [r.status for r in first.regions] == ["added", "added"]
    assert first.total.figure("nodes").delta == 24  # 14 + 5 + 2 + 3
    delta = compare(before, after)
    a = delta.regions[0]
    assert a.status == "changed" and delta.regions[1].status == "unchanged"
    assert a.figure("nodes").delta == 4
    assert a.figure("it_mw").delta == pytest.approx(4 * 10_200 / 1e6)
    assert a.figure("facility_mw").delta == pytest.approx(4 * 10_200 / 1e6 * 1.2)
    assert {f.figure: f.delta for f in a.accelerators} == {"h100-sxm": 32}
    assert delta.to_dict()["total"]["figures"]["nodes"] == {"before": 20, "after": 24, "delta": 4}
    assert not compare(before, before).changed
    gone = compare(before, empty_summary())
    assert [r.status for r in gone.regions] == ["removed", "removed"]
    assert gone.total.figure("facility_mw").after == 0


def test_is_o_pools_not_o_nodes() -> None:
    big = cluster(gpus=1_000_000)
    started = time.perf_counter()
    total = summarize(big).total
    assert time.perf_counter() - started < 0.5
    assert total.nodes == 1_000_010
    assert total.it_mw == pytest.approx((1_000_000 * 10_200 + 5000 + 9600 + 3 * 5600) / 1e6)
