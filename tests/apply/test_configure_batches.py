"""apply() with stand-ins for Pulumi and Ansible: which hosts get which scope, and when.

A pool grows by one node: the others need only the new hosts table, which depends on the plan's
addresses alone, so they are configured while the infrastructure changes; the new node is configured
fully once it exists. Growth in the same region as the new node changes nothing about that.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from grid.apply.engine import ApplyContext, apply
from grid.apply.events import Event
from grid.apply.statewriter import StateWriter
from grid.drivers.ssh import KeyPair
from grid.plan import make_plan
from grid.plan.digests import host_input_digests
from grid.resources import Kind, expand
from grid.spec import load_spec_text, spec_digest
from grid.spec.model import Cluster
from grid.state.model import HostRecord, ResourceRecord, State
from grid.state.store import FileStateStore
from support.fakes import FakeStacks, RecordingAnsible
from support.paths import LOCAL_LAB

GROWN = ["east/train/node-0002"]  # the node the grown pool gains: reported made halfway
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdyaWQtdGVzdC1rZXktbm90LXJlYWwtMDAwMDAwMDAw grid"


def lab(count: int, names: str | None = None) -> Cluster:
    data = yaml.safe_load(LOCAL_LAB.read_text())
    data["spec"]["regions"][0]["pools"][0]["count"] = count
    if names is not None:
        data["spec"]["configuration"]["names"] = names
    loaded = load_spec_text(yaml.safe_dump(data))
    assert loaded.cluster is not None, loaded.diagnostics
    return loaded.cluster


def grow_lab(tmp_path: Path, stacks: FakeStacks, *, grown: int = 3, interrupted: Sequence[str] = (),
             names: str | None = None) -> tuple[ApplyContext, Any, dict[str, Any], dict[str, Any]]:
    """A 2+2 node lab whose first pool grows to `grown` nodes, applied with `stacks` and a RecordingAnsible;
    `interrupted`: regions whose last run state records as unfinished; `names`: configuration.names."""
    before, after = lab(2, names), lab(grown, names)
    old_graph = expand(before)
    digests = host_input_digests(before, old_graph, KEY)
    state = State(cluster=before.name, resources={
        r.address: ResourceRecord(address=r.address, kind=r.kind.value, region=r.region, attrs=dict(r.attrs),
                                  outputs={"host_key": "ssh-ed25519 AAAA"} if r.kind is Kind.NODE else {})
        for r in old_graph}, hosts={
        a: HostRecord(address=a, status="configured", node_digest=d.node, cluster_digest=d.cluster,
                      hosts_digest=d.hosts) for a, d in digests.items()},
        interrupted=list(interrupted))
    graph = expand(after, state.allocations())
    new_digests = dict(host_input_digests(after, graph, KEY))
    plan = make_plan(graph, state, target="local", spec_digest=spec_digest(after), host_digests=new_digests,
                     live={})  # as `grid up` plans: against the live target, here found as state says
    store = FileStateStore(tmp_path)
    store.write(state, expected_serial=0)
    key = tmp_path / "id"
    key.write_text("not a key")
    ctx = ApplyContext(cluster=after, graph=graph, workdir=tmp_path, rendered=tmp_path / "rendered",
                       keypair=KeyPair(key, KEY), stacks=stacks, ansible=RecordingAnsible(),
                       writer=StateWriter(store, store.read(), state), emit=lambda event: None,
                       host_digests=new_digests, fresh_plan=True)
    return ctx, plan, dict(digests), new_digests


def test_growth_configures_the_others_hosts_table_while_the_new_node_is_made(tmp_path: Path) -> None:
    stacks = FakeStacks(new_nodes=GROWN)
    ctx, plan, digests, new_digests = grow_lab(tmp_path, stacks, names="hosts_file")  # every host's /etc/hosts
    ansible = ctx.ansible
    assert isinstance(ansible, RecordingAnsible)

    result = apply(ctx, plan)

    assert result.ok, result.failures
    new = "east-train-0002"
    by_scope = sorted(ansible.runs, key=lambda run: run[1])
    assert [set(scopes.values()) for scopes, _ in by_scope] == [{"hosts"}, {"full"}]
    assert set(by_scope[1][0]) == {new}
    assert set(by_scope[0][0]) == {"east-train-0000", "east-train-0001", "west-infer-0000", "west-infer-0001"}
    (region, _started, finished), = stacks.ran
    assert region == "east"
    assert by_scope[0][1] < finished, "the hosts table waited for the infrastructure"
    assert stacks.made_at["east/train/node-0002"] <= by_scope[1][1] < finished, \
        "the new node is configured once Pulumi reports it made, not when its whole region is done"
    assert new in ansible.known_hosts[new], "its host key is pinned before Ansible connects"
    hosts = result.state.hosts
    assert all(h.status == "configured" for h in hosts.values()) and len(hosts) == 5
    for address, digest in digests.items():  # the others keep their own and cluster-wide digests
        assert (hosts[address].node_digest, hosts[address].cluster_digest) == (digest.node, digest.cluster)
        assert hosts[address].hosts_digest == new_digests[address][2] != digest.hosts
    assert [c.action for c in result.state.history[-1].changes if c.address == "east/train/node-0002"] == [
        "create", "configure:full"]


@pytest.mark.parametrize("fail_at_start", [False, True], ids=["after-making-it", "before-making-it"])
def test_a_node_whose_region_fails_is_left_to_the_next_run(tmp_path: Path, fail_at_start: bool) -> None:
    ctx, plan, _, _ = grow_lab(tmp_path, FakeStacks(failing=["east"], fail_at_start=fail_at_start, new_nodes=GROWN))
    events: list[Event] = []
    ctx.emit = events.append

    result = apply(ctx, plan)

    assert [(f.stage, f.address) for f in result.failures] == [("infrastructure", "east")]
    # Its run ended at the closed gate; that is no configuration failure to show: the region's failure is.
    assert [e for e in events if e.address == "east-train-0002" and "failed" in f"{e.status} {e.message}"] == []
    assert "east/train/node-0002" not in result.state.hosts  # neither configured nor a configuration failure
    assert "east/train/node-0002" not in result.configured
    assert not list(tmp_path.glob("gates-*")), "the gate directory is removed"
    assert {h.status for h in result.state.hosts.values()} == {"configured"}


def test_an_exception_in_the_infrastructure_stage_ends_the_waiting_run(tmp_path: Path) -> None:
    ctx, plan, _, _ = grow_lab(tmp_path, FakeStacks(crash=True, new_nodes=GROWN))
    ansible = ctx.ansible
    assert isinstance(ansible, RecordingAnsible)
    started = time.monotonic()

    with pytest.raises(RuntimeError, match="a bug in a stack engine"):
        apply(ctx, plan)

    assert time.monotonic() - started < 5, "the waiting run was left waiting"
    gated = [scopes for scopes, _ in ansible.runs if set(scopes.values()) == {"full"}]
    assert gated == [{"east-train-0002": "full"}]  # it ran, found its gate closed, and ended
    assert not list(tmp_path.glob("gates-*"))


def test_a_region_whose_last_run_did_not_finish_is_run_again_though_nothing_differs(tmp_path: Path) -> None:
    stacks = FakeStacks(new_nodes=GROWN)
    ctx, plan, _, _ = grow_lab(tmp_path, stacks, grown=2, interrupted=["east"])
    assert plan.unfinished == ("east",) and not plan.pending and not plan.config

    result = apply(ctx, plan)

    assert result.ok, result.failures
    assert [region for region, _, _ in stacks.ran] == ["east"]
    assert stacks.refreshed == {"east": True}  # what its stack holds is unknown: Pulumi reads it first
    assert result.state.interrupted_regions() == []
