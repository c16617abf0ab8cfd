"""Jobs and the nodes grid removes, on the real lab with real Slurm (issue 16): a controller and three train
nodes; a job pinned to the last node; shrinking the pool by one drains that node, waits for the job and then
removes it; with `drain_timeout: 5` and a job that outlasts it, `grid up` refuses (exit 1, nothing removed);
with --allow-job-impact it goes on."""

from __future__ import annotations

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

SUBNETS = ("198.19.146.0/24", "198.19.147.0/24")  # this test's (of 198.19.144.0/20), apart from other tests'


def write_spec(path: Path, name: str, *, train: int, drain_timeout: int) -> Path:
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / "slurm" / "cluster.yaml").read_text())
    data["metadata"]["name"] = name
    region = data["spec"]["regions"][0]
    for fabric, cidr in zip(region["fabrics"], SUBNETS, strict=True):
        fabric["cidr"] = cidr
    region["pools"] = [pool for pool in region["pools"] if pool["name"] != "infer"]
    region["pools"][1]["count"] = train
    scheduler = data["spec"]["scheduler"]
    scheduler["partitions"] = [p for p in scheduler["partitions"] if p["name"] == "train"]
    scheduler["drain_timeout"] = drain_timeout
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def on(name: str, host: str, command: str) -> str:
    done = subprocess.run(["podman", "exec", f"grid-{name}-{host}", "sh", "-c", command], capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def submit(name: str, node: str, seconds: int) -> str:
    """A batch job pinned to `node`, once it runs there; its id."""
    out = on(name, "lab-ctl-0000", f"sbatch -p train -w {node} --wrap 'sleep {seconds}'")
    job = re.search(r"Submitted batch job (\d+)", out)
    assert job, out
    deadline = time.monotonic() + 60
    while on(name, "lab-ctl-0000", f"squeue -h -j {job.group(1)} -o %T") != "RUNNING":
        assert time.monotonic() < deadline, on(name, "lab-ctl-0000", "squeue; sinfo -N")
        time.sleep(1)
    return job.group(1)


def exists(name: str, host: str) -> bool:
    return subprocess.run(["podman", "container", "exists", f"grid-{name}-{host}"], check=False).returncode == 0


def test_shrinking_drains_waits_refuses_on_timeout_and_goes_on_when_allowed(tmp_path: Path) -> None:
    name = "dr-" + secrets.token_hex(3)
    spec = write_spec(tmp_path / "cluster.yaml", name, train=3, drain_timeout=120)
    try:
        up = grid("up", str(spec), "--yes", "--skip-check")
        assert up.code == 0, up.output

        # -1 node while a 30 s job runs on it: drained, waited for, then removed.
        job = submit(name, "lab-train-0002", 30)
        write_spec(spec, name, train=2, drain_timeout=120)
        shrink = grid("up", str(spec), "--yes", "--skip-check")
        assert shrink.code == 0, shrink.output
        assert f"lab-train-0002: 1 job running ({job} wrap); drained first, up to 120 s" in shrink.output
        assert "waiting for 1 job(s) on lab-train-0002 (drain, up to 120 s)" in shrink.output
        assert "no jobs left on lab-train-0002" in shrink.output
        assert not exists(name, "lab-train-0002")
        assert "lab-train-0002" not in on(name, "lab-ctl-0000", "sinfo -h -N -o %N")

        # A job that outlasts drain_timeout: refused, nothing removed; --allow-job-impact goes on.
        long_job = submit(name, "lab-train-0001", 600)
        write_spec(spec, name, train=1, drain_timeout=5)
        refused = grid("up", str(spec), "--yes", "--skip-check")
        assert refused.code == 1, refused.output
        assert f"lab-train-0001: {long_job} wrap" in refused.output and "--allow-job-impact" in refused.output
        assert exists(name, "lab-train-0001")
        assert "drain" in on(name, "lab-ctl-0000", "sinfo -h -n lab-train-0001 -o %T")

        allowed = grid("up", str(spec), "--yes", "--skip-check", "--allow-job-impact")
        assert allowed.code == 0, allowed.output
        assert "going on (--allow-job-impact)" in allowed.output
        assert not exists(name, "lab-train-0001")
        assert on(name, "lab-ctl-0000", "sinfo -h -N -o %N").split() == ["lab-train-0000"]
    finally:
        grid("destroy", str(spec), "--yes")
