"""--target/--exclude: which addresses a partial run may touch (grid.plan.selection, grid.plan.partial)."""

from __future__ import annotations

from typing import Any

import pytest

from grid.errors import GridError
from grid.plan.document import from_document, to_document
from grid.plan.model import Action, HostConfigChange, Plan, ResourceChange
from grid.plan.partial import effective_graph, narrowed, select, select_for_destroy
from grid.plan.selection import Selection, matches
from grid.resources import Kind, Resource, ResourceGraph
from grid.state.model import ResourceRecord, State

MGMT = "east/fabric/mgmt"


def _node(address: str, fabric: str = "mgmt", storage: tuple[str, ...] = ()) -> Resource:
    return Resource(address, Kind.NODE, "east", {"fabrics": {fabric: "10.0.0.2"},
                                                 "storage": {s: "/" + s for s in storage}, "cpus": 1})


def _fabric(name: str = "mgmt") -> Resource:
    return Resource(f"east/fabric/{name}", Kind.FABRIC, "east", {"name": name, "cidr": "10.0.0.0/24"})


def _recorded(*resources: Resource, **changed: Any) -> State:
    return State(cluster="c", resources={r.address: ResourceRecord(
        address=r.address, kind=r.kind.value, region=r.region, attrs={**dict(r.attrs), **changed})
        for r in resources})


def _plan(graph: ResourceGraph, state: State) -> Plan:
    from grid.plan.diff import make_plan

    return make_plan(graph, state, target="local", spec_digest="d", serial=1, lineage="l")


def test_globs_match_addresses_and_path_prefixes() -> None:
    assert matches("east/train/node-0003", "east/*")
    assert matches("east/train/node-0003", "*/train/node-00*")
    assert matches("east/train/node-0003", "east/train")  # a path part selects what is under it
    assert not matches("east/training/node-0003", "east/train")
    assert matches("link/east--west", "link/east--west")


def test_targets_minus_excludes_and_the_count_of_all() -> None:
    graph = ResourceGraph("c", (_fabric(), _node("east/a/node-0000"), _node("east/a/node-0001"),
                                _node("east/b/node-0000")))
    state = _recorded(*graph)
    chosen = select(_plan(graph, state), graph, state, ["east/a/*"], ["*/node-0001"])
    assert chosen.addresses == ("east/a/node-0000",)
    assert chosen.headline() == "Partial plan: --target east/a/* --exclude */node-0001 (1 of 4 resources)"


def test_a_pattern_that_matches_nothing_is_named() -> None:
    graph = ResourceGraph("c", (_fabric(), _node("east/a/node-0000")))
    state = _recorded(*graph)
    with pytest.raises(GridError, match=r"--target west/\*: matches no resource"):
        select(_plan(graph, state), graph, state, ["east/a/*", "west/*"], [])
    with pytest.raises(GridError, match=r"--exclude nope: matches no resource"):
        select(_plan(graph, state), graph, state, [], ["nope"])


def test_a_new_node_pulls_in_its_new_fabric_and_storage() -> None:
    graph = ResourceGraph("c", (_fabric(), _fabric("ib"), Resource("east/storage/pfs", Kind.VOLUME, "east", {}),
                                _node("east/a/node-0000", "ib", ("pfs",)), _node("east/b/node-0000")))
    state = _recorded(_fabric())  # only mgmt exists
    chosen = select(_plan(graph, state), graph, state, ["east/a/*"], [])
    assert chosen.addresses == ("east/a/node-0000", "east/fabric/ib", "east/storage/pfs")
    assert chosen.pulled == {"east/fabric/ib": "east/a/node-0000", "east/storage/pfs": "east/a/node-0000"}


def test_excluding_a_new_fabric_a_selected_new_node_needs_is_refused() -> None:
    graph = ResourceGraph("c", (_fabric(), _node("east/a/node-0000")))
    state = State(cluster="c")
    with pytest.raises(GridError, match=r"east/a/node-0000: it needs east/fabric/mgmt, which does not exist yet "
                                        r"and is excluded"):
        select(_plan(graph, state), graph, state, ["east/*"], [MGMT])


def test_deleting_a_fabric_its_unselected_nodes_use_is_refused() -> None:
    old = _fabric("old")
    node = _node("east/a/node-0000", "old")
    graph = ResourceGraph("c", (_fabric(),))  # both gone from the spec
    state = _recorded(_fabric(), old, node)
    with pytest.raises(GridError, match=r"east/fabric/old: deleting it needs east/a/node-0000 gone or selected"):
        select(_plan(graph, state), graph, state, ["east/fabric/old"], [])
    assert select(_plan(graph, state), graph, state, ["east/fabric/old", "east/a/*"], []).addresses == (
        "east/a/node-0000", "east/fabric/old")


def test_destroying_a_fabric_needs_its_nodes() -> None:
    state = _recorded(_fabric(), _node("east/a/node-0000"))
    with pytest.raises(GridError, match="deleting it needs east/a/node-0000"):
        select_for_destroy(state, [MGMT], [])
    assert select_for_destroy(state, ["east/a/node-0000"], []).addresses == ("east/a/node-0000",)


def test_the_applied_graph_keeps_unselected_resources_as_recorded() -> None:
    graph = ResourceGraph("c", (_fabric(), _node("east/a/node-0000"), _node("east/b/node-0000"),
                                _node("east/b/node-0001")))
    state = _recorded(_fabric(), _node("east/a/node-0000"), _node("east/b/node-0000"), cpus=4)
    whole = _plan(graph, state)
    chosen = select(whole, graph, state, ["east/a/*"], [])
    applied = effective_graph(graph, state, chosen)
    assert [r.address for r in applied] == [MGMT, "east/a/node-0000", "east/b/node-0000"]  # b/0001 not made
    b_node = applied.get("east/b/node-0000")
    assert b_node is not None and b_node.attrs["cpus"] == 4  # as recorded, not as the spec wants
    plan = narrowed(_plan(applied, state), whole, chosen)
    assert [(c.address, c.action) for c in plan.pending] == [("east/a/node-0000", Action.UPDATE)]
    assert plan.selection is not None
    assert plan.selection.left_out == (
        "left out: 3 change(s) outside the selection (the next full plan shows them)",)  # fabric, b/0000, b/0001


def test_configuration_outside_the_selection_is_left_out() -> None:
    whole = Plan("c", "local", "d", 1, "l", (ResourceChange("east/a/node-0001", "node", "east", Action.CREATE),),
                 config=(HostConfigChange("east/a/node-0001", "full", "new node"),
                         HostConfigChange("east/b/node-0000", "hosts", "the cluster's hosts table changed")))
    selection = Selection(("east/a/*",), (), ("east/a/node-0001",), 3)
    plan = narrowed(whole, whole, selection)
    assert [h.address for h in plan.config] == ["east/a/node-0001"]
    assert plan.selection is not None and plan.selection.left_out == (
        "left out: 1 host outside the selection would learn the new hosts table (the next full run does it)",)


def test_the_saved_plan_carries_its_selection() -> None:
    selection = Selection(("east/a/*",), ("*/node-0001",), ("east/a/node-0000",), 4, {MGMT: "east/a/node-0000"},
                          ("left out: x",))
    plan = Plan("c", "local", "d", 1, "l", (), selection=selection)
    document = to_document(plan)
    assert document["selection"]["targets"] == ["east/a/*"]
    assert from_document(document).selection == selection
    assert to_document(Plan("c", "local", "d", 1, "l", ()))["selection"] is None


def test_checks_keep_the_selected_nodes_and_what_they_use() -> None:
    from grid.plan.partial import with_nodes

    graph = ResourceGraph("c", (_fabric(), _node("east/a/node-0000"), _node("east/b/node-0000")))
    assert [r.address for r in with_nodes(graph, (), ["east/b/*"])] == [MGMT, "east/a/node-0000"]
    with pytest.raises(GridError, match="--target west: matches no resource"):
        with_nodes(graph, ["west"], ())


def test_with_a_region_the_selection_is_taken_within_it() -> None:
    west = Resource("west/b/node-0000", Kind.NODE, "west", {"fabrics": {}, "storage": {}})
    graph = ResourceGraph("c", (_fabric(), _node("east/a/node-0000"), west))
    state = _recorded(*graph)
    assert select(_plan(graph, state), graph, state, ["*/node-0000"], [], ["east"]).addresses == (
        "east/a/node-0000",)
    with pytest.raises(GridError, match=r"--target west/\*: matches no resource"):
        select(_plan(graph, state), graph, state, ["west/*"], [], ["east"])
