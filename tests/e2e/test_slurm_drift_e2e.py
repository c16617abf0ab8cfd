"""Slurm drift on the real lab with real Slurm (issue 16): a controller and three train nodes; each case in turn
is made by hand as an operator (or a failure) would, `grid drift --json --detailed-exitcode` reports it in words
(exit 2), `grid up` repairs it, and a job across every node runs after.

Cases: slurmd killed on one node while another node's container restarts (its daemons gone, its munge key and
files kept); a node drained by hand (not grid's drain: Slurm keeps it out until resumed); slurm.conf edited on
the controller; slurmctld stopped.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.cli import grid
from support.paths import EXAMPLES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SUBNETS = ("198.19.114.0/24", "198.19.115.0/24")  # this test's range (198.19.112.0/20), apart from other tests'
CONTROLLER = "lab-ctl-0000"
TRAIN = [f"lab-train-{i:04d}" for i in range(3)]


@dataclass(frozen=True)
class Lab:
    spec: Path
    name: str

    def on(self, host: str, command: str) -> str:
        done = subprocess.run(["podman", "exec", f"grid-{self.name}-{host}", "sh", "-c", command],
                              capture_output=True, text=True, check=False, timeout=120)
        assert done.returncode == 0, f"{host}: {command}\n{done.stdout}{done.stderr}"
        return done.stdout.strip()

    def ctl(self, command: str) -> str:
        return self.on(CONTROLLER, command)

    def drift(self) -> dict[str, list[str]]:
        """`grid drift`: {host address: what was found there}; it must say the cluster drifted (exit 2)."""
        found = grid("drift", str(self.spec), "--json", "--detailed-exitcode")
        assert found.code == 2, found.output
        document: dict[str, Any] = json.loads(found.stdout)
        assert document["drifted"] is True
        return {item["address"]: item["findings"] for item in document["items"]}

    def repair(self) -> None:
        """`grid up` repairs; then a job runs on every train node."""
        up = grid("up", str(self.spec), "--yes", "--skip-check")
        assert up.code == 0, up.output
        assert sorted(self.ctl("srun -N3 hostname").split()) == TRAIN
        states = self.ctl("sinfo -h -N -o '%N %T'")
        assert all(line.split()[1] == "idle" for line in states.splitlines()), states


def write_spec(path: Path, name: str) -> Path:
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / "slurm" / "cluster.yaml").read_text())
    data["metadata"]["name"] = name
    region = data["spec"]["regions"][0]
    for fabric, cidr in zip(region["fabrics"], SUBNETS, strict=True):
        fabric["cidr"] = cidr
    region.pop("storage", None)
    region["pools"] = [pool for pool in region["pools"] if pool["name"] != "infer"]
    for pool in region["pools"]:
        pool.pop("storage", None)
    scheduler = data["spec"]["scheduler"]
    scheduler["partitions"] = [p for p in scheduler["partitions"] if p["name"] == "train"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    name = "sd-" + secrets.token_hex(3)
    made = Lab(write_spec(tmp_path_factory.mktemp("slurm-drift") / "cluster.yaml", name), name)
    try:
        up = grid("up", str(made.spec), "--yes", "--skip-check")
        assert up.code == 0, up.output
        assert sorted(made.ctl("srun -N3 hostname").split()) == TRAIN
        yield made
    finally:
        grid("destroy", str(made.spec), "--yes")


def test_a_killed_slurmd_and_a_restarted_node_are_drift_and_up_starts_their_daemons(lab: Lab) -> None:
    lab.on("lab-train-0000", "kill -9 $(cat /run/slurmd.pid)")
    # A restarted container loses its daemons, not its munge key or files: only the daemons are drift.
    subprocess.run(["podman", "restart", f"grid-{lab.name}-lab-train-0002"], capture_output=True, check=True,
                   timeout=120)
    assert lab.drift() == {"lab/train/node-0000": ["slurmd down on lab-train-0000"],
                           "lab/train/node-0002": ["munged down on lab-train-0002", "slurmd down on lab-train-0002"]}
    lab.repair()


def test_a_node_drained_by_hand_is_drift_and_up_resumes_it(lab: Lab) -> None:
    lab.ctl("scontrol update NodeName=lab-train-0001 State=DRAIN Reason=hand")
    assert lab.drift() == {
        "lab/ctl/node-0000": ["lab-train-0001 DRAIN in Slurm (reason: 'hand', not grid's)"]}
    lab.repair()


def test_slurm_conf_edited_on_the_controller_is_drift_and_up_writes_it_back(lab: Lab) -> None:
    rendered = lab.ctl("cat /etc/slurm/slurm.conf")
    lab.ctl("echo 'MaxJobCount=7  # edited by hand' >> /etc/slurm/slurm.conf")
    assert lab.drift() == {
        "lab/ctl/node-0000": ["slurm.conf edited on lab-ctl-0000 (differs from what grid renders)"]}
    lab.repair()
    assert lab.ctl("cat /etc/slurm/slurm.conf") == rendered


def test_a_stopped_slurmctld_is_drift_and_up_starts_it(lab: Lab) -> None:
    lab.ctl("kill $(cat /run/slurmctld.pid)")
    deadline = time.monotonic() + 30
    while lab.ctl("/usr/local/sbin/grid-daemon status slurmctld") != "down":
        assert time.monotonic() < deadline, "slurmctld did not stop"
        time.sleep(0.5)
    assert lab.drift() == {"lab/ctl/node-0000": ["slurmctld down on lab-ctl-0000"]}
    lab.repair()
