"""`grid up` SIGKILLed at many points, each followed by a `grid up` that must finish the job.

Each kill point is `GRID_KILL_AT=<point>:<n>` (grid.killpoints): the n-th occurrence of a named point
in the grid process, the Pulumi worker or Pulumi's dynamic-provider process kills the whole run — the
grid process group and the caller's own group — plus a few kills at fixed times by the test itself.
Runs are started in sessions of their own; a marker in their environment finds any process that
outlives the kill (Pulumi plugins run in process groups of their own, Ansible in a session of its own).

After every kill: no process of the killed run survives; the next `grid up` exits 0, replacing or removing
no running node its plan did not show being replaced or removed (the plan is the contract); podman holds
exactly what the state records (label grid.cluster=<name>), no more, no less; the state checksum
verifies; Pulumi's checkpoint has no pending operation and the same resources; every host is
configured; `grid drift` is clean. Three lanes (three clusters; GRID_CRASH_LANES) run concurrently to
fit the CI budget of a few minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.cli import grid, start, wait_for_no_survivors
from support.lab import consistency_problems, podman_inventory, running_containers, unplanned_by_engine
from support.specs import small_lab

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SURVIVOR_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class KillAt:
    phase: str  # fresh: from nothing | update: nodes updated in place | replace: nodes replaced |
    # reconfigure: Ansible only (a cluster-wide input changed) | revert-*: the change is undone after the kill
    point: str  # "<kill point>:<n>" or "after:<seconds>"

    def __str__(self) -> str:
        return f"{self.phase}/{self.point}"


PLAN = [
    # -- from nothing: render, every state write, the worker, the provider, Ansible
    KillAt("fresh", "render.written:1"),
    KillAt("fresh", "state.write.before:1"),
    KillAt("fresh", "state.commit:1"),
    KillAt("fresh", "worker.started:1"),
    KillAt("fresh", "worker.progress:1"),
    KillAt("fresh", "worker.progress:4"),
    KillAt("fresh", "provider.network.created:1"),
    KillAt("fresh", "provider.volume.created:1"),
    KillAt("fresh", "provider.node.create:1"),
    KillAt("fresh", "provider.node.started:2"),
    KillAt("fresh", "infra.progress:8"),
    KillAt("fresh", "worker.finished:1"),
    KillAt("fresh", "state.write.before:2"),
    KillAt("fresh", "state.commit:2"),
    KillAt("fresh", "ansible.event:1"),
    KillAt("fresh", "ansible.event:30"),  # mid-run: 8 tasks per node since issue 20 (was 22)
    KillAt("fresh", "state.write.before:3"),
    KillAt("fresh", "state.write.after:3"),
    KillAt("fresh", "state.commit:4"),
    KillAt("fresh", "after:2.0"),
    KillAt("fresh", "after:5.0"),
    # -- an update in place, a replacement, a configuration change
    KillAt("update", "worker.progress:1"),
    KillAt("update", "infra.progress:2"),
    KillAt("replace", "worker.progress:2"),
    KillAt("replace", "provider.node.create:1"),
    KillAt("replace", "infra.progress:7"),
    KillAt("reconfigure", "ansible.event:12"),  # mid-run of the cluster-wide tasks
    KillAt("reconfigure", "state.write.before:2"),
    KillAt("reconfigure", "after:3.0"),
    # -- killed mid-change, then the spec is put back before the next `grid up`
    KillAt("revert-update", "provider.node.update:1"),  # pending in Pulumi, nothing to do once reverted
    KillAt("revert-update", "infra.progress:2"),
    KillAt("revert-update", "after:3.5"),
    KillAt("revert-replace", "provider.node.started:1"),
]


@dataclass
class Outcome:
    kill: KillAt
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    steps: dict[str, float] = field(default_factory=dict)

    def lap(self, step: str, since: float) -> float:
        now = time.monotonic()
        self.steps[step] = round(now - since, 1)
        return now


def _toggle(spec: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(spec.read_text())
    change(data)
    spec.write_text(yaml.safe_dump(data, sort_keys=False))


def _flip_cpus(data: dict[str, Any]) -> None:
    resources = data["spec"]["regions"][0]["pools"][0]["resources"]
    resources["cpus"] = 0.75 if resources["cpus"] == 0.5 else 0.5


def _flip_mount(data: dict[str, Any]) -> None:
    storage = data["spec"]["regions"][0]["storage"][0]
    storage["mount"] = "/shared2" if storage["mount"] == "/shared" else "/shared"


def _flip_sysctl(data: dict[str, Any]) -> None:
    sysctl = data["spec"]["configuration"]["sysctl"]
    sysctl["net.core.rmem_max"] = 33554432 if sysctl["net.core.rmem_max"] == 67108864 else 67108864


FLIPS = {"update": _flip_cpus, "replace": _flip_mount, "reconfigure": _flip_sysctl,
         "revert-update": _flip_cpus, "revert-replace": _flip_mount}


def _prepare(spec: Path, name: str, phase: str) -> list[str]:
    """Give the killed run work of the phase's kind (the cluster is fully up before)."""
    if phase == "fresh":
        run = grid("destroy", str(spec), "--yes")
        if run.code != 0 or any(podman_inventory(name).values()):
            return [f"destroy before the kill failed ({run.code}): {run.output[-600:]}"]
    else:
        _toggle(spec, FLIPS[phase])
    return []


def _one(spec: Path, name: str, kill: KillAt) -> Outcome:
    outcome = Outcome(kill)
    started = time.monotonic()
    outcome.problems += _prepare(spec, name, kill.phase)
    if outcome.problems:
        return outcome
    mark = outcome.lap("prepare", started)
    timed = kill.point.startswith("after:")
    delay = float(kill.point.split(":")[1]) if timed else 0.0
    for attempt in range(3):
        run = start("up", str(spec), "--yes", env={} if timed else {"GRID_KILL_AT": kill.point})
        if timed:
            try:
                run.wait(timeout=delay)
            except Exception:  # noqa: BLE001 - still running, as intended: kill it now
                run.kill()
        code, output = run.wait(timeout=300)
        if not (timed and code == 0) or attempt == 2:
            break
        # grid finished before the timed kill: the same kind of work again, killed sooner.
        delay /= 2
        outcome.steps[f"finished before the kill {attempt + 1}"] = round(time.monotonic() - mark, 1)
        outcome.problems += _prepare(spec, name, kill.phase)
        if outcome.problems:
            return outcome
    if code != -9:
        outcome.problems.append(f"the kill point was not reached: the run ended with {code}:\n{output[-1500:]}")
    mark = outcome.lap("killed run", mark)
    # Pulumi's processes die with the run (its providers through their engine watchdog); Ansible, in a
    # session of its own, dies at its pty's hangup, and the next run ends whatever is left of it; podman
    # commands, in sessions of their own on purpose, finish what they were doing (seconds).
    lingering = wait_for_no_survivors(run.marker, SURVIVOR_GRACE_SECONDS, kill=False)
    if [p for p in lingering if not any(word in p[1] for word in ("ansible", "ssh", "podman"))]:
        outcome.problems.append(f"processes outlived the kill by {SURVIVOR_GRACE_SECONDS}s: {lingering}")
    mark = outcome.lap("survivors", mark)
    if kill.phase.startswith("revert-"):
        _toggle(spec, FLIPS[kill.phase])
    running = running_containers(name)
    recovery = grid("up", str(spec), "--yes", "--json")
    mark = outcome.lap("recovery", mark)
    outcome.problems += unplanned_by_engine(running, running_containers(name), recovery.stdout)
    left = wait_for_no_survivors(run.marker, 0)
    if left:
        outcome.problems.append(f"processes of the killed run outlived the next `grid up`: {left}")
    if recovery.code != 0:
        outcome.problems.append(f"the next `grid up` failed ({recovery.code}):\n{recovery.output[-3000:]}")
        grid("up", str(spec), "--yes")  # let the next kill point start from a whole cluster
    else:
        outcome.problems += consistency_problems(spec, name)
        mark = outcome.lap("consistency", mark)
        drift = grid("drift", str(spec), "--json", "--detailed-exitcode")
        outcome.lap("drift", mark)
        if drift.code != 0:
            outcome.problems.append(f"`grid drift` is not clean ({drift.code}): {drift.output[-1500:]}")
    outcome.seconds = time.monotonic() - started
    return outcome


def _lane(directory: Path, kills: list[KillAt]) -> list[Outcome]:
    spec, name = small_lab(directory)
    outcomes = []
    try:
        first = grid("up", str(spec), "--yes", "--skip-check")
        assert first.code == 0, first.output
        assert consistency_problems(spec, name) == []
        # The detector itself: a volume podman has for the cluster and state does not is an orphan.
        subprocess.run(["podman", "volume", "create", "--label", f"grid.cluster={name}", f"{name}-planted"],
                       check=True, capture_output=True)
        planted = consistency_problems(spec, name)
        subprocess.run(["podman", "volume", "rm", f"{name}-planted"], check=True, capture_output=True)
        assert any("orphaned volumes" in p and f"{name}-planted" in p for p in planted), planted
        for kill in kills:
            outcome = _one(spec, name, kill)
            print(f"  {name} {kill}: {outcome.seconds:.1f}s {outcome.steps} "
                  f"{'ok' if not outcome.problems else 'FAILED'}", flush=True)
            outcomes.append(outcome)
    finally:
        grid("destroy", str(spec), "--yes")
        left = podman_inventory(name)
        if any(left.values()):
            outcomes.append(Outcome(KillAt("cleanup", "destroy"), problems=[f"destroy left {left}"]))
    return outcomes


def _selected() -> list[KillAt]:
    """GRID_CRASH_ONLY=<substring>[,<substring>...] runs only matching kill points (while debugging one)."""
    only = [s for s in os.environ.get("GRID_CRASH_ONLY", "").split(",") if s]
    return [k for k in PLAN if not only or any(s in str(k) for s in only)]


def test_grid_up_survives_sigkill_at_every_point(tmp_path: Path) -> None:
    started = time.monotonic()
    plan = _selected()
    count = int(os.environ.get("GRID_CRASH_LANES", "3"))
    lanes = [lane for lane in (plan[i::count] for i in range(count)) if lane]
    with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
        results = list(pool.map(lambda item: _lane(tmp_path / f"lane{item[0]}", item[1]), enumerate(lanes)))
    outcomes = [o for lane in results for o in lane]
    failed = [o for o in outcomes if o.problems]
    summary = {"kill_points": len(plan), "tried": len([o for o in outcomes if o.kill.phase != "cleanup"]),
               "failed": len(failed), "seconds": round(time.monotonic() - started, 1)}
    print(json.dumps(summary))
    report = "\n\n".join(f"{o.kill}:\n  " + "\n  ".join(o.problems) for o in failed)
    assert not failed, f"{len(failed)} of {len(outcomes)} kill points broke grid:\n{report}"
    assert summary["tried"] == len(plan)
    assert len(plan) >= 20 or os.environ.get("GRID_CRASH_ONLY")


@pytest.mark.e2e
def test_a_podman_rm_killed_half_way_is_repaired_by_the_next_up(tmp_path: Path) -> None:
    """Below grid: `podman rm` of a node SIGKILLed at random moments of its work leaves the container
    stopped, "Removing" (not inspectable, its name still taken) or gone; each time `grid up` brings the
    node back and podman matches the state again."""
    spec, name = small_lab(tmp_path)
    container = f"grid-{name}-east-train-0001"
    states = []
    try:
        assert grid("up", str(spec), "--yes", "--skip-check").code == 0
        for delay in (0.15, 0.2, 0.22, 0.25, 0.27, 0.3, 0.33, 0.4, 0.18, 0.24, 0.28, 0.31):
            remove = subprocess.Popen(["podman", "rm", "-f", "-t", "0", container], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            time.sleep(delay)
            remove.kill()
            remove.wait()
            states.append(subprocess.run(["podman", "ps", "-a", "--filter", f"name={container}", "--format",
                                          "{{.Status}}"], capture_output=True, text=True).stdout.strip().split(" ")[0])
            again = grid("up", str(spec), "--yes", "--skip-check")
            assert again.code == 0, f"after a kill at {delay}s ({states[-1]!r}):\n{again.output[-3000:]}"
            assert consistency_problems(spec, name) == []
    finally:
        grid("destroy", str(spec), "--yes")
    print(json.dumps({"podman_rm_killed": len(states), "left": sorted(set(states))}))
