"""apply() with stand-ins for Pulumi and Ansible: which hosts get which scope, and when.

A pool grows by one node: the others need only the new hosts table, which depends on the plan's
addresses alone, so they are configured while the infrastructure changes; the new node is configured
fully once it exists. Growth in the same region as the new node changes nothing about that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from grid.apply.engine import ApplyContext, apply
from grid.apply.events import Event
from grid.apply.statewriter import StateWriter
from grid.drivers.ansible import EventCallback, Gate, HostOutcome, PlaybookResult
from grid.drivers.pulumi import PulumiFailed, StackResult
from grid.drivers.ssh import KeyPair
from grid.plan import make_plan
from grid.plan.digests import host_input_digests
from grid.resources import Kind, expand
from grid.spec import load_spec_text, spec_digest
from grid.spec.model import Cluster
from grid.state.model import INTERRUPTED, HostRecord, ResourceRecord, State
from grid.state.store import FileStateStore

LAB = Path(__file__).resolve().parents[2] / "examples" / "local-lab" / "cluster.yaml"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdyaWQtdGVzdC1rZXktbm90LXJlYWwtMDAwMDAwMDAw grid"


def lab(count: int) -> Cluster:
    data = yaml.safe_load(LAB.read_text())
    data["spec"]["regions"][0]["pools"][0]["count"] = count
    loaded = load_spec_text(yaml.safe_dump(data))
    assert loaded.cluster is not None, loaded.diagnostics
    return loaded.cluster


class SlowStacks:
    """Pulumi stand-in: `up` takes a while and records when it ran; halfway it reports its nodes made
    (as Pulumi's events do), then goes on; regions in `failing` fail at the end."""

    def __init__(self, failing: Sequence[str] = (), crash: bool = False, fail_at_start: bool = False) -> None:
        self.ran: list[tuple[str, float, float]] = []
        self.made_at: dict[str, float] = {}
        self.failing = set(failing)
        self.crash = crash
        self.fail_at_start = fail_at_start
        self.refreshed: dict[str, bool] = {}

    def up(self, region: str, data: dict[str, Any], progress: Any = None, *, refresh: bool = True,
           made: Any = None, allowed: Any = None) -> StackResult:
        started = time.monotonic()
        self.refreshed[region] = refresh
        if self.crash:
            raise RuntimeError("a bug in a stack engine")
        if self.fail_at_start and region in self.failing:
            raise PulumiFailed(region, "the pulumi CLI is not on PATH")
        time.sleep(0.15)
        for node in data.get("nodes", []):
            if made is not None and node["address"] == "east/train/node-0002":
                self.made_at[node["address"]] = time.monotonic()
                made(node["address"], {"host_key": "ssh-ed25519 AAAA"})
        time.sleep(0.3)
        self.ran.append((region, started, time.monotonic()))
        if region in self.failing:
            raise PulumiFailed(region, "quota exceeded")
        nodes = {n["address"]: {"host_key": "ssh-ed25519 AAAA"} for n in data.get("nodes", [])}
        return StackResult(region, {"nodes": nodes})

    def preview(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("not used")

    def destroy(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("not used")

    def regions(self) -> list[str]:
        return []


class RecordingAnsible:
    """Ansible stand-in: records each run's scopes and when its hosts started work: at once, or for a
    gated run once every gate is decided (as site.yml's first play); hosts whose gate is closed fail."""

    def __init__(self) -> None:
        self.runs: list[tuple[dict[str, str], float]] = []
        self.known_hosts: dict[str, str] = {}  # hostname -> known_hosts when its work started
        self.lock = threading.Lock()

    def run(self, project_dir: Path, *, private_key: Path | Sequence[Path], known_hosts: Path,
            limit: Sequence[str] | None = None, tags: Sequence[str] | None = None, check: bool = False,
            inventory: Path | None = None, on_event: EventCallback | None = None,
            scopes: Mapping[str, str] | None = None, gate: Gate | None = None) -> PlaybookResult:
        closed: set[str] = set()
        if gate is not None:
            deadline = time.monotonic() + 10
            while not all(gate.path(h).is_file() for h in limit or []):
                assert time.monotonic() < deadline, "a gate was never decided"
                time.sleep(0.01)
            closed = {h for h in limit or [] if gate.path(h).read_text().strip() != "ready"}
            for host in sorted(closed):  # as the real run reports the gate task of a closed gate
                if on_event is not None:
                    on_event(host, "Wait for grid to make the node", "failed")
        with self.lock:
            self.runs.append((dict(scopes or {}), time.monotonic()))
            self.known_hosts.update(dict.fromkeys(limit or [], known_hosts.read_text()))
        hosts = {h: HostOutcome(ok=h not in closed, changed=1, failed=int(h in closed), unreachable=False)
                 for h in limit or []}
        return PlaybookResult(ok=not closed, hosts=hosts, rc=2 if closed else 0)


def grow_lab(tmp_path: Path, stacks: SlowStacks, *, grown: int = 3, interrupted: Sequence[str] = (),
             ) -> tuple[ApplyContext, Any, dict[str, Any], dict[str, Any]]:
    """A 2+2 node lab whose first pool grows to `grown` nodes, applied with `stacks` and a RecordingAnsible;
    `interrupted`: regions whose last run state records as unfinished."""
    before, after = lab(2), lab(grown)
    old_graph = expand(before)
    digests = host_input_digests(before, old_graph, KEY)
    state = State(cluster=before.name, resources={
        r.address: ResourceRecord(address=r.address, kind=r.kind.value, region=r.region, attrs=dict(r.attrs),
                                  outputs={"host_key": "ssh-ed25519 AAAA"} if r.kind is Kind.NODE else {})
        for r in old_graph}, hosts={
        a: HostRecord(address=a, status="configured", node_digest=d.node, cluster_digest=d.cluster,
                      hosts_digest=d.hosts) for a, d in digests.items()},
        outputs={INTERRUPTED: list(interrupted)} if interrupted else {})
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
    stacks = SlowStacks()
    ctx, plan, digests, new_digests = grow_lab(tmp_path, stacks)
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
    ctx, plan, _, _ = grow_lab(tmp_path, SlowStacks(failing=["east"], fail_at_start=fail_at_start))
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
    ctx, plan, _, _ = grow_lab(tmp_path, SlowStacks(crash=True))
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
    stacks = SlowStacks()
    ctx, plan, _, _ = grow_lab(tmp_path, stacks, grown=2, interrupted=["east"])
    assert plan.unfinished == ("east",) and not plan.pending and not plan.config

    result = apply(ctx, plan)

    assert result.ok, result.failures
    assert [region for region, _, _ in stacks.ran] == ["east"]
    assert stacks.refreshed == {"east": True}  # what its stack holds is unknown: Pulumi reads it first
    assert result.state.interrupted_regions() == []
