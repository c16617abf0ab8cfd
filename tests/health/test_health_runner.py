"""The health runner: a node's probes run as one script (here by a local shell standing in for SSH, with the
lab's stand-in tools on PATH), their outputs read back and judged; an unreachable node is one failed `ssh`."""

from __future__ import annotations

import os
import subprocess
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from grid.health.results import Status
from grid.health.runner import (
    HealthReport,
    NodeHealth,
    NodeTarget,
    check_nodes,
    node_script,
    read_clock,
    read_sections,
)
from grid.health.suites import Suite

STANDINS = Path(str(resources.files("grid.templates").joinpath("standins")))


class LocalShell:
    """Runs what the runner sends in a local `sh`, with per-node accelerators and faults files."""

    def __init__(self, tmp_path: Path, nodes: dict[str, tuple[str, str]],
                 unreachable: frozenset[str] = frozenset()) -> None:
        self.env: dict[str, dict[str, str]] = {}
        self.unreachable = unreachable
        self.calls: list[tuple[str, float | None]] = []
        self.lock = threading.Lock()
        for ip, (declared, faults) in nodes.items():
            folder = tmp_path / ip
            folder.mkdir()
            (folder / "accelerators").write_text(declared)
            (folder / "faults").write_text(faults)
            self.env[ip] = {**os.environ, "PATH": f"{STANDINS}:{os.environ['PATH']}",
                            "GRID_ACCELERATORS": str(folder / "accelerators"), "GRID_FAULTS": str(folder / "faults")}

    def execute(self, address: str, command: str, *, timeout: float | None = None) -> tuple[int, str, str]:
        with self.lock:
            self.calls.append((address, timeout))
        if address in self.unreachable:
            return 255, "", "NoValidConnectionsError: [Errno 113] No route to host"
        done = subprocess.run(["sh", "-c", command], env=self.env[address], capture_output=True, text=True,
                              timeout=60, check=False)
        return done.returncode, done.stdout, done.stderr


def _target(n: int, model: str | None = "ascend-910b", per_node: int = 4) -> NodeTarget:
    return NodeTarget(f"lab/train/node-000{n}", f"lab-train-000{n}", f"10.0.0.{n}", model, per_node)


def test_a_healthy_ascend_node_passes_every_check(tmp_path: Path) -> None:
    shell = LocalShell(tmp_path, {"10.0.0.1": ("ascend-910b 4\n", "")})
    seen: list[NodeHealth] = []
    report = check_nodes([_target(1)], Suite.QUICK, shell, on_node=seen.append)
    (node,) = report.nodes
    assert node.status is Status.OK, [r.line() for r in node.not_ok]
    checks = {r.check for r in node.results}
    assert {"accelerators.count", "device.health", "link", "disk", "clock"} <= checks
    assert [r.device for r in node.results if r.check == "link"] == ["0", "1", "2", "3"]
    assert seen == [node] and report.failing == () and report.passed == 1
    assert len(shell.calls) == 2  # the script, then the clock on its own


def test_faults_fail_the_right_check_on_the_right_device(tmp_path: Path) -> None:
    shell = LocalShell(tmp_path, {"10.0.0.1": ("ascend-910b 4\n", "device 3 alarm\n"),
                                  "10.0.0.2": ("ascend-910b 4\n", "link 2 down\n")})
    report = check_nodes([_target(1), _target(2)], Suite.QUICK, shell)
    first, second = report.nodes
    assert [(r.check, r.device) for r in first.failed] == [("device.health", "3")]
    assert "Alarm" in first.failed[0].line() and first.failed[0].node == "lab/train/node-0001"
    assert [(r.check, r.device) for r in second.failed] == [("link", "2")]
    assert report.failing == ("lab/train/node-0001", "lab/train/node-0002")
    run = report.record()
    assert (run.suite, run.nodes, run.passed) == ("quick", 2, 0)
    assert {(r.node, r.check, r.device, r.status) for r in run.results} == {
        ("lab/train/node-0001", "device.health", "3", "failed"), ("lab/train/node-0002", "link", "2", "failed")}


def test_an_unreachable_node_is_one_failed_ssh_result(tmp_path: Path) -> None:
    shell = LocalShell(tmp_path, {"10.0.0.1": ("ascend-910b 4\n", "")}, unreachable=frozenset({"10.0.0.2"}))
    report = check_nodes([_target(1), _target(2)], Suite.QUICK, shell)
    assert report.failing == ("lab/train/node-0002",)
    (only,) = report.nodes[1].results
    assert (only.check, only.status) == ("ssh", Status.FAILED)
    assert "No route to host" in only.found and "10.0.0.2" in only.found


def test_a_missing_tool_and_a_cpu_node(tmp_path: Path) -> None:
    shell = LocalShell(tmp_path, {"10.0.0.1": ("", ""), "10.0.0.2": ("", "")})
    shell.env["10.0.0.1"]["PATH"] = "/usr/bin:/bin"  # no stand-ins: npu-smi is not there
    report = check_nodes([_target(1), _target(2, None, 0)], Suite.QUICK, shell)
    missing = report.nodes[0].failed
    assert missing and all("not installed" in r.found for r in missing if r.check == "accelerators.count")
    assert report.nodes[1].status is Status.OK
    assert {r.check for r in report.nodes[1].results} == {"disk", "clock"}


def test_sections_survive_any_output_and_cut_lines_are_left_out() -> None:
    from grid.health.suites import probes_for

    probe = probes_for(None, Suite.QUICK)[0]
    script = node_script([("a", probe, "printf 'tok a 0 x. y.\\n'; echo oops >&2; exit 3")], "tok")
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)
    sections = read_sections(done.stdout + "tok b 0 abc", "tok")
    assert list(sections) == ["a"]
    assert (sections["a"].exit_code, sections["a"].stdout, sections["a"].stderr) == (3, "tok a 0 x. y.\n", "oops\n")


def test_the_report_as_json_and_record() -> None:
    report = HealthReport(Suite.FULL, ())
    assert report.to_dict() == {"suite": "full", "nodes": [], "failing": [], "passed": 0}
    assert report.record().nodes == 0


class SlowClock:
    """A node whose clock is right, answering `date` after the delays given (the controller's clock moves on)."""

    def __init__(self, delays: list[float], now: list[float], fail_after: int = 99) -> None:
        self.delays, self.now, self.fail_after, self.reads = delays, now, fail_after, 0

    def execute(self, address: str, command: str, *, timeout: float | None = None) -> tuple[int, str, str]:
        self.reads += 1
        if self.reads > self.fail_after:
            return 255, "", "SSHException: Timeout opening channel."
        delay = self.delays.pop(0)
        self.now[0] += delay / 2
        read_at = self.now[0]
        self.now[0] += delay / 2
        return 0, f"{read_at:.6f}\n", ""


def test_a_clock_read_over_a_long_round_trip_is_read_again_and_the_shortest_kept(monkeypatch: Any) -> None:
    import grid.health.runner as runner

    now = [1000.0]
    monkeypatch.setattr(runner.time, "time", lambda: now[0])
    node = SlowClock([4.0, 0.5, 0.02, 9.0], now)
    read = read_clock(node, "198.18.0.2", "date +%s.%N", 10)
    assert node.reads == 3 and read.round_trip_s == pytest.approx(0.02)
    node = SlowClock([4.0, 3.0, 5.0], now)
    assert read_clock(node, "198.18.0.2", "date", 10).round_trip_s == pytest.approx(3.0)  # the best of 3
    node = SlowClock([4.0], now, fail_after=1)  # the second read SSH did not carry: the first one stands
    kept = read_clock(node, "198.18.0.2", "date", 10)
    assert (kept.exit_code, kept.round_trip_s, node.reads) == (0, pytest.approx(4.0), 2)
