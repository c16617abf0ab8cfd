"""`grid check` and `grid status` against real Slurm on the lab (issue 16): a controller, two train nodes (Ascend
NPUs as GRES, an exclusive partition) and two infer nodes (H100 GPUs). `grid check` runs real jobs per partition
(every hostname, the shared /home/shared, GRES per node); `grid status` shows a running job, its accelerator in
use and the nodes' Slurm states; a node an operator drained fails its partition's check."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.cli import grid
from support.paths import EXAMPLES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SUBNETS = ("198.19.80.0/24", "198.19.81.0/24")  # this test's range (198.19.80.0/20), apart from other tests'
CONTROLLER = "lab-ctl-0000"


def write_spec(path: Path, name: str) -> Path:
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / "slurm" / "cluster.yaml").read_text())
    data["metadata"]["name"] = name
    region = data["spec"]["regions"][0]
    for fabric, cidr in zip(region["fabrics"], SUBNETS, strict=True):
        fabric["cidr"] = cidr
    for pool in region["pools"]:
        if pool["name"] in ("train", "infer"):
            pool["count"] = 2
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def on_controller(name: str, command: str) -> str:
    done = subprocess.run(["podman", "exec", f"grid-{name}-{CONTROLLER}", "sh", "-c", command],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def running_job(name: str, command: str) -> str:
    out = on_controller(name, command)
    job = re.search(r"Submitted batch job (\d+)", out)
    assert job, out
    deadline = time.monotonic() + 60
    while on_controller(name, f"squeue -h -j {job.group(1)} -o %T") != "RUNNING":
        assert time.monotonic() < deadline, on_controller(name, "squeue; sinfo -N")
        time.sleep(1)
    return job.group(1)


def test_check_runs_jobs_per_partition_and_status_shows_the_cluster(tmp_path: Path) -> None:
    name = "sq-" + secrets.token_hex(3)
    spec = write_spec(tmp_path / "cluster.yaml", name)
    try:
        up = grid("up", str(spec), "--yes", "--skip-check")
        assert up.code == 0, up.output

        checked = grid("check", str(spec), "--json")
        assert checked.code == 0, checked.output
        partitions = {p["name"]: p for p in json.loads(checked.stdout)["partitions"]}
        assert partitions["train"]["ok"] and partitions["infer"]["ok"], partitions
        assert set(partitions["train"]["checks"]) == {"slurm:nodes", "slurm:srun", "slurm:storage:home",
                                                      "slurm:gres:npu:ascend-910b"}
        assert partitions["infer"]["nodes"] == ["lab-infer-0000", "lab-infer-0001"]
        assert "slurm:gres:gpu:h100-sxm" in partitions["infer"]["checks"]
        assert on_controller(name, "ls -A /home/shared | grep -c grid-check-slurm || true") == "0"  # cleaned up

        job = running_job(name, "sbatch -p infer --gres=gpu:h100-sxm:1 -J serve --wrap 'sleep 300'")
        shown = grid("status", str(spec), "--json")
        assert shown.code == 0, shown.output
        status = json.loads(shown.stdout)
        assert status["nodes"] == 5 and status["last_apply"]["command"] == "up"
        scheduler = status["scheduler"]
        assert scheduler["controller"] == CONTROLLER and not scheduler["error"]
        assert scheduler["jobs"]["running"] == 1 and scheduler["jobs"]["shown"][0]["id"] == job
        infer = next(p for p in scheduler["partitions"] if p["name"] == "infer")
        assert sorted(n["state"] for n in infer["nodes"]) in (["allocated", "idle"], ["idle", "mixed"])
        assert status["capacity"] == [{"region": "lab", "total": 2 * 8 + 2 * 2, "allocated": 1,
                                       "models": ["ascend-910b", "h100-sxm"]}]
        text = grid("status", str(spec))
        assert text.code == 0, text.output
        assert "jobs: 1 running, 0 pending" in text.stdout and "lab: 1/20" in text.stdout
        assert "partition train (default): 2 node(s)" in text.stdout

        on_controller(name, f"scancel {job}")
        # An operator drains a train node: its partition fails the check, with the reason; no job waits for it.
        on_controller(name, "scontrol update nodename=lab-train-0001 state=drain reason='operator: bad fan'")
        started = time.monotonic()
        failed = grid("check", str(spec))
        assert failed.code == 1, failed.output
        assert "✗ train (2 node(s))" in failed.stdout and "✓ infer (2 node(s))" in failed.stdout
        assert "lab-train-0001: drained: operator: bad fan" in failed.stdout
        took = time.monotonic() - started
        assert took < 60, f"{took:.0f} s\n{failed.output}\n{on_controller(name, 'sinfo -N; squeue')}"
    finally:
        grid("destroy", str(spec), "--yes")
