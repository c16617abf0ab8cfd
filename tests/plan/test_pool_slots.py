"""The pool slots rule (grid.plan.slots) and grid.resources.expand with slots: a replacement takes the pool's
next free index, the other nodes keep their attributes, and a cluster without slots expands as before."""

from __future__ import annotations

from grid.plan.slots import indices_by_pool, pool_indices, replacement_slots
from grid.resources import Kind, expand
from grid.spec import load_spec
from grid.state.model import PoolSlots
from support.paths import EXAMPLES


def test_without_slots_a_pool_has_its_first_indices() -> None:
    assert pool_indices(4, None) == [0, 1, 2, 3]
    assert pool_indices(4, PoolSlots()) == [0, 1, 2, 3]


def test_a_node_being_replaced_is_kept_beside_its_replacement_at_the_next_free_index() -> None:
    assert pool_indices(4, PoolSlots(replacing=[1])) == [0, 1, 2, 3, 4]
    assert replacement_slots(4, None, [1]) == {1: 4}
    assert replacement_slots(4, PoolSlots(retired=[1]), [3]) == {3: 5}
    assert replacement_slots(4, PoolSlots(replacing=[1]), [2, 0]) == {0: 5, 2: 6}


def test_a_retired_index_is_never_used_again() -> None:
    assert pool_indices(4, PoolSlots(retired=[1])) == [0, 2, 3, 4]
    assert pool_indices(4, PoolSlots(retired=[1, 4], replacing=[2])) == [0, 2, 3, 5, 6]
    assert pool_indices(2, PoolSlots(retired=[0, 1])) == [2, 3]


def test_expand_with_slots_gives_nodes_their_real_index_and_leaves_the_others_as_they_were() -> None:
    cluster = load_spec(EXAMPLES / "health" / "cluster.yaml").cluster
    before = expand(cluster)
    slots = {"lab/train": PoolSlots(replacing=[3])}
    during = expand(cluster, {r.address: dict(r.attrs["fabrics"]) for r in before.of_kind(Kind.NODE)},
                    indices=indices_by_pool([("lab", "train", 8), ("lab", "ctl", 1)], slots))
    old = {r.address: r.attrs for r in before.of_kind(Kind.NODE)}
    new = {r.address: r.attrs for r in during.of_kind(Kind.NODE)}
    assert set(new) - set(old) == {"lab/train/node-0008"}
    assert all(new[a] == attrs for a, attrs in old.items())  # healing one node changes no other
    added = new["lab/train/node-0008"]
    assert (added["index"], added["hostname"], added["container"]) == (8, "lab-train-0008",
                                                                       "grid-health-lab-lab-train-0008")
    after = expand(cluster, {a: dict(attrs["fabrics"]) for a, attrs in new.items()},
                   indices={"lab/train": pool_indices(8, PoolSlots(retired=[3]))})
    kept = {r.address: r.attrs for r in after.of_kind(Kind.NODE)}
    assert "lab/train/node-0003" not in kept and kept["lab/train/node-0008"] == added
    assert all(kept[a] == attrs for a, attrs in old.items() if a != "lab/train/node-0003")


def test_expand_without_slots_is_unchanged() -> None:
    cluster = load_spec(EXAMPLES / "health" / "cluster.yaml").cluster
    assert expand(cluster, indices={}) == expand(cluster)
    assert expand(cluster, indices={"lab/train": list(range(8))}).resources == expand(cluster).resources
