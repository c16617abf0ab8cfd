"""Quarantined nodes where people look: `grid status` lists them (address, check, since, replacement) and the
plan's capacity says the accelerators out of service per region; a cluster with none shows nothing new."""

from __future__ import annotations

from grid.cli.views.status import status_lines
from grid.operations.status import status_of
from grid.plan.out_of_service import out_of_service_lines, with_out_of_service
from grid.resources import expand
from grid.state.model import QuarantineRecord, State
from support.paths import EXAMPLES
from support.specs import applied_state, cluster_from

EXAMPLE = EXAMPLES / "health" / "cluster.yaml"


def quarantined_state() -> State:
    state = applied_state(expand(cluster_from(EXAMPLE)))
    return state.model_copy(update={"quarantined": {
        "lab/train/node-0003": QuarantineRecord(address="lab/train/node-0003", check="device.health", device="3",
                                                since="2026-12-05T10:00:00Z", replacement="lab/train/node-0008"),
        "lab/train/node-0005": QuarantineRecord(address="lab/train/node-0005", check="link", device="1",
                                                since="2026-12-05T10:01:00Z")}})


def test_status_lists_the_quarantined_nodes() -> None:
    cluster = cluster_from(EXAMPLE)
    state = quarantined_state()
    found = status_of(cluster, state, 7, expand(cluster), None)
    lines = [text for text, _ in status_lines(found, spec_path="cluster.yaml")]
    assert "Quarantined (2 node(s), drained in Slurm): `grid up cluster.yaml --heal` replaces or resumes them" in lines
    assert ("  ! lab/train/node-0003: device.health device 3 since 2026-12-05T10:00:00Z, replacement "
            "lab/train/node-0008") in lines
    assert found.to_dict()["quarantined"][1]["check"] == "link"
    healthy = status_of(cluster, applied_state(expand(cluster)), 7, expand(cluster), None)
    assert not any(text.startswith("Quarantined") for text, _ in status_lines(healthy, spec_path="c.yaml"))


def test_the_plan_capacity_says_what_is_out_of_service_per_region() -> None:
    capacity = with_out_of_service({"summary": {}}, quarantined_state())
    assert capacity["out_of_service"] == [{"region": "lab", "accelerator": "ascend-910b", "accelerators": 16,
                                           "nodes": 2}]
    assert out_of_service_lines(capacity) == ["out of service: 16 ascend-910b on 2 quarantined nodes (lab)"]
    assert with_out_of_service({"summary": {}}, State(cluster="x")) == {"summary": {}}  # plans as before
