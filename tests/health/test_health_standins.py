"""The lab's stand-in device tools print what grid's real parsers read: healthy → all ok; each fault → the right
check on the right device fails."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from grid.health.results import CheckResult, Status
from grid.health.suites import ProbeOutput, Suite, judge_node, probes_for

STANDINS = Path(str(resources.files("grid.templates").joinpath("standins")))
MODELS = {"nvidia": "h100-sxm", "ascend": "ascend-910b", "cambricon": "mlu590", "hygon": "hygon-k100",
          "amd": "mi300x"}
COUNT = 4


def _run(tmp_path: Path, model: str, faults: str, suite: Suite = Suite.QUICK) -> tuple[CheckResult, ...]:
    (tmp_path / "accelerators").write_text(f"{model} {COUNT}\n")
    (tmp_path / "faults").write_text(faults)
    env = {**os.environ, "GRID_ACCELERATORS": str(tmp_path / "accelerators"), "GRID_FAULTS": str(tmp_path / "faults")}
    outputs = {}
    for probe in probes_for(model, suite):
        if probe.name in ("disk", "clock"):
            continue  # not stand-ins: real on every node
        for key, command in probe.commands(COUNT):
            tool, *args = command.split()
            done = subprocess.run([sys.executable, str(STANDINS / tool), *args], env=env, capture_output=True,
                                  text=True, timeout=30, check=False)
            outputs[key] = ProbeOutput(done.returncode, done.stdout, done.stderr)
    return tuple(r for r in judge_node("lab-0", model, COUNT, suite, outputs) if r.check not in ("disk", "clock"))


def _not_ok(results: tuple[CheckResult, ...]) -> set[tuple[str, str, Status]]:
    return {(r.check, r.device, r.status) for r in results if r.status is not Status.OK}


@pytest.mark.parametrize("family", sorted(MODELS))
def test_a_healthy_node_is_ok_in_every_check(tmp_path: Path, family: str) -> None:
    results = _run(tmp_path, MODELS[family], "")
    assert results and _not_ok(results) == set()
    checks = {r.check for r in results}
    assert {"accelerators.count", "temperature"} <= checks
    if family != "hygon":  # hy-smi prints no model name
        assert "accelerators.model" in checks


@pytest.mark.parametrize(("family", "fault", "expected"), [
    ("ascend", "device 3 alarm", {("device.health", "3", Status.FAILED)}),
    ("ascend", "device 1 warning", {("device.health", "1", Status.WARNING)}),
    ("ascend", "link 1 down", {("link", "1", Status.FAILED)}),
    ("ascend", "temperature 0 95", {("temperature", "0", Status.WARNING)}),
    ("ascend", "temperature 0 101", {("temperature", "0", Status.FAILED)}),
    ("nvidia", "ecc 2 12", {("ecc", "2", Status.FAILED)}),
    ("nvidia", "temperature 0 95", {("temperature", "0", Status.FAILED)}),
    ("nvidia", "device 3 alarm", {("diag", "3", Status.FAILED)}),
    ("cambricon", "ecc 2 12", {("ecc", "2", Status.FAILED)}),
    ("cambricon", "device 3 critical", {("device.health", "3", Status.FAILED)}),
    ("hygon", "temperature 1 96", {("temperature", "1", Status.FAILED)}),
    ("amd", "ecc 1 3", {("ecc", "1", Status.FAILED)}),
    ("amd", "temperature 2 106", {("temperature", "2", Status.FAILED)}),
])
def test_each_fault_fails_the_right_check_on_the_right_device(tmp_path: Path, family: str, fault: str,
                                                              expected: set[tuple[str, str, Status]]) -> None:
    assert _not_ok(_run(tmp_path, MODELS[family], fault + "\n")) == expected


@pytest.mark.parametrize("family", sorted(MODELS))
def test_a_missing_device_fails_the_count_naming_it(tmp_path: Path, family: str) -> None:
    results = _run(tmp_path, MODELS[family], "missing 2\n")
    count = next(r for r in results if r.check == "accelerators.count")
    assert count.status is Status.FAILED and count.found == "3 of 4 found (missing: 2)"
    if family == "ascend":  # hccn_tool cannot find the device either
        assert ("link", "2", Status.FAILED) in _not_ok(results)


def test_the_full_nvidia_suite_runs_level_2(tmp_path: Path) -> None:
    results = _run(tmp_path, "h100-sxm", "device 1 warning\n", Suite.FULL)
    assert _not_ok(results) == {("diag", "1", Status.WARNING)}
    assert "GPU Memory: warn" in next(r.found for r in results if r.check == "diag" and r.device == "1")


def test_a_bad_fault_line_stops_the_tool_saying_where(tmp_path: Path) -> None:
    (tmp_path / "accelerators").write_text("ascend-910b 2\n")
    (tmp_path / "faults").write_text("# a comment\nlink 1 sideways\n")
    env = {**os.environ, "GRID_ACCELERATORS": str(tmp_path / "accelerators"), "GRID_FAULTS": str(tmp_path / "faults")}
    done = subprocess.run([sys.executable, str(STANDINS / "npu-smi"), "info"], env=env, capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 2 and "line 2" in done.stderr and "sideways" in done.stderr


def test_every_standin_is_executable_and_named_like_its_tool() -> None:
    names = {"nvidia-smi", "dcgmi", "npu-smi", "hccn_tool", "cnmon", "hy-smi", "amd-smi"}
    assert names <= {p.name for p in STANDINS.iterdir()}
    assert all(os.access(STANDINS / n, os.X_OK) for n in names)


@pytest.mark.parametrize(("facts", "devices"), [({"accelerator": "ascend-910b", "accelerators": 2}, 2),
                                                ({"accelerator": "ascend-910b", "accelerators": "3"}, 3),
                                                ({"accelerator": "cpu", "accelerators": 0}, 0)])
def test_without_an_accelerators_file_the_node_facts_declare_them(tmp_path: Path, facts: dict[str, object],
                                                                  devices: int) -> None:
    import json

    (tmp_path / "node.json").write_text(json.dumps(facts))
    env = {**os.environ, "GRID_ACCELERATORS": str(tmp_path / "absent"), "GRID_NODE_FACTS": str(tmp_path / "node.json"),
           "GRID_FAULTS": str(tmp_path / "absent-faults")}
    done = subprocess.run([sys.executable, str(STANDINS / "npu-smi"), "info"], env=env, capture_output=True,
                          text=True, timeout=30, check=False)
    from grid.health.ascend import parse_npu_smi_info

    assert done.returncode == 0, done.stderr
    assert len(parse_npu_smi_info(done.stdout)) == devices
