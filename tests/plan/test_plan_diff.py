"""Plans from spec + state: actions, attribute changes, update policies, protected storage, drift."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from grid.drift import drift_report
from grid.plan import Action, Cause, LiveResource, Policy, make_plan
from grid.plan.document import from_document, to_document
from grid.resources import Kind, expand
from grid.spec import load_spec_text, spec_digest
from grid.spec.model import Cluster
from grid.state.model import ResourceRecord, State
from support.schemas import validate

LAB = Path(__file__).resolve().parents[2] / "examples" / "local-lab" / "cluster.yaml"


def cluster(edit=None) -> Cluster:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(LAB.read_text())
    if edit:
        edit(data)
    loaded = load_spec_text(yaml.safe_dump(data))
    assert loaded.cluster is not None, loaded.diagnostics
    return loaded.cluster


def applied(spec: Cluster) -> State:
    """The state `grid up` would leave after applying `spec`."""
    graph = expand(spec)
    return State(cluster=spec.name, resources={
        r.address: ResourceRecord(address=r.address, kind=r.kind.value, region=r.region, attrs=dict(r.attrs))
        for r in graph})


def plan_for(spec: Cluster, state: State | None, **kwargs):  # type: ignore[no-untyped-def]
    graph = expand(spec, state.allocations() if state else None)
    return make_plan(graph, state, target=spec.spec.target, spec_digest=spec_digest(spec), **kwargs)


def actions(plan) -> dict[str, Action]:  # type: ignore[no-untyped-def]
    return {c.address: c.action for c in plan.changes if c.action is not Action.NOOP}


def test_empty_state_creates_every_address() -> None:
    spec = cluster()
    plan = plan_for(spec, None)
    assert set(actions(plan)) == {r.address for r in expand(spec)}
    assert all(a is Action.CREATE for a in actions(plan).values())
    assert plan.has_changes


def test_applied_state_plans_no_changes() -> None:
    spec = cluster()
    plan = plan_for(spec, applied(spec))
    assert actions(plan) == {}
    assert not plan.has_changes


def test_cpu_limit_is_an_in_place_update() -> None:
    before = cluster()
    after = cluster(lambda d: d["spec"]["regions"][0]["pools"][0]["resources"].update(cpus=1.0))
    plan = plan_for(after, applied(before))
    changes = {c.address: c for c in plan.changes if c.action is not Action.NOOP}
    assert set(changes) == {"east/train/node-0000", "east/train/node-0001"}
    change = changes["east/train/node-0000"]
    assert change.action is Action.UPDATE and change.policy is Policy.IN_PLACE
    assert [(a.name, a.before, a.after) for a in change.attributes] == [("cpus", 0.5, 1.0)]


def test_mtu_change_replaces_the_network() -> None:
    before = cluster()
    after = cluster(lambda d: d["spec"]["regions"][1]["fabrics"][0].update(mtu=9000))
    plan = plan_for(after, applied(before))
    change = next(c for c in plan.changes if c.address == "west/fabric/mgmt")
    assert change.action is Action.REPLACE and change.policy is Policy.REPLACES
    assert change.attributes[0].name == "mtu"


def test_growing_a_pool_keeps_every_existing_address() -> None:
    before = cluster()
    after = cluster(lambda d: d["spec"]["regions"][0]["pools"][0].update(count=4))
    plan = plan_for(after, applied(before))
    assert actions(plan) == {"east/train/node-0002": Action.CREATE, "east/train/node-0003": Action.CREATE}


def test_sticky_addresses_survive_removing_an_earlier_node() -> None:
    before = cluster(lambda d: d["spec"]["regions"][0]["pools"][0].update(count=3))
    state = applied(before)
    kept = state.resources["east/train/node-0001"].attrs["fabrics"]
    state = state.model_copy(update={"resources": {
        a: r for a, r in state.resources.items() if a != "east/train/node-0000"}})
    graph = expand(before, state.allocations())
    assert graph.get("east/train/node-0001").attrs["fabrics"] == kept  # type: ignore[union-attr]


def test_deleting_protected_storage_is_an_error_unless_allowed() -> None:
    before = cluster(lambda d: d["spec"]["regions"][0]["storage"][0].update(protect=True))
    after = cluster(lambda d: (d["spec"]["regions"][0].update(storage=[]),
                               d["spec"]["regions"][0]["pools"][0].update(storage=[])))
    plan = plan_for(after, applied(before))
    assert any("east/storage/pfs" in e and "protected" in e for e in plan.errors)
    allowed = plan_for(after, applied(before), allow_destroy_protected=True)
    assert allowed.errors == ()
    assert actions(allowed)["east/storage/pfs"] is Action.DELETE


def test_missing_container_is_drift_not_a_spec_change() -> None:
    spec = cluster()
    live = {"east/train/node-0001": LiveResource(exists=False, detail="container is missing"),
            "west/infer/node-0000": LiveResource(exists=True, healthy=False, detail="container is exited")}
    plan = plan_for(spec, applied(spec), live=live)
    drifted = {c.address: c for c in plan.drifted}
    assert drifted["east/train/node-0001"].action is Action.CREATE
    assert drifted["west/infer/node-0000"].action is Action.UPDATE
    assert all(c.cause is Cause.DRIFT for c in drifted.values())
    assert plan.refreshed


def test_a_region_whose_last_run_did_not_finish_is_to_complete_even_when_nothing_differs() -> None:
    spec = cluster()
    state = applied(spec).model_copy(update={"interrupted": ["east", "gone-region"]})
    plan = plan_for(spec, state)
    assert actions(plan) == {}
    assert plan.unfinished == ("east",)  # a region no longer in the spec is deleted, not completed
    assert plan.has_changes
    assert from_document(to_document(plan)).unfinished == ("east",)


@pytest.mark.parametrize("edit", [None, lambda d: d["spec"]["regions"][0]["pools"][0].update(count=3)])
def test_plan_document_round_trips(edit) -> None:  # type: ignore[no-untyped-def]
    spec = cluster(edit)
    plan = plan_for(spec, applied(cluster()))
    again = from_document(to_document(plan))
    assert again.changes == plan.changes
    assert again.spec_digest == plan.spec_digest
    assert to_document(again) == to_document(plan)


def test_host_configuration_scopes() -> None:
    spec = cluster()
    state = applied(spec)
    graph = expand(spec)
    nodes = [r.address for r in graph if r.kind is Kind.NODE]
    from grid.state.model import HostRecord

    hosts = {a: HostRecord(address=a, status="configured", node_digest="n", cluster_digest="c", hosts_digest="h")
             for a in nodes}
    state = state.model_copy(update={"hosts": hosts})
    digests = {a: ("n", "c", "h") for a in nodes}
    digests[nodes[0]] = ("n2", "c", "h2")
    digests[nodes[1]] = ("n", "c2", "h2")
    digests[nodes[2]] = ("n", "c", "h2")
    plan = make_plan(graph, state, target="local", spec_digest="x", host_digests=digests)
    scopes = {h.address: h.scope for h in plan.config}
    assert scopes == {nodes[0]: "full", nodes[1]: "cluster-wide", nodes[2]: "hosts"}


def test_drift_names_a_region_whose_last_run_did_not_finish() -> None:
    spec = cluster()
    state = applied(spec).model_copy(update={"interrupted": ["west"]})
    report = drift_report(plan_for(spec, state), state, live_hosts=None)
    assert report.drifted  # `grid drift --detailed-exitcode` exits 2
    assert [(i.address, i.kind) for i in report.items] == [("west", "region")]
    assert "did not finish" in report.items[0].actual
    validate(report.to_dict(), "grid-drift-v1")
