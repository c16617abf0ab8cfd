"""addressing.py: subnet capacity, overlaps, lab ranges and RDMA MTU."""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from grid.diagnostics import Diagnostic, Severity
from grid.spec.model import Cluster
from grid.validate import addressing
from support.specs import EAST_FABRICS, LOCAL_SPEC_HEAD, findings, where

HEAD = LOCAL_SPEC_HEAD
EAST = EAST_FABRICS + """\
      pools:
        - {name: train, count: 2, fabrics: [mgmt, compute]}
        - {name: infer, count: 1, fabrics: [mgmt]}
"""


def found(text: str) -> list[Diagnostic]:
    return findings(text, "addressing.")


def cluster(regions: list[dict[str, Any]], target: str = "local") -> Cluster:
    return Cluster.model_validate({"apiVersion": "grid/v1", "kind": "Cluster", "metadata": {"name": "t"},
                                   "spec": {"target": target, "regions": regions}})


def test_clean() -> None:
    assert found(HEAD + EAST) == []


def test_smallest_prefix() -> None:
    assert addressing.smallest_prefix(1) == 32
    assert addressing.smallest_prefix(3) == 30
    assert addressing.smallest_prefix(256) == 24
    assert addressing.smallest_prefix(257) == 23
    assert addressing.smallest_prefix(2**32) == 0
    assert addressing.smallest_prefix(2**33) == 0


@given(st.integers(min_value=1, max_value=2**32))
def test_smallest_prefix_is_the_tightest_fit(n: int) -> None:
    prefix = addressing.smallest_prefix(n)
    assert 2 ** (32 - prefix) >= n
    assert prefix == 32 or 2 ** (32 - prefix - 1) < n


def test_exact_fit_is_fine_and_one_more_is_not() -> None:
    # mgmt /24: 256 addresses = 253 nodes + network, gateway, broadcast.
    assert found(HEAD + EAST.replace("count: 2,", "count: 252,")) == []
    (diag,) = found(HEAD + EAST.replace("count: 2,", "count: 253,"))
    assert diag.severity is Severity.ERROR
    assert diag.summary == "fabric 'mgmt' needs 257 addresses but 198.18.0.0/24 has 256"
    assert diag.detail == "254 node(s) from pools train (253), infer (1), plus network, gateway and broadcast"
    assert diag.hint.startswith("use a /23 or larger (512 addresses), for example cidr: 198.18.0.0/23")
    assert diag.path == ("spec", "regions", 0, "fabrics", 0, "cidr")
    assert where(diag) == (10, 30)


def test_pools_of_other_regions_and_repeated_entries_do_not_count() -> None:
    west = EAST.replace("east", "west").replace("198.18.0.", "198.18.2.").replace("198.18.1.", "198.18.3.")
    text = HEAD + EAST.replace("count: 2,", "count: 252,") + west.replace("count: 2,", "count: 200,")
    assert found(text.replace("fabrics: [mgmt, compute]}", "fabrics: [mgmt, compute, mgmt]}")) == []


def test_tiny_subnet_without_nodes() -> None:
    (diag,) = found(HEAD + EAST.replace("198.18.1.0/24", "198.18.1.0/31").replace(
        "fabrics: [mgmt, compute]", "fabrics: [mgmt]"))
    assert diag.summary == "fabric 'compute' needs 3 addresses but 198.18.1.0/31 has 2"
    assert "use a /30" in diag.hint


def test_huge_region_is_checked_without_iterating_nodes() -> None:
    pools = [{"name": f"p{i}", "count": 1_000_000, "fabrics": ["big"]} for i in range(40)]
    spec = cluster([{"name": "east", "site": {"power_mw": 1},
                     "fabrics": [{"name": "big", "cidr": "198.18.0.0/15"}], "pools": pools}])
    start = time.perf_counter()
    diags = [d for v in addressing.VALIDATORS for d in v(spec)]
    assert time.perf_counter() - start < 0.5
    (diag,) = diags
    assert diag.summary == "fabric 'big' needs 40000003 addresses but 198.18.0.0/15 has 131072"
    assert diag.hint.startswith("use a /6 or larger")
    assert diag.detail.endswith("and 32 more, plus network, gateway and broadcast")


def test_overlap_is_reported_on_the_later_fabric() -> None:
    west = """\
    - name: west
      site: {power_mw: 1}
      fabrics:
        - {name: mgmt, cidr: 198.18.0.128/25}
      pools:
        - {name: infer, count: 1, fabrics: [mgmt]}
"""
    (diag,) = found(HEAD + EAST + west)
    assert diag.summary == ("198.18.0.128/25 of fabric 'mgmt' in region 'west' overlaps 198.18.0.0/24 "
                            "of fabric 'mgmt' in region 'east'")
    assert diag.detail == "the other subnet is at spec.regions[0].fabrics[0].cidr"
    assert diag.path == ("spec", "regions", 1, "fabrics", 0, "cidr")
    assert where(diag) == (18, 30)


def test_overlap_when_the_later_fabric_is_the_larger_one() -> None:
    (diag,) = found(HEAD + EAST.replace("198.18.1.0/24", "198.18.0.0/23"))
    assert diag.summary == ("198.18.0.0/23 of fabric 'compute' in region 'east' overlaps 198.18.0.0/24 "
                            "of fabric 'mgmt' in region 'east'")
    assert diag.path == ("spec", "regions", 0, "fabrics", 1, "cidr")


def test_identical_subnets() -> None:
    (diag,) = found(HEAD + EAST.replace("198.18.1.0/24", "198.18.0.0/24"))
    assert "is the same subnet as 198.18.0.0/24 of fabric 'mgmt'" in diag.summary


def fabric_cluster(cidrs: list[str]) -> Cluster:
    regions = [{"name": f"r{i}", "site": {"power_mw": 1}, "fabrics": [{"name": "f", "cidr": c}]}
               for i, c in enumerate(cidrs)]
    return cluster(regions, target="aws")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**16 - 1), st.integers(17, 30)), min_size=1, max_size=12))
def test_overlap_sweep_agrees_with_pairwise_comparison(blocks: list[tuple[int, int]]) -> None:
    nets = [ipaddress.IPv4Network((0x0A000000 + offset, prefix), strict=False) for offset, prefix in blocks]
    diags = list(addressing.cidrs_disjoint(fabric_cluster([str(n) for n in nets])))
    # Exactly the fabrics that overlap an earlier one are flagged, each once, naming the earliest.
    expected = {}
    for j in range(len(nets)):
        earlier = [i for i in range(j) if nets[i].overlaps(nets[j])]
        if earlier:
            expected[j] = f"spec.regions[{earlier[0]}].fabrics[0].cidr"
    assert {d.path[2]: d.detail.removeprefix("the other subnet is at ") for d in diags} == expected
    assert len(diags) == len(expected)


def test_local_target_subnets() -> None:
    (outside,) = found(HEAD + EAST.replace("198.18.1.0/24", "192.168.1.0/24"))
    assert outside.summary == "192.168.1.0/24 of fabric 'compute' in region 'east' is outside 198.18.0.0/15"
    assert "the lab only uses the benchmarking range" in outside.detail
    assert outside.path == ("spec", "regions", 0, "fabrics", 1, "cidr")
    assert where(outside) == (11, 56)
    aws = HEAD.replace("target: local", "target: aws")
    assert found(aws + EAST.replace("198.18.1.0/24", "192.168.1.0/24")) == []
    assert found(HEAD + EAST.replace("198.18.1.0/24", "198.19.255.0/24")) == []


def test_rdma_mtu_warning() -> None:
    (diag,) = found(HEAD + EAST.replace("mtu: 9000", "mtu: 1500"))
    assert diag.severity is Severity.WARNING
    assert diag.summary == "pool 'train' uses roce fabric 'compute' with MTU 1500"
    assert diag.path == ("spec", "regions", 0, "pools", 0, "fabrics", 1)
    assert where(diag) == (13, 51)
    assert "RDMA wants jumbo frames" in diag.detail
    ib = found(HEAD + EAST.replace("kind: roce, mtu: 9000", "kind: infiniband, mtu: 2044"))
    assert [d.summary for d in ib] == ["pool 'train' uses infiniband fabric 'compute' with MTU 2044"]
    assert found(HEAD + EAST.replace("kind: roce, mtu: 9000", "kind: roce, mtu: 4096")) == []


def test_same_fabric_name_with_different_mtu_in_two_regions_is_fine() -> None:
    west = EAST.replace("east", "west").replace("198.18.0.", "198.18.2.").replace("198.18.1.", "198.18.3.")
    assert found(HEAD + EAST + west.replace("mtu: 9000", "mtu: 4200")) == []
