"""The slurm role's daemon tool (files/grid-daemon) stopping a daemon, run for real on this machine: a stand-in
named slurmd (a copy of sleep(1), so the kernel calls it slurmd) and pid files in a temporary folder
(GRID_DAEMON_RUN); no Slurm runs here (tests/e2e/test_slurm_drain_e2e.py restarts the real one).

A restart must not wait forever for a slurmd that does not stop: the CI once saw "slurmd (pid 149) did not stop
within 30 s" while slurmctld restarted beside it, and the run failed. slurmd is killed after its grace
(GRID_DAEMON_KILL_AFTER, 10 s on the nodes), as Slurm's service unit has systemd do; an exited daemon nobody
has reaped yet is not running.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest


def _tool() -> Path:
    with resources.as_file(resources.files("grid.templates") / "ansible" / "roles" / "slurm" / "files"
                           / "grid-daemon") as f:
        return Path(f)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    (tmp_path / "run").mkdir()
    return tmp_path / "run"


@contextlib.contextmanager
def slurmd(run_dir: Path, *, ignore_term: bool = False) -> Iterator[subprocess.Popen[bytes]]:
    """A process the kernel names slurmd, in slurmd's pid file; with ignore_term, SIGTERM is ignored (inherited
    across exec). Killed and reaped at the end, whatever the test did."""
    binary = run_dir.parent / "slurmd"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", binary)
    trap = "trap '' TERM; " if ignore_term else ""
    daemon = subprocess.Popen(["sh", "-c", f'{trap}exec "$0" 300', str(binary)])
    try:
        (run_dir / "slurmd.pid").write_text(f"{daemon.pid}\n")
        yield daemon
    finally:
        daemon.kill()
        daemon.wait()


def _grid_daemon(run_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRID_DAEMON_RUN": str(run_dir), "GRID_DAEMON_KILL_AFTER": "1"}
    return subprocess.run(["sh", str(_tool()), *args], capture_output=True, text=True, env=env, timeout=60,
                          check=False)


def test_a_slurmd_that_stops_on_sigterm_is_stopped(run_dir: Path) -> None:
    with slurmd(run_dir) as daemon:
        assert _grid_daemon(run_dir, "status", "slurmd").stdout.strip() == "running"
        stopped = _grid_daemon(run_dir, "stop", "slurmd")
        assert (stopped.returncode, stopped.stdout.strip(), stopped.stderr) == (0, "stopped", "")
        assert daemon.wait(timeout=5) == -signal.SIGTERM


def test_a_slurmd_that_ignores_sigterm_is_killed_and_said_so(run_dir: Path) -> None:
    with slurmd(run_dir, ignore_term=True) as daemon:
        started = time.monotonic()
        stopped = _grid_daemon(run_dir, "stop", "slurmd")
        assert (stopped.returncode, stopped.stdout.strip()) == (0, "stopped"), stopped.stderr
        assert f"slurmd (pid {daemon.pid}) did not stop 1 s after SIGTERM (state S" in stopped.stderr
        assert "killed; its jobs' slurmstepd processes keep running" in stopped.stderr
        assert daemon.wait(timeout=5) == -signal.SIGKILL
        assert time.monotonic() - started < 10


def test_an_exited_slurmd_not_yet_reaped_is_down(run_dir: Path) -> None:
    with slurmd(run_dir) as daemon:
        os.kill(daemon.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{daemon.pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z":  # exited, not reaped
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert _grid_daemon(run_dir, "status", "slurmd").stdout.strip() == "down"
        stopped = _grid_daemon(run_dir, "stop", "slurmd")
        assert (stopped.returncode, stopped.stdout.strip()) == (0, "down")
