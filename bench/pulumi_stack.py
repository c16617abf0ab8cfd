"""The Pulumi engine alone: one region stack of 1,000 / 2,000 / 5,000 trivial resources, through grid's engine.

Where one stack per region stops being enough (issue 18, item 6): the stack is run exactly as grid runs a
region's — grid.drivers.pulumi_automation.AutomationEngine (Automation API, inline program, the pinned `pulumi`
CLI on PATH, a DIY file backend in a temporary directory, grid's dynamic-provider launcher) — with a program of
N dynamic-provider resources that do nothing (create/read/diff answer at once, no podman), so what is measured
is the engine: its per-resource RPCs, the checkpoint it rewrites, the provider process.

Per size, one fresh backend: `first_up` (create N), `preview` (no refresh: what `grid plan` runs), `preview_refresh`
(what `grid drift` runs), `noop_up` (refresh then up, what `grid up` runs on a converged region), `plus_one`
(N+1, refresh then up) and the checkpoint's size. Runs in this process (the program must be importable by the
engine: it is registered as grid.stacks.<TARGET>). Prints JSON with the load average at each size's start and end.

The default sizes end at 1,000: creating a stack costs O(N²) here (the checkpoint is rewritten whole after each step),
so 2,000 takes ~18 min and 5,000 ~2 h on 2 cores; ask for them with --sizes.

Usage:  python bench/pulumi_stack.py [--sizes 250,500,1000]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

from _lab import REPO, emit, load_average

RECURSION_LIMIT = 100_000
TARGET = "scalebench"  # registered as grid.stacks.scalebench: AutomationEngine imports the program from there


class NothingProvider(ResourceProvider):
    """A resource that exists as soon as it is asked for (serialized by value: this is __main__)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=str(props["address"]), outs=dict(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_=id_, outs=dict(props))

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in news if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[])


class Nothing(Resource):
    def __init__(self, name: str, props: dict[str, Any]) -> None:
        super().__init__(NothingProvider(), name, props)


def program(data: dict[str, Any]) -> None:
    """N resources shaped like grid's node resources (a few string props each)."""
    for node in data["nodes"]:
        Nothing(node["address"], {"address": node["address"], "hostname": node["hostname"], "ip": node["ip"],
                                  "pool": node["pool"]})


def region_data(count: int) -> dict[str, Any]:
    nodes = [{"address": f"east/train/node-{i:05d}", "hostname": f"east-train-{i:05d}",
              "ip": f"100.{64 + i // 65536}.{i // 256 % 256}.{i % 256}", "pool": "train"} for i in range(count)]
    return {"cluster": "scale", "region": "east", "target": TARGET, "nodes": nodes}


def timed(step: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = step()
    return round(time.perf_counter() - started, 2), result


def one_size(count: int, root: Path) -> dict[str, Any]:
    from grid.drivers.pulumi_automation import AutomationEngine

    workdir = root / f"n{count}"
    workdir.mkdir()
    passphrase = workdir / "passphrase"
    passphrase.write_text("bench-only\n")
    engine = AutomationEngine(project="grid-scalebench", target=TARGET, workdir=workdir, passphrase_file=passphrase)
    data = region_data(count)
    row: dict[str, Any] = {"resources": count, "load_avg_start": load_average()}
    row["first_up"], result = timed(lambda: engine.up("east", data, refresh=False))
    row["first_up_changes"] = result.changes
    row["preview"], _ = timed(lambda: engine.preview("east", data, refresh=False))
    row["preview_refresh"], _ = timed(lambda: engine.preview("east", data, refresh=True))
    row["noop_up"], result = timed(lambda: engine.up("east", data, refresh=True))
    row["noop_up_changes"] = result.changes
    grown = region_data(count + 1)
    row["plus_one"], result = timed(lambda: engine.up("east", grown, refresh=True))
    checkpoint = workdir / "pulumi-backend" / ".pulumi" / "stacks" / "grid-scalebench" / "east.json"
    row["checkpoint_bytes"] = checkpoint.stat().st_size if checkpoint.is_file() else None
    row["noop_up_ms_per_resource"] = round(1000 * row["noop_up"] / count, 2)
    row["load_avg_end"] = load_average()
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="250,500,1000")
    args = parser.parse_args()
    os.chdir(REPO)
    sys.modules[f"grid.stacks.{TARGET}"] = sys.modules[__name__]
    # Pulumi's Python SDK awaits each resource's registration in a chain that outgrows the default limit
    # of 1,000 frames at ~1,000 resources in one program ("maximum recursion depth exceeded").
    sys.setrecursionlimit(RECURSION_LIMIT)
    rows = []
    with tempfile.TemporaryDirectory(prefix="grid-bench-pulumi-stack-") as tmp:
        for count in (int(size) for size in args.sizes.split(",")):
            rows.append(one_size(count, Path(tmp)))
            print(f"# {rows[-1]}", file=sys.stderr, flush=True)
    growth = [{"from": a["resources"], "to": b["resources"],
               "noop_up_ratio": round(b["noop_up"] / a["noop_up"], 2),
               "size_ratio": round(b["resources"] / a["resources"], 2)} for a, b in itertools.pairwise(rows)]
    emit({"benchmark": "pulumi_stack", "cpus": os.cpu_count(), "sizes": rows, "growth": growth})
    return 0


if __name__ == "__main__":
    sys.exit(main())
