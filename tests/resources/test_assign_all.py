"""The allocator's batch assignment (one call per pool and fabric) gives the IPs one call per node gave, and
expansion with it gives the graph the node-by-node way gave."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from grid.resources import _Allocator, expand
from support.paths import EXAMPLES
from support.specs import cluster_from

CIDR = "198.18.9.0/27"  # 30 hosts: exhaustion, reserved addresses and held ones all within reach
addresses = st.lists(st.sampled_from([f"r/p/node-{i:04d}" for i in range(40)]), max_size=40)
reserved = st.dictionaries(st.sampled_from([f"r/p/node-{i:04d}" for i in range(40)]),
                           st.integers(0, 40).map(lambda n: f"198.18.9.{n}"), max_size=10)


def allocator(reservations: dict[str, str]) -> _Allocator:
    made = _Allocator(CIDR)
    for address, ip in reservations.items():
        made.reserve(address, ip)
    return made


@given(reserved, addresses, addresses)
def test_assign_all_is_assign_one_by_one(reservations: dict[str, str], first: list[str],
                                         then: list[str]) -> None:
    batch, reference = allocator(reservations), allocator(reservations)
    assert batch.assign_all(first) == [reference.assign(a) for a in first]
    assert batch.assign_all(then) == [reference.assign(a) for a in then]  # the cursor carries on
    assert [batch.assign(a) for a in then] == [reference.assign(a) for a in then]


def test_ips_cross_a_third_octet_boundary_as_ipaddress_writes_them() -> None:
    made = _Allocator("198.18.8.0/23")
    ips = made.assign_all([f"r/p/node-{i:04d}" for i in range(300)])
    assert ips[0] == "198.18.8.2" and ips[253] == "198.18.8.255"
    assert ips[254] == "198.18.9.0" and ips[-1] == "198.18.9.45"


def test_a_pool_listing_a_fabric_twice_is_assigned_node_by_node() -> None:
    """`fabrics: [mgmt, mgmt]`: the second assignment wins, node after node, as before batches."""
    def doubled(data: dict) -> None:  # type: ignore[type-arg]
        pool = data["spec"]["regions"][0]["pools"][0]
        pool["fabrics"] = [pool["fabrics"][0], pool["fabrics"][0]]

    cluster = cluster_from(EXAMPLES / "local-lab" / "cluster.yaml", doubled)
    region = cluster.spec.regions[0]
    pool = region.pools[0]
    fabric = next(f for f in region.fabrics if f.name == pool.fabrics[0])
    reference = _Allocator(fabric.cidr)
    expected = []
    for index in range(pool.count):
        reference.assign(f"{region.name}/{pool.name}/node-{index:04d}")
        expected.append(reference.assign(f"{region.name}/{pool.name}/node-{index:04d}"))
    graph = expand(cluster)
    got = [r.attrs["fabrics"][fabric.name] for r in graph.resources
           if r.kind.value == "node" and r.attrs["pool"] == pool.name and r.region == region.name]
    assert got == expected
