"""The allocator's batch reservation of recorded IPs (one call per fabric) reserves what one call per node did."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hypothesis import given
from hypothesis import strategies as st

from grid.resources import _Allocator

CIDR = "10.9.0.0/28"  # 14 hosts: collisions, the gateway and out-of-range addresses are all likely
ip = st.one_of(st.integers(0, 20).map(lambda n: f"10.9.0.{n}"), st.sampled_from(["", "10.9.0.03", "x", "10.9.1.2"]))
fabrics = st.dictionaries(st.sampled_from(["a", "b"]), ip, max_size=2)
held = st.lists(st.tuples(st.sampled_from([f"r/p/node-{i:04d}" for i in range(8)]), fabrics), max_size=12)


def one_by_one(fabric: str, entries: Sequence[tuple[str, Mapping[str, str]]],
               pinned: Mapping[tuple[str, str], str]) -> _Allocator:
    allocator = _Allocator(CIDR)
    for address, recorded in entries:  # the loop expand ran before the batch call
        if fabric in recorded and (address, fabric) not in pinned:
            allocator.reserve(address, recorded[fabric])
    return allocator


@given(held, st.sets(st.sampled_from([f"r/p/node-{i:04d}" for i in range(8)]), max_size=3))
def test_batch_reservation_is_the_per_node_loop(entries: list[tuple[str, dict[str, str]]], pins: set[str]) -> None:
    for fabric in ("a", "b"):
        pinned = {(address, fabric): "10.9.0.9" for address in pins}
        batch = _Allocator(CIDR)
        batch.reserve_recorded(fabric, entries, pinned)
        reference = one_by_one(fabric, entries, pinned)
        assert batch._used == reference._used and batch._held == reference._held
        addresses = [address for address, _ in entries] + ["r/p/new"]
        assert [batch.assign(a) for a in addresses] == [reference.assign(a) for a in addresses]
