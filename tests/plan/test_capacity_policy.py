"""How a cloud pool is bought reaches its nodes: changing it (or the reservation) replaces them, as the plan says."""

from __future__ import annotations

from typing import Any

from grid.plan import Action, Policy, make_plan
from grid.resources import Kind, expand
from grid.spec import spec_digest
from grid.spec.model import Cluster
from support.paths import EXAMPLES
from support.specs import applied_state, cluster_from

P5 = EXAMPLES / "clouds" / "aws-p5.yaml"


def plan_after(before: Cluster, after: Cluster):  # type: ignore[no-untyped-def]
    state = applied_state(expand(before))
    return make_plan(expand(after, state.allocations()), state, target=after.spec.target,
                     spec_digest=spec_digest(after))


def train(data: dict[str, Any]) -> dict[str, Any]:
    pool: dict[str, Any] = data["spec"]["regions"][0]["pools"][1]
    assert pool["name"] == "train"
    return pool


def test_nodes_carry_provisioning_only_when_not_on_demand() -> None:
    nodes = {n.address: n.attrs for n in expand(cluster_from(P5)).of_kind(Kind.NODE)}
    assert nodes["use1/train/node-0000"]["reservation"] == "cr-0123456789abcdef0"
    assert nodes["use1/train/node-0000"]["provisioning"] == "reservation"
    assert nodes["use1/burst/node-0000"]["provisioning"] == "spot"
    assert "provisioning" not in nodes["use1/head/node-0000"]  # on demand: attrs (and digests) as before
    local = expand(cluster_from(EXAMPLES / "local-lab" / "cluster.yaml"))
    assert not any("provisioning" in n.attrs for n in local.of_kind(Kind.NODE))


def test_a_new_reservation_replaces_the_pools_nodes_and_says_why() -> None:
    before = cluster_from(P5)
    after = cluster_from(P5, lambda data: train(data).update(reservation="cr-0fedcba9876543210"))
    plan = plan_after(before, after)
    changed = {c.address: c for c in plan.changes if c.action is not Action.NOOP}
    assert set(changed) == {f"use1/train/node-000{i}" for i in range(8)}
    for change in changed.values():
        assert change.action is Action.REPLACE
        (diff,) = change.attributes
        assert (diff.name, diff.before, diff.after, diff.policy) == (
            "reservation", "cr-0123456789abcdef0", "cr-0fedcba9876543210", Policy.REPLACES)


def test_leaving_the_reservation_for_on_demand_replaces_the_nodes() -> None:
    def on_demand(data: dict[str, Any]) -> None:
        pool = train(data)
        pool["provisioning"] = "on-demand"
        del pool["reservation"]

    plan = plan_after(cluster_from(P5), cluster_from(P5, on_demand))
    change = next(c for c in plan.changes if c.address == "use1/train/node-0000")
    assert change.action is Action.REPLACE
    assert {(d.name, d.policy) for d in change.attributes} == {
        ("provisioning", Policy.REPLACES), ("reservation", Policy.REPLACES)}


def test_fsx_throughput_changes_in_place_its_deployment_type_replaces() -> None:
    def storage(**values: Any):  # type: ignore[no-untyped-def]
        return lambda data: data["spec"]["regions"][0]["storage"][0].update(values)

    before = cluster_from(P5)
    faster = plan_after(before, cluster_from(P5, storage(throughput_mbps_per_tib=1000)))
    change = next(c for c in faster.changes if c.address == "use1/storage/fsx")
    assert change.action is Action.UPDATE
    scratch = plan_after(before, cluster_from(P5, storage(deployment_type="SCRATCH_2", throughput_mbps_per_tib=None)))
    change = next(c for c in scratch.changes if c.address == "use1/storage/fsx")
    assert change.action is Action.REPLACE
