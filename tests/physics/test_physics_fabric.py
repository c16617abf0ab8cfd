"""Switched-fabric capacity: k, k²/2, k³/4 and the oversubscribed leaf."""

from __future__ import annotations

import pytest

from grid.physics import clos_capacity, fabric_capacity, fabric_endpoints
from grid.physics.fabric import suggest
from grid.spec import load_spec_text
from grid.spec.model import Topology


@pytest.mark.parametrize(("radix", "tiers", "over", "expected"), [
    (64, 1, 1.0, 64),
    (64, 2, 1.0, 2048),        # k²/2
    (64, 3, 1.0, 65_536),      # k³/4
    (128, 2, 1.0, 8192),
    (48, 2, 1.0, 1152),
    (64, 2, 3.0, 3072),        # 64 leaves * ⌊64·3/4⌋ = 48 host ports
    (128, 2, 3.0, 12_288),
    (64, 3, 3.0, 98_304),      # 2·32² leaves * 48
    (64, 2, 2.0, 2688),        # 64 * ⌊64·2/3⌋ = 42
])
def test_clos_capacity(radix: int, tiers: int, over: float, expected: int) -> None:
    assert clos_capacity(radix, tiers, over) == expected


def test_kinds() -> None:
    assert fabric_capacity(Topology(kind="single-switch", switch_radix=64, tiers=3)) == 64
    assert fabric_capacity(Topology(kind="rail-optimized", switch_radix=64, tiers=3)) == 65_536
    assert fabric_capacity(Topology(kind="leaf-spine", switch_radix=64, tiers=2)) == 2048


def test_suggestions_fit() -> None:
    assert suggest(Topology(switch_radix=64, tiers=2), 4096) == \
        "use tiers: 3 (holds 65,536) or switch_radix: 128 (holds 8,192)"
    assert "kind: fat-tree, tiers: 2" in suggest(Topology(kind="single-switch", switch_radix=64), 100)
    assert "split" in suggest(Topology(switch_radix=1024, tiers=3), 10**10)


def test_endpoints_count_ports_of_attached_pools_only() -> None:
    loaded = load_spec_text("""
apiVersion: grid/v1
kind: Cluster
metadata: {name: f}
spec:
  regions:
    - name: a
      site: {power_mw: 5}
      fabrics:
        - {name: compute, kind: roce, cidr: 198.18.0.0/22, ports_per_node: 8}
        - {name: mgmt, cidr: 198.18.4.0/22}
      pools:
        - {name: gpu, count: 100, accelerator: {model: h200, per_node: 8}, fabrics: [compute, mgmt]}
        - {name: cpu, count: 30, fabrics: [mgmt]}
""")
    assert loaded.cluster is not None
    region = loaded.cluster.spec.regions[0]
    assert fabric_endpoints(region, "compute") == 800
    assert fabric_endpoints(region, "mgmt") == 130
    assert fabric_endpoints(region, "none") == 0
