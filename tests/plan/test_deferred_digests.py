"""A first plan leaves the host digests uncomputed until something reads them, and nothing else changes.

A host without a state record needs its full configuration whatever its digests are, so a plan of new hosts
needs only their addresses (grid.plan.deferred); the apply that records the digests computes them then. What
a user checks: the plan (its changes, configuration work, JSON document) is the one the eager digests give;
the digests the apply records are the real ones (the next plan is empty); a state with host records still
compares every host.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from grid import operations
from grid.plan.deferred import DeferredDigests, deferred
from grid.plan.diff import make_plan
from grid.plan.digests import host_input_digests
from grid.plan.document import to_document
from grid.resources import Resource, ResourceGraph, expand
from grid.state.model import empty_state
from grid.workspace import Workspace, admin_public_key, graph_for, open_workspace, plan_parts
from support.fakes import FakeStacks, RecordingAnsible
from support.paths import EXAMPLES
from support.specs import cluster_from

AWS_LAB = EXAMPLES / "targets" / "lab-aws.yaml"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4q0rBRXC7SP2d5dq0bP4lMdc6V9EmXTaYVnsK2N2Ah grid@test"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    opened = open_workspace(AWS_LAB, workdir=tmp_path / "work")
    assert isinstance(opened, Workspace)
    return opened


def up_with_fake_engines(ws: Workspace) -> None:
    stacks, ansible = FakeStacks(seconds=(0.0, 0.0)), RecordingAnsible()
    engines = operations.Engines(stacks=lambda *_: stacks, ansible=lambda _: ansible)
    operations.up(ws, operations.UpOptions(skip_check=True), approve=lambda *_: None, emit=lambda e: None,
                  engines=engines)


def eager(ws: Workspace, graph: ResourceGraph, key: str) -> dict[str, tuple[str, str, str]]:
    return dict(host_input_digests(ws.cluster, graph, admin_public_key=key, own=ws.own))


def test_a_first_plan_is_the_eager_one_and_computes_no_digest(ws: Workspace) -> None:
    state = empty_state(ws.cluster.name)
    parts = plan_parts(ws, envelope=None, state=state)
    digests = parts.host_digests
    assert isinstance(digests, DeferredDigests) and not digests.computed
    expected = eager(ws, parts.graph, parts.public_key)
    made = make_plan(parts.graph, None, target=ws.cluster.spec.target, spec_digest=parts.plan.spec_digest,
                     host_digests=expected, capacity=parts.plan.capacity)
    assert parts.plan.config == made.config and parts.plan.changes == made.changes
    assert {c.scope for c in parts.plan.config} == {"full"} and len(parts.plan.config) == len(expected)
    document = to_document(parts.plan)
    assert document["changes"] == to_document(made)["changes"]
    assert not digests.computed  # neither the plan nor its JSON document read one
    assert list(digests) == list(expected) and len(digests) == len(expected)
    assert next(iter(expected)) in digests and "east/nope/node-0000" not in digests
    assert dict(digests) == expected and digests.computed


def test_the_apply_records_the_real_digests_and_the_next_plan_is_empty(ws: Workspace) -> None:
    up_with_fake_engines(ws)
    envelope, state = ws.read_state()
    graph = graph_for(ws, state)
    expected = eager(ws, graph, admin_public_key(ws, state))
    assert expected and {a: (h.node_digest, h.cluster_digest, h.hosts_digest)
                         for a, h in state.hosts.items()} == expected
    again = plan_parts(ws, envelope=envelope, state=state)
    assert not isinstance(again.host_digests, DeferredDigests)  # hosts recorded: every one is compared
    assert not again.plan.has_changes


def test_a_recorded_host_is_still_compared_when_another_is_new(ws: Workspace) -> None:
    """One host record changed by hand (its digest) and one removed: both are seen."""
    up_with_fake_engines(ws)
    envelope, state = ws.read_state()
    first, second = sorted(state.hosts)[:2]
    hosts = dict(state.hosts)
    hosts[first] = hosts[first].model_copy(update={"node_digest": "sha256:tampered"})
    del hosts[second]
    edited = state.model_copy(update={"hosts": hosts})
    made = plan_parts(ws, envelope=envelope, state=edited).plan
    assert {(c.address, c.scope, c.reason) for c in made.config} == {
        (first, "full", "configuration inputs changed"), (second, "full", "new node")}


def test_the_digests_are_computed_once_whoever_reads_first() -> None:
    calls: list[int] = []
    barrier = threading.Barrier(4)

    def compute() -> dict[str, tuple[str, str, str]]:
        calls.append(1)
        return {"a/p/node-0000": ("n", "c", "h")}

    digests = DeferredDigests(["a/p/node-0000"], compute)

    def read() -> None:
        barrier.wait()
        assert digests["a/p/node-0000"] == ("n", "c", "h")

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1]


def _lab_graph() -> ResourceGraph:
    return expand(cluster_from(EXAMPLES / "local-lab" / "cluster.yaml"))


def test_keys_that_are_not_certain_are_computed_now() -> None:
    """Two nodes with one hostname (the inventory keeps one of them), or a key the inventory refuses: the
    digests are computed at once, so the plan fails or counts as it always did."""
    graph = _lab_graph()
    calls: list[int] = []

    def compute() -> dict[str, tuple[str, str, str]]:
        calls.append(1)
        return {}

    assert isinstance(deferred(graph, KEY, compute), DeferredDigests) and calls == []
    nodes = [r for r in graph.resources if r.kind.value == "node"]
    twin = Resource(nodes[1].address, nodes[1].kind, nodes[1].region,
                    {**nodes[1].attrs, "hostname": nodes[0].attrs["hostname"]})
    doubled = ResourceGraph(graph.cluster, tuple(twin if r is nodes[1] else r for r in graph.resources))
    assert deferred(doubled, KEY, compute) == {} and calls == [1]
    assert deferred(graph, "-----BEGIN OPENSSH PRIVATE KEY-----", compute) == {} and calls == [1, 1]
    assert deferred(graph, KEY + "\n" + KEY, compute) == {} and calls == [1, 1, 1]


def test_an_empty_plan_of_a_key_the_inventory_refuses_still_fails(ws: Workspace) -> None:
    graph = graph_for(ws, empty_state(ws.cluster.name))
    with pytest.raises(ValueError, match="private key"):
        deferred(graph, "-----BEGIN OPENSSH PRIVATE KEY-----",
                 lambda: host_input_digests(ws.cluster, graph, admin_public_key="-----BEGIN OPENSSH PRIVATE KEY-----"))
