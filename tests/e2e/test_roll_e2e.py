"""A rolling image change on the real lab (issue 17, item 4): examples/health/cluster.yaml (an Ascend pool under
Slurm, `update: {max_unavailable: 2, drain: wait}`) whose pool boots an image recipe of spec.images; changing the
recipe's file is an image change (a new recipe hash, so a new image, so every node of the pool is replaced, as
the update policy says of `image`). The recipe adds one file and no packages, so the build takes seconds: the
roll, not apt, is what this test is about.

While `sleep` jobs run on every node, the change is applied with a sampler of `sinfo -N` on the controller
running beside it: never more than max_unavailable nodes of the pool out of service, no job killed (each job's
output file says it finished), grid killed -9 after a wave's nodes were replaced (kill point
`roll.wave.replaced`) and the next `grid up` resuming at that wave (`resuming wave k/n`). Every node ends on the
new image, in service, and history has a `roll-wave` entry per wave.

ROLL_NODES (default 8: the issue's check) sets the pool's size; 4 is quicker when iterating.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.cli import grid, start, wait_for_no_survivors
from support.paths import EXAMPLES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SUBNETS = ("198.19.148.0/24", "198.19.149.0/24")  # this test's (of 198.19.144.0/20): tests run at once
NODES = int(os.environ.get("ROLL_NODES", "8"))
MAX_UNAVAILABLE = 2
WAVES = -(-NODES // MAX_UNAVAILABLE)
KILLED_WAVE = 2 if WAVES > 2 else 1
OUT_OF_SERVICE = {"drain", "drng", "drained", "draining", "down", "maint", "fail", "failg", "unk", "inval"}
CTL = "lab-ctl-0000"


def write_spec(spec: Path, name: str, release: str, *, nodes: int = NODES, max_unavailable: int = MAX_UNAVAILABLE,
               subnets: tuple[str, str] = SUBNETS, fault: str = "") -> None:
    """The health example as cluster `name`, its train pool booting recipe `rolled`: a release file (and, with
    `fault`, a stand-in fault file: an image whose accelerator stack is broken)."""
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / "health" / "cluster.yaml").read_text())
    data["metadata"]["name"] = name
    region = data["spec"]["regions"][0]
    for fabric, cidr in zip(region["fabrics"], subnets, strict=True):
        fabric["cidr"] = cidr
    train = region["pools"][1]
    train["count"] = nodes
    train["image"] = "rolled"
    train["update"] = {"max_unavailable": max_unavailable, "drain": "wait", "drain_timeout": 300,
                       "health_gate": "quick"}
    files = [{"src": "image/release", "dest": "/etc/grid-release", "mode": "0644"}]
    (spec.parent / "image").mkdir(exist_ok=True)
    (spec.parent / "image" / "release").write_text(f"{release} {name}\n")  # the cluster's own image tag
    if fault:
        (spec.parent / "image" / "faults").write_text(fault + "\n")
        files.append({"src": "image/faults", "dest": "/etc/grid/faults", "mode": "0644"})
    data["spec"]["images"] = [{"name": "rolled", "files": files}]
    spec.write_text(yaml.safe_dump(data, sort_keys=False))


def on(name: str, host: str, command: str) -> str:
    done = subprocess.run(["podman", "exec", f"grid-{name}-{host}", "sh", "-c", command], capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def hosts() -> list[str]:
    return [f"lab-train-{i:04d}" for i in range(NODES)]


def submit_jobs(name: str) -> dict[str, str]:
    """A sleep job per node (longer on later nodes), writing `finished` to its output file when it ends."""
    jobs = {}
    for i, host in enumerate(hosts()):
        out = on(name, CTL, f"sbatch -p train -w {host} --chdir /home/shared -o /home/shared/roll-%j.out "
                            f"--wrap 'sleep {25 + 10 * i}; echo finished'")
        match = re.search(r"Submitted batch job (\d+)", out)
        assert match, out
        jobs[host] = match.group(1)
    deadline = time.monotonic() + 90
    while on(name, CTL, "squeue -h -t R -o %i").split().__len__() < NODES:
        assert time.monotonic() < deadline, on(name, CTL, "squeue; sinfo -N")
        time.sleep(1)
    return jobs


class Sampler(threading.Thread):
    """`sinfo -N -h -o "%N %t"` on the controller every second: the most train nodes out of service at once."""

    def __init__(self, name: str) -> None:
        super().__init__(daemon=True)
        self.name_, self.most, self.samples, self.stop = name, 0, 0, threading.Event()
        self.worst: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            done = subprocess.run(["podman", "exec", f"grid-{self.name_}-{CTL}", "sinfo", "-N", "-h", "-o", "%N %t"],
                                  capture_output=True, text=True, check=False, timeout=30)
            if done.returncode == 0:
                # `*`: not responding (a new slurmd not registered yet) is out of service too.
                out = [line for line in done.stdout.splitlines() if line.startswith("lab-train-")
                       and (line.split()[1].rstrip("*~#!%$@^-") in OUT_OF_SERVICE or line.split()[1].endswith("*"))]
                self.samples += 1
                if len(out) > self.most:
                    self.most, self.worst = len(out), out
            self.stop.wait(1.0)


def test_rolling_image_change_under_jobs_with_a_kill_mid_roll(tmp_path: Path) -> None:
    name = "hc-" + secrets.token_hex(3)
    spec = tmp_path / "cluster.yaml"
    write_spec(spec, name, "v1")
    sampler = Sampler(name)
    try:
        up = grid("up", str(spec), "--yes", "--skip-check")
        assert up.code == 0, up.output[-4000:]
        jobs = submit_jobs(name)

        write_spec(spec, name, "v2")
        plan = grid("plan", str(spec))
        assert plan.code == 0, plan.output
        assert f"lab/train: {NODES} nodes replaced in {WAVES} waves of at most 2" in plan.output, plan.output
        assert f"wave 1/{WAVES}: lab/train/node-0000, node-0001" in plan.output

        sampler.start()
        killed = start("up", str(spec), "--yes", "--skip-check",
                       env={"GRID_KILL_AT": f"roll.wave.replaced:{KILLED_WAVE}"})
        code, output = killed.wait(timeout=1500)
        assert code == -9, output[-4000:]
        wait_for_no_survivors(killed.marker, 60)
        assert f"starting wave {KILLED_WAVE}/{WAVES}" in output

        resumed = grid("up", str(spec), "--yes", "--skip-check", timeout=1500)
        assert resumed.code == 0, resumed.output[-6000:]
        first = KILLED_WAVE * 2 - 2
        assert f"resuming wave {KILLED_WAVE}/{WAVES}: lab/train/node-{first:04d}, lab/train/node-{first + 1:04d}" \
            in resumed.output, resumed.output[-6000:]
        sampler.stop.set()
        sampler.join(timeout=30)

        print(f"\nroll of {NODES} nodes: killed run {time.monotonic() - killed.started:.0f} s after its start; resumed "
              f"run {resumed.seconds:.0f} s; most train nodes out of service at once: {sampler.most} "
              f"({sampler.samples} samples)")
        print(output[-3000:], resumed.output[-5000:], sep="\n--- resumed ---\n")
        assert sampler.samples > 10
        assert sampler.most <= MAX_UNAVAILABLE, sampler.worst
        for host in hosts():
            assert on(name, host, "cat /etc/grid-release") == f"v2 {name}"
        for host, job in jobs.items():  # drain: wait, so every job ran to its end
            assert on(name, CTL, f"cat /home/shared/roll-{job}.out") == "finished", host
        states = on(name, CTL, "sinfo -N -h -o '%N %t'")
        assert all(line.split()[1] in ("idle", "mix", "alloc") for line in states.splitlines()
                   if line.startswith("lab-train-")), states
        again = grid("plan", str(spec))
        assert "No changes." in again.output, again.output
        history = grid("state", "history", str(spec), "--json")
        assert history.code == 0, history.output
        actions = {c["action"] for entry in json.loads(history.stdout) for c in entry["changes"]}
        assert {f"roll-wave {wave}/{WAVES}" for wave in range(1, WAVES + 1)} <= actions, actions
    finally:
        sampler.stop.set()
        grid("destroy", str(spec), "--yes")
        for ref in _images(name):
            subprocess.run(["podman", "rmi", ref], capture_output=True, check=False)


def _images(name: str) -> list[str]:
    """This cluster's recipe images (their file names the cluster): the ones to remove."""
    out = subprocess.run(["podman", "images", "--filter", "reference=localhost/grid-pool-rolled",
                          "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True, check=False)
    refs = out.stdout.split()
    mine = []
    for ref in refs:
        probe = subprocess.run(["podman", "run", "--rm", "--entrypoint", "cat", ref, "/etc/grid-release"],
                               capture_output=True, text=True, check=False)
        if probe.stdout.strip().endswith(name):
            mine.append(ref)
    return mine


def test_a_failing_health_gate_stops_the_roll_and_a_fixed_image_goes_on(tmp_path: Path) -> None:
    """An image whose NPU 3 reports an alarm: wave 1 fails its gate (exit 1, naming the node, check and device),
    the later nodes keep the old image, the failed node stays drained; a fixed image rolls from that wave on."""
    name = "hc-" + secrets.token_hex(3)
    spec = tmp_path / "cluster.yaml"
    subnets = ("198.19.150.0/24", "198.19.151.0/24")
    write_spec(spec, name, "v1", nodes=3, max_unavailable=1, subnets=subnets)
    try:
        up = grid("up", str(spec), "--yes", "--skip-check")
        assert up.code == 0, up.output[-4000:]

        write_spec(spec, name, "v2", nodes=3, max_unavailable=1, subnets=subnets, fault="device 3 alarm")
        failed = grid("up", str(spec), "--yes", "--skip-check")
        assert failed.code == 1, failed.output[-4000:]
        assert "wave 1/3: the health gate failed on lab/train/node-0000" in failed.output, failed.output[-4000:]
        assert "device.health device 3" in failed.output, failed.output[-4000:]
        assert on(name, "lab-train-0000", "cat /etc/grid-release") == f"v2 {name}"
        for host in ("lab-train-0001", "lab-train-0002"):  # untouched
            assert on(name, host, "cat /etc/grid-release") == f"v1 {name}"
        assert "drain" in on(name, CTL, "sinfo -h -n lab-train-0000 -o %t")

        write_spec(spec, name, "v3", nodes=3, max_unavailable=1, subnets=subnets)
        fixed = grid("up", str(spec), "--yes", "--skip-check")
        assert fixed.code == 0, fixed.output[-6000:]
        assert "resuming wave 1/3: lab/train/node-0000" in fixed.output, fixed.output[-6000:]
        for host in ("lab-train-0000", "lab-train-0001", "lab-train-0002"):
            assert on(name, host, "cat /etc/grid-release") == f"v3 {name}"
        states = on(name, CTL, "sinfo -N -h -o '%N %t'")
        assert all(line.split()[1] == "idle" for line in states.splitlines() if line.startswith("lab-train-")), \
            states
    finally:
        grid("destroy", str(spec), "--yes")
        for ref in _images(name):
            subprocess.run(["podman", "rmi", ref], capture_output=True, check=False)
