"""Physics validators: findings, thresholds, texts and paths."""

from __future__ import annotations

from grid.diagnostics import Diagnostic, Severity
from grid.physics import Catalog, default_catalog
from grid.physics.catalog import AcceleratorSpec
from grid.physics.units import X
from grid.spec import load_spec_text
from grid.spec.model import Cluster
from grid.validate import physics

ONE_REGION = """
apiVersion: grid/v1
kind: Cluster
metadata: {{name: t}}
spec:
  target: openstack
  regions:
    - name: hub
      site: {{power_mw: {power}, pue: {pue}, cooling: {cooling}, rack_kw_max: {rack}}}
      fabrics: [{{name: mgmt, cidr: 198.18.0.0/20}}]
      pools:
        - {{name: p, count: {count}, accelerator: {{model: {model}, per_node: 8}}, nodes_per_rack: {per_rack},
           fabrics: [mgmt]}}
"""


def spec(*, power: float = 100, pue: float = 1.15, cooling: str = "liquid", rack: float = 80, count: int = 10,
         model: str = "ascend-910b", per_rack: int = 4) -> Cluster:
    loaded = load_spec_text(ONE_REGION.format(power=power, pue=pue, cooling=cooling, rack=rack, count=count,
                                              model=model, per_rack=per_rack))
    assert loaded.cluster is not None, list(loaded.diagnostics)
    return loaded.cluster


def findings(cluster: Cluster) -> list[Diagnostic]:
    return [d for check in physics.VALIDATORS for d in check(cluster)]


def codes(cluster: Cluster) -> list[str]:
    return [d.code for d in findings(cluster)]


def test_clean_spec_has_no_findings() -> None:
    assert findings(spec()) == []


def test_power_over_budget_error_text_and_hint() -> None:
    [found] = findings(spec(power=20, count=3200))
    assert found.severity is Severity.ERROR and found.code == "physics.power"
    assert found.path == ("spec", "regions", 0, "pools", 0, "count")
    assert f"IT 17.9 MW {X} PUE 1.15 = 20.6 MW > 20 MW site power" in found.detail
    # 20 MW / 1.15 = 17.39 MW of IT; / 5.6 kW per node = 3,105 nodes
    assert "at most 3,105 of the 3,200 nodes of pool 'p' fit" in found.hint


def test_power_headroom_warning_above_90_percent() -> None:
    # 3,000 * 5.6 kW * 1.15 = 19.32 MW of 20 MW
    [found] = findings(spec(power=20, count=3000))
    assert found.severity is Severity.WARNING and found.code == "physics.power-headroom"
    assert found.path == ("spec", "regions", 0, "site", "power_mw")
    # 2,700 nodes: 17.39 MW = 87% → nothing
    assert findings(spec(power=20, count=2700)) == []


def test_rack_density() -> None:
    # b200 node 14.3 kW; 4 per rack = 57.2 kW > 50
    [found] = findings(spec(model="b200", rack=50))
    assert found.code == "physics.rack-density"
    assert found.path == ("spec", "regions", 0, "pools", 0, "nodes_per_rack")
    assert f"4 nodes {X} 14.3 kW = 57.2 kW per rack > rack_kw_max 50 kW" in found.detail
    assert found.hint.startswith("set nodes_per_rack: 3 (42.9 kW)")
    [tiny] = findings(spec(model="b200", rack=10, per_rack=1))
    assert "one node draws 14.3 kW" in tiny.hint


def test_air_cooling_limit_is_40_kw() -> None:
    # h100 node 10.2 kW: 4 per rack = 40.8 kW (error), ascend-910b node 5.6 kW: 7 per rack = 39.2 kW (fine)
    assert codes(spec(model="h100-sxm", cooling="air", rack=50)) == ["physics.air-cooling"]
    assert codes(spec(cooling="air", rack=50, per_rack=7)) == []
    both = codes(spec(model="b200", cooling="air", rack=50))
    assert sorted(both) == ["physics.air-cooling", "physics.rack-density"]


def test_unknown_model_has_did_you_mean_and_no_other_findings() -> None:
    [found] = findings(spec(model="mi300"))
    assert found.code == "physics.accelerator" and "did you mean 'mi300x'?" in found.hint
    assert found.path == ("spec", "regions", 0, "pools", 0, "accelerator", "model")
    assert "h100-sxm" in found.hint


def test_a_catalog_miss_says_so_tells_how_to_add_it_and_suggests_only_its_family() -> None:
    [found] = findings(spec(model="a100-sxm4-40g"))
    assert found.summary == "accelerator model 'a100-sxm4-40g' is not in the catalog"
    assert found.hint.startswith("did you mean 'a100-sxm4-40gb'? ") and "`spec.catalog`" in found.hint
    assert "docs/catalog.md" in found.hint and "did you mean 'h100" not in found.hint
    [other] = findings(spec(model="tpu-v5p"))  # a family the catalog lacks: no guess at all
    assert "did you mean" not in other.hint and "`spec.catalog`" in other.hint


def test_validators_with_a_user_catalog() -> None:
    extra = Catalog({"gaudi3": AcceleratorSpec(vendor="Intel", name="Gaudi 3", tdp_w=900, memory_gb=128,
                                               bf16_tflops=1835, host_overhead_w=4000, source="white paper")})
    checks = physics.make_validators(default_catalog().merged(extra))
    cluster = spec(model="gaudi3")
    assert [d for check in checks for d in check(cluster)] == []
    assert codes(cluster) == ["physics.accelerator"]
    assert all(check.__name__.startswith("check_") for check in checks)


TWO_REGIONS = """
apiVersion: grid/v1
kind: Cluster
metadata: {{name: t}}
spec:
  regions:
    - name: a
      site: {{power_mw: 10}}
      fabrics: [{{name: rdma, kind: {kind}, speed_gbps: 400, cidr: 198.18.0.0/24, ports_per_node: 8}}]
      pools: [{{name: p, count: 64, accelerator: {{model: h200, per_node: 8}}, nodes_per_rack: 2,
              fabrics: [rdma]}}]
    - name: b
      site: {{power_mw: 10}}
      fabrics: [{{name: rdma, kind: roce, speed_gbps: 400, cidr: 198.18.1.0/24, ports_per_node: 8}}]
      pools: [{{name: p, count: 128, accelerator: {{model: h200, per_node: 8}}, nodes_per_rack: 2,
              fabrics: [rdma]}}]
  links: {links}
"""


def two(links: str, kind: str = "infiniband") -> Cluster:
    loaded = load_spec_text(TWO_REGIONS.format(links=links, kind=kind))
    assert loaded.cluster is not None, list(loaded.diagnostics)
    return loaded.cluster


def test_link_bandwidth_uses_the_smaller_region() -> None:
    # region a: 64 * 8 * 400 = 204,800 Gbps → 1% = 2,048 Gbps
    [found] = findings(two("[{between: [a, b], bandwidth_gbps: 2000}]"))
    assert found.code == "physics.link-bandwidth" and found.severity is Severity.WARNING
    assert found.path == ("spec", "links", 0, "bandwidth_gbps")
    assert "region 'a'" in found.summary and "2,048" in found.hint
    assert findings(two("[{between: [a, b], bandwidth_gbps: 2048}]")) == []
    assert findings(two("[{between: [a, b], bandwidth_gbps: 10}]", kind="ethernet")) == []  # no RDMA on a


def test_unlinked_regions_warn_and_unknown_link_ends_are_left_to_references() -> None:
    found = findings(two("[]"))
    assert [d.code for d in found] == ["physics.link-missing", "physics.link-missing"]
    assert found[0].path == ("spec", "regions", 0, "name")
    found = findings(two("[{between: [a, nowhere], bandwidth_gbps: 1}]"))
    assert [d.path for d in found] == [("spec", "regions", 1, "name")]
