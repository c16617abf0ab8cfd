"""A 16-node Slurm cluster: bring-up to the first job, +1 node with Slurm reconfigured, the no-op `grid up`.

Per run, on one unique cluster (examples/slurm's controller and one partition of 16 Ascend nodes, 1/4 CPU and
256 MB each; two free /24s of 198.19.128.0/20):

- bring-up: `grid up --yes --skip-check` from nothing, then `srun -N16 hostname` from the controller until it
  returns every hostname — the time a user waits for the first job (`first_srun`; `grid_up` alone too);
- +1 node: the pool's count + 1, `grid up --yes --skip-check -v`, then `srun -N17 hostname` until it returns
  every hostname — target ≤ 0.3x the bring-up; where its time goes (from `-v`'s per-task lines: when each
  phase ended, the tasks that took longest across hosts) is reported once (`plus_one_breakdown`);
- no-op: `grid up --yes --skip-check` again — target ≤ 2 s (the seconds grid itself reports too, and those of
  `grid --help` right after: the interpreter's start and grid's imports);
- `grid destroy`, and removal by the cluster's podman label whatever happened (try/finally).

Prints JSON: seconds (min/median/max), ratios, targets met, the load average (the machine is shared).

Usage:  python bench/slurm.py [--runs 3]
"""

from __future__ import annotations

import argparse
import collections
import difflib
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
from support.paths import EXAMPLES

NODES = 16
TARGET_GROW_RATIO = 0.3
TARGET_NOOP_SECONDS = 2.0
RANGE = ipaddress.IPv4Network("198.19.128.0/20")  # apart from the tests' 198.18.128.0/17
CONTROLLER = "lab-ctl-0000"
FIRST_JOB_TIMEOUT = 300
TASK_LINE = re.compile(r"^\s*([\d.]+)s\s+configuration (\S+): (.+): (start|ok|changed|skipped|failed)\s*$")
PHASE_LINE = re.compile(r"^\s*([\d.]+)s ✓ (render|infrastructure \S+|configuration)\b")


def write_spec(path: Path, name: str, count: int, subnets: list[str]) -> None:
    """examples/slurm with one partition: the train pool of `count` nodes."""
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / "slurm" / "cluster.yaml").read_text())
    data["metadata"]["name"] = name
    region = data["spec"]["regions"][0]
    for fabric, cidr in zip(region["fabrics"], subnets, strict=True):
        fabric["cidr"] = cidr
    region["pools"] = [pool for pool in region["pools"] if pool["name"] != "infer"]
    for pool in region["pools"]:
        pool["resources"] = {"cpus": 0.25, "memory_gb": 0.25}
        if pool["name"] == "train":
            pool["count"] = count
    scheduler = data["spec"]["scheduler"]
    scheduler["partitions"] = [p for p in scheduler["partitions"] if p["name"] == "train"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def first_srun(name: str, count: int) -> float:
    """Seconds until `srun -N<count> hostname` from the controller returns every node's hostname."""
    started = time.perf_counter()
    argv = ["podman", "exec", f"grid-{name}-{CONTROLLER}", "srun", "-p", "train", f"-N{count}", "hostname"]
    while True:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=FIRST_JOB_TIMEOUT)
        if done.returncode == 0 and len(set(done.stdout.split())) == count:
            return time.perf_counter() - started
        if time.perf_counter() - started > FIRST_JOB_TIMEOUT:
            raise RuntimeError(f"srun -N{count} never succeeded: {done.stdout}{done.stderr}")
        time.sleep(0.5)


def breakdown(output: str, hosts: tuple[str, ...], top: int = 8) -> dict[str, Any]:
    """Where a `grid up -v` run's time went: when each phase ended; the tasks with the longest span (first
    start to last end over all hosts), the hosts each ran on and their mean seconds per host; and for each of
    `hosts`, when its first task started, its last ended, and its slowest tasks."""
    phases: dict[str, float] = {}
    starts: dict[tuple[str, str], float] = {}
    spans: dict[str, list[float]] = collections.defaultdict(lambda: [float("inf"), 0.0])
    per_host: dict[str, list[float]] = collections.defaultdict(list)
    timeline: dict[str, list[tuple[float, float, str]]] = collections.defaultdict(list)
    for line in output.splitlines():
        if phase := PHASE_LINE.match(line):
            phases[phase.group(2)] = float(phase.group(1))  # the last host's line for `configuration`
            continue
        task = TASK_LINE.match(line)
        if not task:
            continue
        at, host, name, status = float(task.group(1)), task.group(2), task.group(3), task.group(4)
        if status == "start":
            starts[(host, name)] = at
            spans[name][0] = min(spans[name][0], at)
        elif (host, name) in starts:
            spans[name][1] = max(spans[name][1], at)
            began = starts.pop((host, name))
            per_host[name].append(at - began)
            timeline[host].append((began, at, name))
    longest = sorted(spans.items(), key=lambda item: item[1][1] - item[1][0], reverse=True)[:top]
    applied = re.search(r"applied in ([\d.]+)s", output)
    return {
        "applied_s": float(applied.group(1)) if applied else None,
        "phase_done_at_s": phases,
        "longest_tasks": [{"task": name, "from_s": first, "to_s": last, "span_s": round(last - first, 2),
                           "hosts": len(per_host[name]),
                           "mean_per_host_s": round(sum(per_host[name]) / max(len(per_host[name]), 1), 2)}
                          for name, (first, last) in longest],
        "hosts": {host: {"first_task_s": min(t[0] for t in timeline[host]),
                         "last_task_s": max(t[1] for t in timeline[host]), "tasks": len(timeline[host]),
                         "slowest": [f"{name}: {end - began:.1f}s (at {began}s)" for began, end, name
                                     in sorted(timeline[host], key=lambda t: t[0] - t[1])[:5]]}
                  for host in hosts if timeline.get(host)},
    }


def snapshot(tree: Path) -> dict[str, str]:
    return {str(path.relative_to(tree)): path.read_text(errors="replace") for path in sorted(tree.rglob("*"))
            if path.is_file()}


def not_a_noop(output: str, before: dict[str, str], tree: Path) -> dict[str, Any]:
    """What a `grid up` that should have had nothing to do did, and the rendered files it wrote differently."""
    after = snapshot(tree)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    diff = "".join(line for name in changed for line in difflib.unified_diff(
        before.get(name, "").splitlines(keepends=True), after.get(name, "").splitlines(keepends=True), name, name))
    return {"plan": [line.strip() for line in output.splitlines() if re.match(r"^(Plan|  \w)", line)][:6],
            "changed_files": changed, "diff": diff[:4000]}


def one_run(index: int, root: Path, *, explain: bool) -> dict[str, Any]:
    directory = root / f"run{index}"
    directory.mkdir(parents=True)
    spec, name = directory / "cluster.yaml", "se-" + secrets.token_hex(3)
    subnets = free_subnets(RANGE, 2)  # from the top down: tests/e2e/test_slurm_e2e.py holds the bottom
    workdir = directory / "work"
    with measured_run(name, subnets=subnets) as row:
        write_spec(spec, name, NODES, subnets)
        up = grid("up", str(spec), "--workdir", str(workdir), "--yes", "--skip-check")
        row["grid_up"] = up.seconds
        row["bringup_to_first_srun"] = up.seconds + first_srun(name, NODES)

        write_spec(spec, name, NODES + 1, subnets)
        grown = grid("up", str(spec), "--workdir", str(workdir), "--yes", "--skip-check", "-v")
        row["plus_one_grid_up"] = grown.seconds
        row["plus_one_to_srun"] = grown.seconds + first_srun(name, NODES + 1)
        if explain:
            row["plus_one_breakdown"] = breakdown(grown.output, (CONTROLLER, "lab-train-0000",
                                                                 f"lab-train-{NODES:04d}"))
        rendered = snapshot(workdir / "rendered")

        noop = grid("up", str(spec), "--workdir", str(workdir), "--yes", "--skip-check")
        if "No changes" not in noop.output:  # reported (what it did, the rendered files that changed), timed again
            row["after_plus_one_not_a_noop"] = not_a_noop(noop.output, rendered, workdir / "rendered")
            noop = grid("up", str(spec), "--workdir", str(workdir), "--yes", "--skip-check")
            if "No changes" not in noop.output:
                raise RuntimeError(f"grid up on the converged cluster was not a no-op:\n{noop.output[-3000:]}")
        row["noop"] = noop.seconds
        row["cli_start"] = grid("--help").seconds  # the interpreter and grid's imports, beside the no-op
        own = re.search(r"No changes: .*\(([\d.]+)s\)", noop.output)
        row["noop_reported_by_grid"] = float(own.group(1)) if own else None
        grid("destroy", str(spec), "--workdir", str(workdir), "--yes")
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.chdir(REPO)
    with tempfile.TemporaryDirectory(prefix="grid-bench-slurm-") as tmp:
        rows = [one_run(i, Path(tmp), explain=i == 0) for i in range(args.runs)]
    bringup = spread(r["bringup_to_first_srun"] for r in rows)
    plus = spread(r["plus_one_to_srun"] for r in rows)
    noop = spread(r["noop"] for r in rows)
    ratio = plus["median"] / bringup["median"]
    emit({
        "benchmark": "slurm", "nodes": NODES, "controller": 1, "cpus": os.cpu_count(), "runs": rows,
        "seconds": {"bringup_to_first_srun": bringup, "grid_up": spread(r["grid_up"] for r in rows),
                    "plus_one_to_srun": plus, "plus_one_grid_up": spread(r["plus_one_grid_up"] for r in rows),
                    "noop": noop},
        "ratios": {"plus_one_vs_bringup": round(ratio, 3),
                   "plus_one_vs_bringup_per_run": [round(r["plus_one_to_srun"] / r["bringup_to_first_srun"], 3)
                                                   for r in rows]},
        "targets": {
            "plus_one_ratio": {"target": TARGET_GROW_RATIO, "value": round(ratio, 3),
                               "met": ratio <= TARGET_GROW_RATIO},
            "noop_seconds": {"target": TARGET_NOOP_SECONDS, "value": noop["median"],
                             "met": noop["median"] <= TARGET_NOOP_SECONDS},
        },
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
