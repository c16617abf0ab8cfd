"""grid.plan.waves: a plan's replaced nodes in waves per pool, by index, never more than max_unavailable."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grid.plan.model import Action, Plan, ResourceChange
from grid.plan.waves import node_order, plan_waves, split_waves
from grid.spec import load_spec_text
from grid.spec.model import Cluster

HEAD = "apiVersion: grid/v1\nkind: Cluster\nmetadata: {name: t}\nspec:\n  target: local\n  regions:\n"


def cluster(train_update: str = "", infer_update: str = "", train: int = 8, infer: int = 2) -> Cluster:
    text = HEAD + f"""\
    - name: lab
      site: {{power_mw: 1}}
      fabrics:
        - {{name: mgmt, cidr: 198.18.0.0/24}}
      pools:
        - {{name: train, count: {train}, fabrics: [mgmt]{", update: " + train_update if train_update else ""}}}
        - {{name: infer, count: {infer}, fabrics: [mgmt]{", update: " + infer_update if infer_update else ""}}}
"""
    loaded = load_spec_text(text, "t.yaml")
    assert loaded.cluster is not None, loaded.diagnostics
    return loaded.cluster


def node(address: str, action: Action = Action.REPLACE) -> ResourceChange:
    return ResourceChange(address, "node", address.split("/", 1)[0], action)


def plan_of(*changes: ResourceChange) -> Plan:
    return Plan("t", "local", "sha256:x", 1, "l", tuple(changes))


def nodes(pool: str, *indexes: int) -> list[ResourceChange]:
    return [node(f"lab/{pool}/node-{i:04d}") for i in indexes]


def test_waves_of_max_unavailable_by_index_with_their_text() -> None:
    changes = nodes("train", 7, 0, 3, 1, 2, 5, 6, 4)  # the plan's order is not the roll's
    roll = plan_waves(plan_of(*changes), cluster("{max_unavailable: 2, drain: requeue, drain_timeout: 600}"))
    [train] = roll.pools
    assert train.max_unavailable == 2 and len(train.waves) == 4
    assert train.wave_line(0) == "wave 1/4: lab/train/node-0000, node-0001"
    assert train.wave_line(3) == "wave 4/4: lab/train/node-0006, node-0007"
    assert roll.lines() == [
        "lab/train: 8 nodes replaced in 4 waves of at most 2 (max_unavailable 2); drain: requeue, up to 600 s; "
        "health gate: quick; window: any time",
        "  wave 1/4: lab/train/node-0000, node-0001", "  wave 2/4: lab/train/node-0002, node-0003",
        "  wave 3/4: lab/train/node-0004, node-0005", "  wave 4/4: lab/train/node-0006, node-0007"]
    assert roll.rolling


def test_a_percentage_is_of_the_pool_and_the_last_wave_may_be_short() -> None:
    roll = plan_waves(plan_of(*nodes("train", 0, 1, 2, 3, 4)), cluster(
        "{max_unavailable: 25%, window: {days: [sat, sun], hours: '22:00-06:00', time_zone: Asia/Shanghai}}"))
    [train] = roll.pools
    assert [len(w) for w in train.waves] == [2, 2, 1]
    assert "max_unavailable 25% (2)" in train.summary()
    assert train.summary().endswith("window: sat,sun 22:00-06:00 Asia/Shanghai")


def test_a_pool_without_update_keeps_one_wave() -> None:
    roll = plan_waves(plan_of(*nodes("train", 0, 1), *nodes("infer", 1, 0)), cluster(infer_update="{}"))
    train, infer = roll.pools
    assert (train.pool, train.waves, train.max_unavailable) == ("train", (("lab/train/node-0000",
                                                                          "lab/train/node-0001"),), None)
    assert train.lines() == ["lab/train: 2 nodes replaced at once (no update policy)",
                             "  wave 1/1: lab/train/node-0000, node-0001"]
    assert infer.waves == (("lab/infer/node-0000",), ("lab/infer/node-0001",))


def test_only_replaced_nodes_roll() -> None:
    changes = [node("lab/train/node-0000", Action.UPDATE), node("lab/train/node-0001", Action.DELETE),
               node("lab/train/node-0002", Action.CREATE), ResourceChange("lab/fabric/mgmt", "fabric", "lab",
                                                                          Action.REPLACE)]
    roll = plan_waves(plan_of(*changes), cluster("{max_unavailable: 1}"))
    assert roll.pools == () and roll.lines() == [] and not roll.rolling


def test_a_resumed_roll_finishes_its_wave_first() -> None:
    changes = nodes("train", 0, 1, 4, 5, 6, 7)
    roll = plan_waves(plan_of(*changes), cluster("{max_unavailable: 2}"),
                      in_flight={("lab", "train"): ["lab/train/node-0005", "lab/train/node-0002"]})
    # node-0002 is no longer replaced (done before the kill): only node-0005 is left of the wave.
    assert roll.pools[0].waves == (("lab/train/node-0005",), ("lab/train/node-0000", "lab/train/node-0001"),
                                   ("lab/train/node-0004", "lab/train/node-0006"), ("lab/train/node-0007",))


def test_node_order_is_by_index() -> None:
    assert sorted(["a/b/node-10", "a/b/node-9", "a/b/node-0100"], key=node_order) == [
        "a/b/node-9", "a/b/node-10", "a/b/node-0100"]
    with pytest.raises(ValueError, match="at least one node"):
        split_waves(["a/b/node-1"], 0)


@settings(max_examples=150, deadline=None)
@given(indexes=st.lists(st.integers(0, 300), max_size=40), size=st.integers(1, 12),
       in_flight=st.lists(st.integers(0, 300), max_size=6), seed=st.integers(0, 2**16))
def test_waves_never_exceed_size_cover_each_node_once_and_are_deterministic(
        indexes: list[int], size: int, in_flight: list[int], seed: int) -> None:
    addresses = [f"r/p/node-{i:04d}" for i in indexes]
    started = [f"r/p/node-{i:04d}" for i in in_flight]
    waves = split_waves(addresses, size, started)
    assert all(1 <= len(wave) <= size for wave in waves)
    flat = [a for wave in waves for a in wave]
    assert sorted(flat) == sorted(set(addresses)) and len(flat) == len(set(flat))
    shuffled = list(addresses)
    random.Random(seed).shuffle(shuffled)
    assert split_waves(shuffled, size, reversed(started)) == waves
    resumed = [a for a in flat if a in set(started)]
    assert flat[:len(resumed)] == resumed  # the interrupted wave's nodes go first
    rest = flat[len(resumed):]
    assert rest == sorted(rest, key=node_order)


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 40), share=st.one_of(st.integers(1, 40), st.integers(1, 100).map(lambda p: f"{p}%")),
       replaced=st.sets(st.integers(0, 39), max_size=40))
def test_plan_waves_respect_the_pools_share(count: int, share: int | str, replaced: set[int]) -> None:
    if isinstance(share, int):
        share = min(share, count)
    spec = cluster(f"{{max_unavailable: {share!r}}}".replace("'", ""), train=count)
    roll = plan_waves(plan_of(*nodes("train", *sorted(replaced))), spec)
    if not replaced:
        assert roll.pools == ()
        return
    [train] = roll.pools
    assert train.max_unavailable is not None and train.max_unavailable >= 1
    assert all(len(w) <= train.max_unavailable for w in train.waves)
    assert len(train.nodes) == len(replaced)


def test_a_resumed_roll_is_numbered_as_it_counted_from_its_start() -> None:
    """Killed in its 2nd of 4 waves, the roll's plan shows waves 2-4 of 4, not 1-3 of 3."""
    plan = plan_of(*nodes("train", 2, 3, 4, 5, 6, 7))
    roll = plan_waves(plan, cluster("{max_unavailable: 2}"), {("lab", "train"): ["lab/train/node-0002",
                                                                                  "lab/train/node-0003"]},
                      {("lab", "train"): (1, 4)})
    lines = roll.lines()
    assert "waves 2-4 of 4 are left" in lines[0]
    assert lines[1:] == ["  resuming wave 2/4: lab/train/node-0002, node-0003",
                         "  wave 3/4: lab/train/node-0004, node-0005",
                         "  wave 4/4: lab/train/node-0006, node-0007"]


def test_quarantined_nodes_count_against_max_unavailable() -> None:
    """One node of the pool is out already (quarantined, not replaced by this plan): waves of 2 become waves
    of 1; a quarantined node the plan replaces is not counted twice."""
    plan = plan_of(*nodes("train", 0, 1, 2, 3))
    out = plan_waves(plan, cluster("{max_unavailable: 2}"), quarantined=["lab/train/node-0005"])
    assert [len(w) for w in out.pools[0].waves] == [1, 1, 1, 1]
    inside = plan_waves(plan, cluster("{max_unavailable: 2}"), quarantined=["lab/train/node-0001"])
    assert [len(w) for w in inside.pools[0].waves] == [2, 2]
