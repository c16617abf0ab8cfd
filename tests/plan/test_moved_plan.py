"""`moved:` renames in plans: the state re-addressed, the objects' names kept, zero creates and deletes
(grid.plan.moved), and the plan's text and JSON saying so."""

from __future__ import annotations

from typing import Any

from grid.plan.diff import make_plan
from grid.plan.document import from_document, to_document
from grid.plan.model import Plan
from grid.plan.moved import keep_recorded_names, readdress, with_moves
from grid.render.pulumi import region_program_input
from grid.resources import expand
from grid.spec import load_spec_text
from grid.spec.model import Cluster
from grid.state.model import HostRecord, PoolSlots, QuarantineRecord, State
from support.specs import applied_state

SPEC = """\
apiVersion: grid/v1
kind: Cluster
metadata: {name: mv}
spec:
  target: local
  regions:
    - name: east
      site: {power_mw: 1}
      fabrics:
        - {name: mgmt, cidr: 198.19.32.0/24}
      storage:
        - {name: data, kind: nfs, capacity_tib: 1, mount: /data}
      pools:
        - {name: train-old, count: 2, fabrics: [mgmt], storage: [data]}
        - {name: infer, count: 1, fabrics: [mgmt], storage: [data]}
"""


def _cluster(text: str) -> tuple[Cluster, Any]:
    loaded = load_spec_text(text, "cluster.yaml")
    assert loaded.cluster is not None, [d.summary for d in loaded.diagnostics]
    return loaded.cluster, loaded.source


def _renamed(old: str, new: str, moved: str) -> str:
    return SPEC.replace(old, new) + "  moved:\n" + moved


def _applied() -> State:
    cluster, _ = _cluster(SPEC)
    state = applied_state(expand(cluster))
    hosts = {a: HostRecord(address=a, status="configured") for a, r in state.resources.items() if r.kind == "node"}
    return state.model_copy(update={
        "hosts": hosts, "slots": {"east/train-old": PoolSlots(retired=[5])},
        "quarantined": {"east/train-old/node-0001": QuarantineRecord(
            address="east/train-old/node-0001", check="ecc", replacement="east/train-old/node-0002")}})


def _plan(text: str, state: State) -> tuple[Plan, State]:
    cluster, source = _cluster(text)
    moved = readdress(cluster, state)
    graph = keep_recorded_names(expand(cluster, moved.allocations()), moved)
    plan = make_plan(graph, moved, target="local", spec_digest="d", serial=1, lineage="l")
    return with_moves(plan, cluster, moved, source), moved


def test_a_pool_rename_plans_no_create_and_no_delete() -> None:
    state = _applied()
    text = _renamed("train-old", "train", "    - {from: east/train-old, to: east/train}\n")
    plan, moved = _plan(text, state)
    counts = plan.counts()
    assert counts["create"] == counts["delete"] == counts["replace"] == counts["update"] == 0
    assert plan.moved is not None and plan.has_changes and not plan.errors
    assert [(m.previous, m.address) for m in plan.moved.resources] == [
        ("east/train-old/node-0000", "east/train/node-0000"), ("east/train-old/node-0001", "east/train/node-0001")]
    assert plan.unfinished == ()  # the region runs for its moves, and says so as moves
    # The records follow, with the objects' names as they were made.
    node = moved.resources["east/train/node-0000"]
    assert node.attrs["pool"] == "train" and node.attrs["container"] == "grid-mv-east-train-old-0000"
    assert node.attrs["hostname"] == "east-train-old-0000"
    assert node.attrs["fabrics"] == state.resources["east/train-old/node-0000"].attrs["fabrics"]
    assert moved.resources["east/storage/data"].attrs["pools"] == ["infer", "train"]
    assert set(moved.hosts) == {"east/train/node-0000", "east/train/node-0001", "east/infer/node-0000"}
    assert moved.hosts["east/train/node-0000"].address == "east/train/node-0000"
    assert moved.slots == {"east/train": PoolSlots(retired=[5])}
    assert moved.quarantined["east/train/node-0001"].replacement == "east/train/node-0002"
    assert moved.interrupted == ["east"] and moved.moved_now == {
        "east/train/node-0000": "east/train-old/node-0000", "east/train/node-0001": "east/train-old/node-0001"}
    assert "moved_now" not in moved.model_dump()  # never stored


def test_the_plan_says_moved_in_text_and_json() -> None:
    from cli.views.markdown import plan_markdown
    from cli.views.plan import plan_lines

    text = _renamed("train-old", "train", "    - {from: east/train-old, to: east/train}\n")
    plan, _ = _plan(text, _applied())
    lines = [line for line, _ in plan_lines(plan)]
    assert "  ~> east/train-old/node-0000 → east/train/node-0000  (moved)" in lines
    assert lines[-1].startswith("Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 2 moved,")
    again = from_document(to_document(plan))
    assert again.moved == plan.moved and again.has_changes
    markdown = plan_markdown(plan)
    assert "**2** moved" in markdown and "`east/train-old/node-0000` → `east/train/node-0000`" in markdown


def test_once_applied_the_entry_is_a_warning_and_the_plan_empty() -> None:
    text = _renamed("train-old", "train", "    - {from: east/train-old, to: east/train}\n")
    _, moved = _plan(text, _applied())
    stored = State.model_validate(moved.model_dump()).model_copy(update={"interrupted": []})
    plan, again = _plan(text, stored)
    assert again is stored or again == stored
    assert not plan.has_changes and plan.moved is not None and not plan.moved.resources
    (warning,) = plan.moved.warnings
    assert warning.startswith(f"cluster.yaml:{len(text.splitlines())}:")
    assert "matches nothing in the state" in warning and "remove this entry" in warning
    # Without the entry, the names stay those the objects were made with: still nothing to do.
    plain, _ = _plan(SPEC.replace("train-old", "train"), stored)
    assert not plain.has_changes and plain.moved is None


def test_a_to_the_state_holds_already_is_an_error() -> None:
    cluster, _ = _cluster(SPEC.replace("- {name: infer, count: 1", "- {name: train, count: 1"))
    both = applied_state(expand(cluster))
    text = SPEC.replace("- {name: train-old, count: 2", "- {name: other, count: 2").replace(
        "- {name: infer, count: 1", "- {name: train, count: 1")
    text += "  moved:\n    - {from: east/train-old, to: east/train}\n"
    plan, moved = _plan(text, both)
    assert moved.moved_now == {}
    (error,) = plan.errors
    assert error.startswith(f"cluster.yaml:{len(text.splitlines())}:") and "exists in the state already" in error


def test_fabric_and_storage_renames_keep_networks_volumes_and_nodes() -> None:
    state = _applied()
    text = (SPEC.replace("name: mgmt", "name: admin").replace("[mgmt]", "[admin]")
            .replace("name: data", "name: shared").replace("[data]", "[shared]")
            + "  moved:\n    - {from: east/fabric/mgmt, to: east/fabric/admin}\n"
              "    - {from: east/storage/data, to: east/storage/shared}\n")
    plan, moved = _plan(text, state)
    assert [c for c in plan.changes if c.action.value != "no-op"] == []
    assert plan.moved is not None and {m.address for m in plan.moved.resources} == {
        "east/fabric/admin", "east/storage/shared"}
    assert moved.resources["east/fabric/admin"].attrs["network"] == "grid-mv-east-mgmt"
    assert moved.resources["east/storage/shared"].attrs["volume"] == "grid-mv-east-data"
    node = moved.resources["east/infer/node-0000"].attrs
    assert set(node["fabrics"]) == {"admin"} and node["storage"] == {"shared": "/data"}


def test_the_stack_program_gets_aliases() -> None:
    cluster, _ = _cluster(_renamed("train-old", "train", "    - {from: east/train-old, to: east/train}\n"))
    data = region_program_input(cluster, expand(cluster), "east", authorized_key="")
    assert data["aliases"] == {"east/train/node-0000": "east/train-old/node-0000",
                               "east/train/node-0001": "east/train-old/node-0001"}
    plain, _ = _cluster(SPEC)
    assert "aliases" not in region_program_input(plain, expand(plain), "east", authorized_key="")


def test_a_run_killed_after_the_first_state_write_is_completed_by_the_next() -> None:
    """The first write holds every moved record and marks the region unfinished; killed before the stack ran,
    the next plan runs the region again (its program still has the aliases), and nothing moves twice."""
    text = _renamed("train-old", "train", "    - {from: east/train-old, to: east/train}\n")
    _, moved = _plan(text, _applied())
    stored = State.model_validate(moved.model_dump())  # as written, before the stack's re-address
    assert stored.interrupted == ["east"] and stored.moved_now == {}
    plan, again = _plan(text, stored)
    assert plan.unfinished == ("east",) and plan.has_changes and not plan.errors
    assert [c for c in plan.changes if c.action.value != "no-op"] == []
    assert again.resources == stored.resources
    cluster, _ = _cluster(text)
    assert "aliases" in region_program_input(cluster, expand(cluster), "east", authorized_key="")
