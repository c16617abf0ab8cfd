"""grid.agent.loop with fake seams: decisions per tick, back-off, an invalid spec keeps the last good commit,
passive agents do not act, two spec sources are refused, stop ends the loop with the leases released."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from grid.agent.config import AgentConfig
from grid.agent.heartbeat import AgentRecord
from grid.agent.lease import LeaseLost
from grid.agent.loop import Agent, AgentEvent, Seams
from grid.agent.policy import StepResult
from grid.agent.source import Fetched, FetchFailed, Refused
from grid.workspace import Rejected, Workspace, open_workspace
from support.paths import LOCAL_LAB

LAB = LOCAL_LAB.read_text()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeSource:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.next: Fetched | FetchFailed | Refused = FetchFailed("nothing pushed yet")
        self.good: Fetched | None = None

    def push(self, sha: str, text: str) -> None:
        tree = self.tmp / "commits" / sha
        tree.mkdir(parents=True)
        (tree / "cluster.yaml").write_text(text)
        self.next = Fetched(sha, tree)

    def fetch(self) -> Fetched | FetchFailed | Refused:
        return self.next

    def last_good(self) -> Fetched | None:
        return self.good

    def mark_good(self, fetched: Fetched) -> None:
        self.good = fetched


@dataclass
class FakeActor:
    results: list[StepResult | Exception] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    during: Any = None  # called inside a step (to stop the loop mid-step)

    def _step(self, kind: str, fence: Any) -> StepResult:
        fence()
        self.calls.append(kind)
        if self.during is not None:
            self.during()
        result = self.results.pop(0) if self.results else StepResult("no-changes", "in sync", True)
        if isinstance(result, Exception):
            raise result
        return result

    def reconcile(self, ws: Workspace, tree: Path, fence: Any) -> StepResult:
        return self._step("reconcile", fence)

    def drift(self, ws: Workspace, fence: Any) -> StepResult:
        return self._step("drift", fence)


class FakeLease:
    def __init__(self, free: bool) -> None:
        self.free, self.held, self.released = free, False, 0

    def try_acquire(self) -> bool:
        self.held = self.free
        return self.held

    def fence(self) -> None:
        if not self.held:
            raise LeaseLost("not active")

    def release(self) -> None:
        self.held = False
        self.released += 1


@dataclass
class FakeRegistry:
    records: dict[str, AgentRecord] = field(default_factory=dict)

    def heartbeat(self, ws: Workspace, record: AgentRecord) -> None:
        self.records[record.agent] = record

    def agents(self, ws: Workspace) -> list[AgentRecord]:
        return list(self.records.values())


class Rig:
    def __init__(self, tmp: Path, *, free: bool = True, **config: Any) -> None:
        self.config = AgentConfig.model_validate({"repo": "/r.git", "path": "cluster.yaml", "name": "a1",
                                                  "workdir": tmp / "wd", "interval": 8, "drift_interval": 30,
                                                  "jitter": 0, **config})
        self.source, self.actor, self.registry, self.clock = FakeSource(tmp), FakeActor(), FakeRegistry(), Clock()
        self.leases: dict[str, FakeLease] = {}
        self.events: list[AgentEvent] = []
        self.free = free

        def lease_for(ws: Workspace, region: str) -> FakeLease:
            return self.leases.setdefault(region, FakeLease(self.free))

        def open_spec(spec: Path) -> Workspace | Rejected:
            return open_workspace(spec, workdir=tmp / "wd")

        self.agent = Agent(self.config, Seams(source=self.source, actor=self.actor, open_spec=open_spec,
                                              lease_for=lease_for, registry=self.registry,
                                              log=self.events.append, clock=self.clock))

    def kinds(self) -> list[str]:
        return [e.event for e in self.events]


def test_a_new_commit_is_reconciled_once_then_drift_runs_on_its_schedule(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.source.push("a" * 40, LAB)
    assert rig.agent.tick() == pytest.approx(8)
    assert rig.actor.calls == ["reconcile"]
    rig.clock.now += 8
    rig.agent.tick()
    assert rig.actor.calls == ["reconcile"]  # same commit, done: nothing applied twice
    rig.clock.now += 30
    rig.agent.tick()
    assert rig.actor.calls == ["reconcile", "drift"]
    beat = rig.registry.records["a1"]
    assert beat.commit == "a" * 40 and beat.active_regions == ("east", "west") and beat.result == "no-changes"
    assert rig.source.good is not None and rig.source.good.sha == "a" * 40


def test_an_invalid_spec_is_reported_and_the_last_good_commit_stays(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.source.push("a" * 40, LAB)
    rig.agent.tick()
    rig.source.push("b" * 40, LAB.replace("count: 2", "count: -3"))
    rig.agent.tick()
    rig.agent.tick()
    assert rig.actor.calls == ["reconcile"]
    invalid = [e for e in rig.events if e.event == "spec-invalid"]
    assert len(invalid) == 1 and invalid[0].commit == "b" * 40  # said once, not every tick
    assert "stays in force" in invalid[0].message and "a" * 12 in invalid[0].message
    assert rig.agent.result == "spec-invalid"
    assert rig.source.good is not None and rig.source.good.sha == "a" * 40
    assert rig.registry.records["a1"].commit == "a" * 40


def test_an_unsigned_commit_is_refused_and_nothing_is_applied(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.source.next = Refused("c" * 40, "commit cccc is not signed")
    rig.agent.tick()
    assert rig.actor.calls == [] and rig.agent.result == "commit-refused"
    assert "nothing applied" in next(e for e in rig.events if e.event == "commit-refused").message


def test_fetch_failures_back_off_up_to_the_interval_and_keep_the_last_good(tmp_path: Path) -> None:
    rig = Rig(tmp_path, interval=16, drift_interval=1000)
    rig.source.push("a" * 40, LAB)
    rig.agent.tick()
    rig.source.next = FetchFailed("could not read from remote repository")
    waits = [rig.agent.tick() for _ in range(5)]
    assert waits == [2, 4, 8, 16, 16]
    assert "keeping commit aaaaaaaaaaaa" in rig.agent.message
    rig.source.push("d" * 40, LAB)
    assert rig.agent.tick() == 16 and rig.agent.failures == 0
    assert rig.actor.calls == ["reconcile", "reconcile"]


def test_a_restart_with_the_remote_down_resumes_from_the_last_good_commit(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.source.push("a" * 40, LAB)
    rig.source.good, rig.source.next = rig.source.next, FetchFailed("down")  # type: ignore[assignment]
    rig.agent.tick()
    assert rig.actor.calls == ["reconcile"]


def test_a_failing_step_is_logged_retried_and_never_escapes(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.actor.results = [RuntimeError("database restarted"), StepResult("failed", "node unreachable", False),
                         StepResult("applied", "applied 1 to create", True, applied=True)]
    rig.source.push("a" * 40, LAB)
    assert rig.agent.tick() == 1.0  # interval/8
    assert "database restarted" in next(e for e in rig.events if e.event == "tick-failed").message
    assert rig.agent.tick() == 2.0
    rig.agent.tick()
    rig.agent.tick()
    assert rig.actor.calls == ["reconcile"] * 3
    assert rig.agent.result == "no-changes" or rig.agent.result == "applied"


def test_a_passive_agent_only_fetches_validates_and_heartbeats(tmp_path: Path) -> None:
    rig = Rig(tmp_path, free=False)
    rig.source.push("a" * 40, LAB)
    rig.agent.tick()
    assert rig.actor.calls == []
    beat = rig.registry.records["a1"]
    assert beat.active_regions == () and beat.role == "passive"


def test_half_the_regions_is_not_enough_to_act(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.leases["west"] = FakeLease(False)
    rig.source.push("a" * 40, LAB)
    rig.agent.tick()
    assert rig.actor.calls == [] and rig.leases["east"].released == 1


def test_an_agent_for_one_region_leases_only_that_region(tmp_path: Path) -> None:
    rig = Rig(tmp_path, regions=["west"])
    rig.source.push("a" * 40, LAB)
    rig.agent.tick()
    assert set(rig.leases) == {"west"} and rig.actor.calls == ["reconcile"]


def test_an_agent_region_missing_from_the_spec_is_an_invalid_spec(tmp_path: Path) -> None:
    rig = Rig(tmp_path, regions=["north"])
    rig.source.push("a" * 40, LAB)
    rig.agent.tick()
    assert rig.actor.calls == [] and rig.agent.result == "spec-invalid"
    assert "north" in rig.agent.message


def test_another_spec_source_in_the_cluster_is_refused(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    other = AgentRecord(agent="b2", regions=("east",), at=datetime.now(UTC).isoformat(),
                        source="/other.git#main:cluster.yaml")
    rig.registry.records["b2"] = other
    rig.source.push("a" * 40, LAB)
    rig.agent.tick()
    assert rig.actor.calls == [] and rig.agent.result == "refused"
    assert "b2 follows another spec source" in rig.agent.message
    rig.registry.records["b2"] = AgentRecord(agent="b2", regions=("east",), at="2000-01-01T00:00:00Z",
                                             source="/other.git#main:cluster.yaml")
    rig.agent.tick()  # an agent that stopped reporting long ago does not count
    assert rig.actor.calls == ["reconcile"]
    assert rig.registry.records["a1"].source == "/r.git#main:cluster.yaml"


def test_stop_during_a_step_lets_it_finish_then_releases_the_leases(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.source.push("a" * 40, LAB)
    rig.actor.during = rig.agent.stop.set
    runner = threading.Thread(target=rig.agent.run)
    runner.start()
    runner.join(10)
    assert not runner.is_alive()
    assert rig.actor.calls == ["reconcile"]
    assert all(lease.released and not lease.held for lease in rig.leases.values())
    assert rig.kinds()[-1] == "stopped"


def test_health_turns_bad_after_three_failing_ticks(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.source.next = FetchFailed("remote down")
    for _ in range(3):
        assert rig.agent.health()[0]
        rig.agent.tick()
    ok, line = rig.agent.health()
    assert not ok and "remote down" in line


def test_while_a_plan_waits_for_approval_drift_is_still_checked(tmp_path: Path) -> None:
    rig = Rig(tmp_path, policy="plan-approval")
    waiting = StepResult("waiting-approval", "waiting for an approved plan", False)
    rig.actor.results = [waiting, waiting, StepResult("no-drift", "no drift", True), waiting]
    rig.source.push("a" * 40, LAB)
    assert rig.agent.tick() == pytest.approx(8)  # waiting is not a failure: no back-off
    rig.clock.now += 8
    rig.agent.tick()
    rig.clock.now += 30
    rig.agent.tick()
    assert rig.actor.calls == ["reconcile", "reconcile", "drift"]
    rig.agent.tick()
    assert rig.actor.calls[-1] == "reconcile"
