"""Shared by the live benchmarks (bringup.py, drift.py): unique lab clusters, timed CLI runs, cleanup.

They are the tests' own (tests/support): every cluster gets a unique name and free /24s of 198.18.128.0/17
reserved for this process (support.specs.lab_spec), so other engineers' clusters on the same machine are
never touched; `remove_cluster` deletes whatever is left of one cluster by its podman label, whatever state
its work directory is in; `run` and `grid` are support.cli's, failing on a non-zero exit.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import os
import statistics
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support import cli  # tests/support: the one CLI runner and spec maker
from support.lab import leftovers, remove_cluster
from support.paths import REPO
from support.specs import lab_spec, used_subnets

__all__ = ["REPO", "emit", "free_subnets", "grid", "load_average", "make_lab", "measured_lab", "measured_run",
           "remove_cluster", "run", "spread"]

NODE_RESOURCES = {"cpus": 0.25, "memory_gb": 0.25}
run = functools.partial(cli.run, check=True, timeout=1800)  # a Run: seconds, code, output
grid = functools.partial(cli.grid, check=True, timeout=1800)


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


@contextlib.contextmanager
def measured_lab(directory: Path, count: int = 8) -> Iterator[tuple[Path, str, dict[str, Any]]]:
    """A lab (make_lab) and the row of its run's figures (measured_run)."""
    spec, name = make_lab(directory, count)
    with measured_run(name) as row:
        yield spec, name, row


@contextlib.contextmanager
def measured_run(name: str, **row: Any) -> Iterator[dict[str, Any]]:
    """The row of one run's figures on cluster `name`: the load average at the start and the end, and whatever
    podman still held of the cluster after everything of it was removed (`left_behind`), whatever happened."""
    figures: dict[str, Any] = {"cluster": name, **row, "load_avg_start": load_average()}
    try:
        yield figures
    finally:
        remove_cluster(name)
        left = leftovers(name)
        if left:
            figures["left_behind"] = left
    figures["load_avg_end"] = load_average()


def free_subnets(within: ipaddress.IPv4Network, count: int) -> list[str]:
    """`count` /24s of `within` that no podman network or host route uses, from the top of the range down
    (the tests hold the bottom of theirs)."""
    used = used_subnets()
    free = [str(net) for net in reversed(list(within.subnets(new_prefix=24))) if not any(net.overlaps(u) for u in used)]
    if len(free) < count:
        raise RuntimeError(f"fewer than {count} free /24s in {within}")
    return free[:count]


def spread(values: Iterable[float]) -> dict[str, float]:
    items = list(values)
    return {"min": round(min(items), 2), "median": round(statistics.median(items), 2),
            "max": round(max(items), 2), "runs": len(items)}


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def emit(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2))
