"""The plan is the contract: what the engine may not replace or delete, and drift replacements shown as such."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from grid.plan import Action, Cause, LiveResource, make_plan
from grid.plan.contract import ALLOWANCE_ENV, Allowance, allowance, violations
from grid.resources import expand
from grid.spec import load_spec_text, spec_digest
from grid.spec.model import Cluster
from grid.state.model import ResourceRecord, State

LAB = Path(__file__).resolve().parents[2] / "examples" / "local-lab" / "cluster.yaml"
NODE = "east/train/node-0000"


def cluster(edit=None) -> Cluster:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(LAB.read_text())
    if edit:
        edit(data)
    loaded = load_spec_text(yaml.safe_dump(data))
    assert loaded.cluster is not None
    return loaded.cluster


def applied(spec: Cluster) -> State:
    return State(cluster=spec.name, resources={
        r.address: ResourceRecord(address=r.address, kind=r.kind.value, region=r.region, attrs=dict(r.attrs))
        for r in expand(spec)})


def plan_for(spec: Cluster, state: State | None, **kwargs):  # type: ignore[no-untyped-def]
    graph = expand(spec, state.allocations() if state else None)
    return make_plan(graph, state, target="local", spec_digest=spec_digest(spec), **kwargs)


def test_an_unchanged_or_updated_address_is_kept_and_may_not_be_replaced_or_deleted() -> None:
    def more_cpus(data: dict) -> None:  # type: ignore[type-arg]
        data["spec"]["regions"][0]["pools"][0]["resources"]["cpus"] = 1.0

    before = cluster()
    plan = plan_for(cluster(more_cpus), applied(before))
    assert {c.action for c in plan.changes if c.address.startswith("east/train/")} == {Action.UPDATE}
    east = allowance(plan, "east")
    assert NODE in east.kept and "east/fabric/compute" in east.kept
    assert not any(a.startswith("west/") for a in east.kept)
    for op in ("replace", "create-replacement", "delete-replaced", "delete"):
        reason = east.refusal(NODE, op, "changed: hostname")
        assert reason is not None and NODE in reason and "the plan shows it staying" in reason
    assert east.refusal(NODE, "update") is None and east.refusal(NODE, "create") is None
    # Addresses the plan never saw (left in a stack by a killed run) are the engine's to clean up.
    assert east.refusal("east/train/node-0009", "delete") is None
    assert violations(east, {NODE: "replace", "east/train/node-0001": "update"}) == [east.refusal(NODE, "replace")]


def test_what_the_plan_replaces_creates_or_deletes_is_not_kept() -> None:
    def mount_moved(data: dict) -> None:  # type: ignore[type-arg]
        data["spec"]["regions"][0]["storage"][0]["mount"] = "/elsewhere"

    def one_node_less(data: dict) -> None:  # type: ignore[type-arg]
        mount_moved(data)
        data["spec"]["regions"][1]["pools"][0]["count"] = 1

    plan = plan_for(cluster(one_node_less), applied(cluster()))
    replaced = {c.address for c in plan.changes if c.action is Action.REPLACE}
    deleted = {c.address for c in plan.changes if c.action is Action.DELETE}
    assert replaced and deleted
    kept = allowance(plan, "east").kept | allowance(plan, "west").kept
    assert not (replaced | deleted) & kept
    assert violations(allowance(plan, "west"), [(a, "delete") for a in deleted]) == []


def test_the_allowance_survives_its_file_form() -> None:
    kept = Allowance("east", frozenset({NODE, "east/fabric/mgmt"}))
    assert Allowance.from_dict(json.loads(json.dumps(kept.to_dict()))) == kept
    assert Allowance.from_dict({}) == Allowance("", frozenset())


def test_a_drift_replacement_is_shown_as_a_replacement_not_a_create() -> None:
    spec = cluster()
    live = {NODE: LiveResource(exists=True, replace=True, detail="must be replaced: what it depends on is gone")}
    plan = plan_for(spec, applied(spec), live=live)
    change = next(c for c in plan.changes if c.address == NODE)
    assert (change.action, change.cause) == (Action.REPLACE, Cause.DRIFT)
    assert plan.counts()["replace"] == 1 and plan.counts()["create"] == 0
    assert NODE not in allowance(plan, "east").kept


def test_an_object_another_state_owns_is_a_plan_error_naming_the_owner() -> None:
    spec = cluster()
    owner = "lineage 1234, state at /srv/ops/.grid/lab"
    live = {NODE: LiveResource(exists=True, detail="container grid-lab-east-train-0000", foreign=owner)}
    for state in (None, applied(spec)):  # a second checkout (no state) and a state that records it
        plan = plan_for(spec, state, live=live)
        assert len(plan.errors) == 1, plan.errors
        assert NODE in plan.errors[0] and owner in plan.errors[0] and "belongs to another grid state" in plan.errors[0]


def test_grids_provider_refuses_a_step_the_plan_did_not_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from grid.stacks import local_provider as provider

    olds = {"address": NODE, "container": "c", "hostname": "a", "authorized_key": "ssh-ed25519 OLD", "cpus": 1}
    # No allowance (preview, refresh, destroy): the diff is Pulumi's to act on.
    monkeypatch.delenv(ALLOWANCE_ENV, raising=False)
    assert provider.NodeProvider().diff("id", olds, {**olds, "hostname": "b"}).replaces == ["hostname"]
    allowed = tmp_path / "allowance.json"
    allowed.write_text(json.dumps(Allowance("east", frozenset({NODE})).to_dict()))
    monkeypatch.setenv(ALLOWANCE_ENV, str(allowed))
    with pytest.raises(RuntimeError, match="the plan shows it staying"):
        provider.NodeProvider().diff("id", olds, {**olds, "hostname": "b"})
    with pytest.raises(RuntimeError, match="would delete it"):
        provider.NodeProvider().delete("id", olds)
    # The admin key is configuration: a new one changes nothing Pulumi does.
    same = provider.NodeProvider().diff("id", olds, {**olds, "authorized_key": "ssh-ed25519 NEW"})
    assert not same.changes and not same.replaces
    # A node taken off a network is updated in place (re-attached), not replaced.
    detached = provider.NodeProvider().diff("id", {**olds, "detached": ["net-a"]}, olds)
    assert detached.changes and not detached.replaces
