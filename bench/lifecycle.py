"""Node lifecycle on the lab: one heal (a failing node found, replaced, the replacement serving jobs) and a rolling
replacement of 8 nodes in waves of 2, each with its phases.

Per run, on one unique cluster (examples/health: a controller and 8 Ascend nodes under Slurm, 1/4 CPU and 256 MB
each; two free /24s of 198.19.128.0/20):

- heal: an NPU alarm is written into one node's fault file; `grid check --suite quick` finds it (`detect`);
  `grid up --heal --yes --skip-check` quarantines it, makes its replacement (the pool's next index), checks and
  resumes it and removes the bad node (`heal`); then `srun -w <replacement> hostname` from the controller until
  it answers (`serving`). The figure is detect → replacement serving jobs.
- roll: an image change of the pool (it boots a spec.images recipe holding one release file; a new release is a
  new recipe hash, so a new image, which the update policy marks as replacing every node) with
  `update: {max_unavailable: 2}`: `grid up --yes --skip-check -v` rolls 4 waves; when each wave's phases were
  reported comes from its lines (ROLL_LINE), then `srun -N8` until every node answers.
- `grid destroy`, and removal by the cluster's podman label whatever happened (try/finally).

Prints JSON: seconds (min/median/max), phases, the load average (the machine is shared).

Usage:  python bench/lifecycle.py [--runs 2]
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from _lab import REPO, emit, free_subnets, grid, measured_run, spread
from support import cli
from support.paths import EXAMPLES

NODES = 8
RANGE = ipaddress.IPv4Network("198.19.128.0/20")  # the benchmarks' range, apart from the tests' 198.18.128.0/17
CONTROLLER = "lab-ctl-0000"
BAD_NODE = 3
SERVE_TIMEOUT = 300
HEAL_LINE = re.compile(r"^\s*[\d.]+s .*\b(heal|infrastructure|configuration|drain)\b")
ROLL_LINE = re.compile(r"^\s*([\d.]+)s\b(.*\bwave (\d+)/(\d+)\b.*)$")


def write_spec(path: Path, name: str, subnets: list[str], *, release: str = "v1") -> None:
    """examples/health as cluster `name`, its train pool booting recipe `rolled` (one file: the release)."""
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / "health" / "cluster.yaml").read_text())
    data["metadata"]["name"] = name
    region = data["spec"]["regions"][0]
    for fabric, cidr in zip(region["fabrics"], subnets, strict=True):
        fabric["cidr"] = cidr
    train = next(pool for pool in region["pools"] if pool["name"] == "train")
    train["image"] = "rolled"
    (path.parent / "image").mkdir(exist_ok=True)
    (path.parent / "image" / "release").write_text(f"{release} {name}\n")  # the cluster's own image tag
    data["spec"]["images"] = [{"name": "rolled", "files": [
        {"src": "image/release", "dest": "/etc/grid-release", "mode": "0644"}]}]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def on_controller(name: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", "exec", f"grid-{name}-{CONTROLLER}", *argv], capture_output=True, text=True,
                          check=False, timeout=SERVE_TIMEOUT)


def until_served(name: str, *srun: str, expect: int) -> float:
    """Seconds until `srun …` from the controller prints `expect` distinct hostnames."""
    started = time.perf_counter()
    while True:
        done = on_controller(name, "srun", "-p", "train", *srun, "hostname")
        if done.returncode == 0 and len(set(done.stdout.split())) == expect:
            return time.perf_counter() - started
        if time.perf_counter() - started > SERVE_TIMEOUT:
            raise RuntimeError(f"srun {' '.join(srun)} never succeeded: {done.stdout}{done.stderr}")
        time.sleep(0.5)


def wave_phases(output: str) -> list[dict[str, Any]]:
    """Per wave, from `grid up -v`'s timed lines naming it: when it started and ended (seconds since the run
    started) and each of its lines (drained, replaced, gated, resumed) with its time."""
    waves: dict[int, dict[str, Any]] = {}
    for line in output.splitlines():
        match = ROLL_LINE.match(line)
        if match:
            at, text, wave = float(match.group(1)), match.group(2).strip(), int(match.group(3))
            row = waves.setdefault(wave, {"wave": f"{wave}/{match.group(4)}", "from_s": at, "lines": []})
            row["to_s"] = at
            row["seconds"] = round(at - row["from_s"], 2)
            row["lines"].append(f"{at:.1f}s {text[:120]}")
    return [waves[k] for k in sorted(waves)]


def timed_lines(output: str, pattern: re.Pattern[str]) -> list[str]:
    """`grid up -v`'s timed lines matching `pattern` (when each step of a heal was reported)."""
    return [line.strip()[:160] for line in output.splitlines() if pattern.match(line)]


def one_run(index: int, root: Path) -> dict[str, Any]:
    directory = root / f"run{index}"
    directory.mkdir(parents=True)
    spec, name = directory / "cluster.yaml", "lc-" + secrets.token_hex(3)
    subnets = free_subnets(RANGE, 2)
    workdir = directory / "work"
    args = ("--workdir", str(workdir))
    with measured_run(name, subnets=subnets) as row:
        write_spec(spec, name, subnets)
        row["grid_up"] = grid("up", str(spec), *args, "--yes", "--skip-check").seconds
        until_served(name, f"-N{NODES}", expect=NODES)

        bad = f"grid-{name}-lab-train-{BAD_NODE:04d}"
        subprocess.run(["podman", "exec", bad, "sh", "-c", "echo 'device 3 alarm' > /etc/grid/faults"], check=True)
        detect = cli.grid("check", str(spec), *args, "--suite", "quick", timeout=600)
        if detect.code != 1 or f"node-{BAD_NODE:04d}" not in detect.output:
            raise RuntimeError(f"grid check did not find the alarm:\n{detect.output[-2000:]}")
        heal = grid("up", str(spec), *args, "--heal", "--yes", "--skip-check", "-v")
        replacement = f"lab-train-{NODES:04d}"
        serving = until_served(name, "-w", replacement, expect=1)
        row["heal"] = {"detect": detect.seconds, "heal": heal.seconds, "serving": round(serving, 2),
                       "detect_to_serving": round(detect.seconds + heal.seconds + serving, 2),
                       "phases": timed_lines(heal.output, HEAL_LINE)}

        write_spec(spec, name, subnets, release="v2")
        rolled = grid("up", str(spec), *args, "--yes", "--skip-check", "-v")
        serving = until_served(name, f"-N{NODES}", expect=NODES)
        row["roll"] = {"grid_up": rolled.seconds, "serving": round(serving, 2),
                       "to_serving": round(rolled.seconds + serving, 2), "waves": wave_phases(rolled.output)}
        grid("destroy", str(spec), *args, "--yes")
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    os.chdir(REPO)
    with tempfile.TemporaryDirectory(prefix="grid-bench-lifecycle-") as tmp:
        rows = [one_run(i, Path(tmp)) for i in range(args.runs)]
    emit({
        "benchmark": "lifecycle", "nodes": NODES, "max_unavailable": 2, "cpus": os.cpu_count(), "runs": rows,
        "seconds": {
            "heal_detect_to_serving": spread(r["heal"]["detect_to_serving"] for r in rows),
            "heal_detect": spread(r["heal"]["detect"] for r in rows),
            "heal_grid_up": spread(r["heal"]["heal"] for r in rows),
            "roll_to_serving": spread(r["roll"]["to_serving"] for r in rows),
            "roll_grid_up": spread(r["roll"]["grid_up"] for r in rows),
        },
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
