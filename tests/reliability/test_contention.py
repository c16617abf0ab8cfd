"""Two people at once: one `grid up` proceeds, the other leaves at once naming the holder; locks of
killed runs are broken safely; locks of other hosts hold until their visible lease runs out.

The lock's unit behaviour (races of 8 processes, pid reuse, leases, renewal) is in tests/state; these
run the real console script on a real cluster.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.cli import grid, start, wait_for_no_survivors
from support.lab import consistency_problems, workdir
from support.specs import small_lab

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    spec, name = small_lab(tmp_path_factory.mktemp("contention"))
    yield spec, name
    grid("destroy", str(spec), "--yes")


def _holder_named(output: str, pid: int, command: str) -> None:
    assert "locked by" in output, output
    assert f"{getpass.getuser()}@{socket.gethostname()}" in output, output
    assert f"pid {pid}" in output, output
    assert f"'{command}'" in output, output
    since = output.split(" since ", 1)[1].split()[0]
    assert abs((datetime.now(UTC) - datetime.fromisoformat(since)).total_seconds()) < 600, since


def test_two_ups_at_once_one_proceeds_the_other_leaves_at_once_naming_it(lab: tuple[Path, str]) -> None:
    spec, name = lab
    first, second = start("up", str(spec), "--yes", "--skip-check"), start("up", str(spec), "--yes", "--skip-check")
    runs = {first.process.pid: first, second.process.pid: second}
    finished: dict[int, tuple[int, str, float]] = {}
    deadline = time.monotonic() + 300
    while len(finished) < 2 and time.monotonic() < deadline:
        for pid, run in runs.items():
            if pid not in finished and run.process.poll() is not None:
                code, output = run.wait(timeout=10)
                finished[pid] = (code, output, time.monotonic() - run.started)
        time.sleep(0.05)
    assert len(finished) == 2, "a run did not finish"
    codes = sorted(code for code, _, _ in finished.values())
    assert codes == [0, 1], {pid: (c, out[-800:]) for pid, (c, out, _) in finished.items()}
    loser = next(pid for pid, (code, _, _) in finished.items() if code == 1)
    winner = next(pid for pid in finished if pid != loser)
    _, output, seconds = finished[loser]
    _holder_named(output, winner, "up")
    assert seconds < 10, f"the second run took {seconds:.1f}s to give up; it must not wait"
    assert seconds < finished[winner][2]
    assert "Traceback" not in output
    assert consistency_problems(spec, name) == []
    assert not (workdir(spec, name) / "state.lock").exists()


def test_lock_of_a_killed_run_is_broken_and_the_next_up_finishes(lab: tuple[Path, str]) -> None:
    spec, name = lab
    work = workdir(spec, name)
    # Something to do, so the killed run holds the lock while it applies.
    spec.write_text(spec.read_text().replace("67108864", "33554432", 1))
    run = start("up", str(spec), "--yes", env={"GRID_KILL_AT": "ansible.event:5"})
    code, output = run.wait(timeout=300)
    assert code == -9, output
    assert not wait_for_no_survivors(run.marker, 5)
    holder = json.loads((work / "state.lock").read_text())
    assert holder["pid"] == run.process.pid
    assert holder["command"] == "up"
    again = grid("up", str(spec), "--yes", "--skip-check")
    assert again.code == 0, again.output
    assert not (work / "state.lock").exists()
    assert consistency_problems(spec, name) == []


def _foreign_lock(work: Path, *, lease_left: float) -> dict[str, object]:
    work.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    holder = {"user": "ops", "host": "build-07.lab.invalid", "pid": 4242, "command": "up",
              "since": (now - timedelta(minutes=3)).isoformat(timespec="seconds").replace("+00:00", "Z"),
              "lease_seconds": 300.0,
              "lease_until": (now + timedelta(seconds=lease_left)).isoformat(timespec="seconds")
              .replace("+00:00", "Z"),
              "pid_start": None, "token": "0" * 32}
    (work / "state.lock").write_text(json.dumps(holder))
    os.chmod(work / "state.lock", 0o600)
    return holder


def test_lock_of_another_host_holds_until_its_lease_runs_out(lab: tuple[Path, str]) -> None:
    spec, _ = lab
    work = workdir(spec, lab[1])
    holder = _foreign_lock(work, lease_left=240)
    for command in (("up", "--yes"), ("destroy", "--yes"), ("drift",)):
        refused = grid(command[0], str(spec), *command[1:])
        assert refused.code == 1, refused.output
        assert "ops@build-07.lab.invalid pid 4242 running 'up'" in refused.stderr, refused.stderr
        assert str(holder["lease_until"]) in refused.stderr, "the lease end must be visible"
        assert "Traceback" not in refused.output
    assert json.loads((work / "state.lock").read_text()) == holder, "a live foreign lock is never touched"
    _foreign_lock(work, lease_left=-1)
    after = grid("up", str(spec), "--yes", "--skip-check")
    assert after.code == 0, after.output
    assert not (work / "state.lock").exists()
