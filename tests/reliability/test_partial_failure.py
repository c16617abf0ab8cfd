"""One node unreachable during configuration: the others are configured, the failure is reported per
host, state records which hosts are done, and the next `grid up` configures only the one left.

`GRID_PAUSE_AT=gate.open.east-train-0001:1` (grid.killpoints) stops `grid up` once that node is made
and just before Ansible may connect to it (its run waits at a gate); the test then kills the node's
sshd (its PID 1: the node goes down) and lets grid go on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from support.cli import Killable, grid, start
from support.lab import consistency_problems, workdir
from support.specs import small_lab

pytestmark = pytest.mark.e2e

DOWN, UP = "east/train/node-0001", "east/train/node-0000"
PAUSE = "gate.open.east-train-0001:1"


def _container(cluster: str, address: str) -> str:
    return f"grid-{cluster}-" + address.replace("/node-", "-").replace("/", "-")


def _wait_stopped(run: Killable, timeout: float = 300) -> None:
    """Until `grid up` pauses before Ansible meets the node; if it ends or hangs first, fail with what it
    printed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run.process.poll() is not None:
            code, output = run.wait(timeout=10)
            raise AssertionError(f"grid up ended with {code} before reaching Ansible:\n{output[-3000:]}")
        state = Path(f"/proc/{run.process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        time.sleep(0.05)
    run.kill()
    raise AssertionError(f"grid up never reached the point before Ansible:\n{run.wait(timeout=30)[1][-3000:]}")


def _hosts(spec: Path, name: str) -> dict[str, dict[str, str]]:
    hosts: dict[str, dict[str, str]] = json.loads((workdir(spec, name) / "state.json").read_text())["state"]["hosts"]
    return hosts


def _up_while_a_node_loses_sshd(spec: Path, name: str) -> tuple[int, str]:
    """`grid up`, paused once its nodes are made; then one node's sshd goes away and the run goes on."""
    run = start("up", str(spec), "--yes", "--skip-check", env={"GRID_PAUSE_AT": PAUSE})
    _wait_stopped(run)
    subprocess.run(["podman", "exec", _container(name, DOWN), "pkill", "sshd"], capture_output=True, check=False)
    os.kill(run.process.pid, signal.SIGCONT)
    return run.wait(timeout=600)


def test_an_unreachable_node_fails_alone_and_the_next_up_finishes_only_it(tmp_path: Path) -> None:
    spec, name = small_lab(tmp_path)
    try:
        code, output = _up_while_a_node_loses_sshd(spec, name)

        # -- the failure is reported per host; the other host is configured
        assert code == 1, output
        failures = output[output.index("failure(s)"):]
        assert "[configuration] east-train-0001" in failures and "unreachable" in failures, failures
        assert "east-train-0000" not in failures, failures
        assert "✓ configuration east-train-0000" in output, output

        # -- state records which hosts are done
        hosts = _hosts(spec, name)
        assert hosts[UP]["status"] == "configured" and hosts[DOWN]["status"] == "failed", hosts
        assert "unreachable" in hosts[DOWN]["error"]
        listing = grid("state", "list", str(spec))
        statuses = {line.split()[0]: line.split()[-1] for line in listing.stdout.splitlines() if "/node-" in line}
        assert statuses == {UP: "configured", DOWN: "failed"}, listing.stdout
        done = hosts[UP]

        # -- the node comes back; the plan configures only it, nothing else
        subprocess.run(["podman", "start", _container(name, DOWN)], capture_output=True, check=True)
        plan = grid("plan", str(spec), "--json")
        assert plan.code == 0, plan.output
        document = json.loads(plan.stdout)
        assert [h["address"] for h in document["configuration"]] == [DOWN], document["configuration"]
        assert not [c for c in document["changes"] if c["action"] != "no-op"], document["changes"]

        again = grid("up", str(spec), "--yes")
        assert again.code == 0, again.output
        assert "east-train-0001" in again.stdout and "configuration east-train-0000" not in again.stdout, again.stdout
        hosts = _hosts(spec, name)
        assert hosts[DOWN]["status"] == "configured"
        assert hosts[UP] == done, "the host configured before must be left alone"
        assert consistency_problems(spec, name) == []
        drift = grid("drift", str(spec), "--detailed-exitcode")
        assert drift.code == 0, drift.output
    finally:
        grid("destroy", str(spec), "--yes")


def test_a_node_still_down_is_brought_back_and_configured_by_the_next_up(tmp_path: Path) -> None:
    """Nobody restarts the node: the next `grid up` sees it stopped, starts it and configures only it."""
    spec, name = small_lab(tmp_path)
    try:
        code, output = _up_while_a_node_loses_sshd(spec, name)
        assert code == 1, output
        done = _hosts(spec, name)[UP]
        again = grid("up", str(spec), "--yes")
        assert again.code == 0, again.output
        assert "configuration east-train-0000" not in again.stdout, again.stdout
        hosts = _hosts(spec, name)
        assert hosts[DOWN]["status"] == "configured" and hosts[UP] == done
        assert consistency_problems(spec, name) == []
    finally:
        grid("destroy", str(spec), "--yes")
