"""drift.py's pure parts: the report made from a plan against live objects and a check-mode run, its JSON
document, and what `grid drift` remembers in state for the next `grid up`."""

from __future__ import annotations

from grid.drift import DriftReport, drift_report, record_drift
from grid.plan import LiveResource, Plan, make_plan
from grid.plan.diff import LiveHost
from grid.resources import expand
from grid.spec import spec_digest
from grid.state.model import HostRecord, State
from support.paths import LOCAL_LAB
from support.specs import applied_state, cluster_from

MISSING, EXITED = "east/train/node-0001", "west/infer/node-0000"  # resource drift
CHANGED, GONE_DARK = "east/train/node-0000", "west/infer/node-0001"  # configuration changed; host unreachable


def configured(state: State) -> State:
    hosts = {a: HostRecord(address=a, status="configured") for a, r in state.resources.items() if r.kind == "node"}
    return state.model_copy(update={"hosts": hosts})


def lab_plan(live: dict[str, LiveResource] | None = None) -> tuple[Plan, State]:
    cluster = cluster_from(LOCAL_LAB)
    state = configured(applied_state(expand(cluster)))
    graph = expand(cluster, state.allocations())
    return make_plan(graph, state, target="local", spec_digest=spec_digest(cluster), live=live or {}), state


def test_a_converged_cluster_has_no_drift() -> None:
    plan, state = lab_plan()
    report = drift_report(plan, state, live_hosts={a: LiveHost() for a in state.hosts})
    assert report == DriftReport("lab", ())
    assert not report.drifted
    assert report.to_dict() == {"format": "grid-drift/v1", "cluster": "lab", "drifted": False, "items": [],
                                "unverifiable": {}, "unreachable": []}


def test_each_kind_of_drift_is_an_item_with_what_up_will_do() -> None:
    plan, state = lab_plan({MISSING: LiveResource(exists=False, detail="container is missing"),
                            EXITED: LiveResource(exists=True, healthy=False, detail="container is exited")})
    live_hosts = {CHANGED: LiveHost(drifted_tasks=("base : sysctl",), unverifiable_tasks=("fabric : mtu",)),
                  MISSING: LiveHost(unreachable=True),  # gone: its resource item says so already
                  GONE_DARK: LiveHost(unreachable=True)}

    report = drift_report(plan, state, live_hosts)

    items = {(i.address, i.kind): i for i in report.items}
    assert items[MISSING, "resource"].remedy == "recreate it"
    assert items[MISSING, "resource"].actual == "container is missing"
    assert items[EXITED, "resource"].remedy == "restart/update it in place"
    assert items[EXITED, "resource"].recorded == "exists and running"
    assert items[CHANGED, "configuration"].tasks == ("base : sysctl",)
    assert len(items) == 3
    assert report.unreachable == (GONE_DARK,)
    assert report.unverifiable == {CHANGED: ("fabric : mtu",)}
    assert report.drifted
    document = report.to_dict()
    assert document["drifted"] is True and document["unreachable"] == [GONE_DARK]
    assert {"address": CHANGED, "kind": "configuration", "recorded": "configured", "actual": "changed by hand",
            "remedy": "re-run the playbook on this host only", "tasks": ["base : sysctl"],
            "findings": ["task changed: base : sysctl"]} in document["items"]


def test_an_unreachable_host_alone_is_drift() -> None:
    plan, state = lab_plan()
    report = drift_report(plan, state, {GONE_DARK: LiveHost(unreachable=True)})
    assert report.items == () and report.drifted


def test_configuration_drift_is_remembered_on_its_hosts_only() -> None:
    plan, state = lab_plan({MISSING: LiveResource(exists=False, detail="container is missing")})
    report = drift_report(plan, state, {CHANGED: LiveHost(drifted_tasks=("base : users",))})

    recorded = record_drift(state, report)

    assert recorded.hosts[CHANGED].status == "drifted" and recorded.hosts[CHANGED].drift == ["base : users"]
    assert {a: h for a, h in recorded.hosts.items() if a != CHANGED} == \
        {a: h for a, h in state.hosts.items() if a != CHANGED}  # a missing node is the plan's to recreate
    assert state.hosts[CHANGED].status == "configured"  # the state given is not changed
