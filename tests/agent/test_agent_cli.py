"""`grid agent run` as a process: JSON log lines on stderr, /healthz and /metrics, an invalid spec refused, SIGTERM
→ exit 0 with the loop stopped; `grid agent status` without a cluster is a diagnostic."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from support.cli import grid, grid_env
from support.gitrepo import Remote
from support.paths import GRID


def events(log: Path) -> list[dict[str, Any]]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [json.loads(line) for line in lines if line.startswith("{")]


def wait_for(log: Path, event: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for found in events(log):
            if found["event"] == event:
                return found
        time.sleep(0.1)
    raise AssertionError(f"no {event} event in {log.read_text() if log.exists() else 'no log'}")


def test_invalid_spec_is_reported_health_served_and_sigterm_stops(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    sha = remote.commit({"cluster.yaml": "apiVersion: grid/v1\nkind: Cluster\nmetadata: {name: ag-x}\nspec: 3\n"})
    log = tmp_path / "agent.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [GRID, "agent", "run", "--repo", str(remote.bare), "--path", "cluster.yaml", "--name", "ag-cli",
             "--workdir", str(tmp_path / "wd"), "--interval", "1", "--policy", "drift-only"],
            env=grid_env(), stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        try:
            port = wait_for(log, "listening")["port"]
            invalid = wait_for(log, "spec-invalid")
            assert invalid["commit"] == sha and invalid["level"] == "error" and invalid["agent"] == "ag-cli"
            assert "cluster.yaml is not a valid spec" in invalid["message"]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                assert answer.status == 200
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                assert b"grid_agent" in answer.read()
            time.sleep(2.5)  # a few more ticks: the refusal is said once
            assert sum(1 for e in events(log) if e["event"] == "spec-invalid") == 1
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
        finally:
            if process.poll() is None:
                process.kill()
    kinds = [e["event"] for e in events(log)]
    assert kinds[-2:] == ["stopping", "stopped"] or kinds[-1] == "stopped"
    assert "Traceback" not in log.read_text()


def test_bad_configuration_is_a_diagnostic(tmp_path: Path) -> None:
    done = grid("agent", "run", "--repo", str(tmp_path), "--path", "c.yaml", "--interval", "-1")
    assert done.code == 1 and "interval (from --interval)" in done.stderr and "Traceback" not in done.stderr


def test_status_needs_a_cluster(tmp_path: Path) -> None:
    done = grid("agent", "status")
    assert done.code == 1 and "which cluster?" in done.stderr
    empty = grid("agent", "status", "--cluster", "ag-none", "--workdir", str(tmp_path))
    assert empty.code == 0 and "no agent has reported yet" in empty.stdout


def test_status_shows_every_agent_of_the_cluster(tmp_path: Path) -> None:
    from grid.agent.heartbeat import AgentRecord, heartbeat

    heartbeat(None, tmp_path, "ag-st", AgentRecord(agent="hub-a", regions=("east",), active_regions=("east",),
                                                    commit="f" * 40, result="applied", message="applied 1 to create",
                                                    source="/r.git#main:c.yaml"))
    heartbeat(None, tmp_path, "ag-st", AgentRecord(agent="hub-b", regions=("east",), commit="f" * 40,
                                                    result="standby", source="/r.git#main:c.yaml"))
    shown = grid("agent", "status", "--cluster", "ag-st", "--workdir", str(tmp_path))
    assert shown.code == 0, shown.stderr
    assert "Cluster ag-st: 2 agent(s)" in shown.stdout
    assert "hub-a  regions east  active (east)  commit ffffffffffff  applied" in shown.stdout
    assert "hub-b  regions east  passive" in shown.stdout and "applied 1 to create" in shown.stdout
    document = json.loads(grid("agent", "status", "--cluster", "ag-st", "--workdir", str(tmp_path), "--json").stdout)
    assert [a["role"] for a in document["agents"]] == ["active", "passive"]
    assert document["agents"][0]["age_seconds"] < 60
