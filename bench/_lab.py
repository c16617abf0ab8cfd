"""Shared by the live benchmarks (bringup.py, drift.py): unique lab clusters, timed CLI runs, cleanup.

Every cluster gets a unique name and free /24s of 198.18.128.0/17 (tests/helpers.lab_spec), so other
engineers' clusters on the same machine are never touched; `remove_cluster` deletes whatever is left of
one cluster by its podman label, whatever state its work directory is in.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from helpers import lab_spec  # noqa: E402  (tests/helpers.py: unique names, free subnets)

GRID = str(Path(sys.executable).parent / "grid")
NODE_RESOURCES = {"cpus": 0.25, "memory_gb": 0.25}


def sized(count: int) -> Callable[[dict[str, Any]], None]:
    """A lab_spec edit: every pool gets `count` nodes, each 1/4 CPU and 256 MB."""

    def edit(data: dict[str, Any]) -> None:
        for region in data["spec"]["regions"]:
            for pool in region["pools"]:
                pool["count"] = count
                pool["resources"] = dict(NODE_RESOURCES)

    return edit


def make_lab(directory: Path, count: int = 8) -> tuple[Path, str]:
    """The local-lab spec with `count` nodes per pool (2 regions, 1 pool each), unique name and subnets."""
    return lab_spec(directory, edit=sized(count))


@dataclass(frozen=True)
class Timed:
    seconds: float
    code: int
    output: str  # stdout + stderr
    stdout: str = ""


def run(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 1800, check: bool = True) -> Timed:
    """Run a command; wall seconds, exit code and output. check: raise with the output on failure."""
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env={**os.environ, "CI": "true", **(env or {})}, capture_output=True,
                          text=True, timeout=timeout, check=False)
    timed = Timed(time.perf_counter() - started, proc.returncode, proc.stdout + proc.stderr, proc.stdout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{timed.output[-6000:]}")
    return timed


def grid(*args: str, check: bool = True, timeout: float = 1800) -> Timed:
    return run([GRID, *args], check=check, timeout=timeout)


def remove_cluster(name: str) -> None:
    """Remove every container, network and volume labelled as `name`'s (best effort, never raises)."""
    selector = f"label=grid.cluster={name}"
    for argv in (["podman", "ps", "-aq", "--filter", selector],):
        ids = subprocess.run(argv, capture_output=True, text=True, check=False).stdout.split()
        if ids:
            subprocess.run(["podman", "rm", "-f", "-t", "0", *ids], capture_output=True, check=False)
    for kind in ("network", "volume"):
        names = subprocess.run(["podman", kind, "ls", "-q", "--filter", selector], capture_output=True,
                               text=True, check=False).stdout.split()
        if names:
            subprocess.run(["podman", kind, "rm", "-f", *names], capture_output=True, check=False)


def leftovers(name: str) -> list[str]:
    selector = f"label=grid.cluster={name}"
    found: list[str] = []
    for argv in (["podman", "ps", "-aq", "--filter", selector], ["podman", "network", "ls", "-q", "--filter", selector],
                 ["podman", "volume", "ls", "-q", "--filter", selector]):
        found += subprocess.run(argv, capture_output=True, text=True, check=False).stdout.split()
    return found


def spread(values: Iterable[float]) -> dict[str, float]:
    items = list(values)
    return {"min": round(min(items), 2), "median": round(statistics.median(items), 2),
            "max": round(max(items), 2), "runs": len(items)}


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def emit(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2))
