"""Drift check and growth of a 16-node lab (2 regions x 8 nodes, 1/4 CPU and 256 MB each).

Per run, on one unique cluster:
- full bring-up: `grid up --yes --skip-check` from nothing (the reference for growth);
- `grid drift` of the converged cluster (Pulumi preview+refresh per region, concurrently in worker
  processes, while one digest probe per host runs; check mode only where digests differ: none here) — target
  ≤ 8 s (issue 20);
- `grid drift --full-check` of the same cluster (the playbook in check mode on every host, the path before
  the digests and the tests' oracle): the ratio of the two in one run;
- where drift's time goes: the same two phases timed apart through the library (grid.drift), once;
- +1 node: the first pool's count + 1, then `grid up --yes --skip-check` — target ≤ 0.15x the full bring-up;
- `grid destroy`, and removal by the cluster's podman label whatever happened (try/finally).

Prints JSON: seconds (min/median/max), ratios, targets met.

Usage:  python bench/drift.py [--runs 3] [--no-phases]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from _lab import REPO, grid, measured_lab, spread

TARGET_DRIFT_SECONDS = 8.0
TARGET_GROW_RATIO = 0.15  # issue 20


def drift_phases(spec: Path, workdir: Path) -> dict[str, float]:
    """grid drift's steps, timed one by one (the CLI runs the Pulumi refresh and the digest probe at once)."""
    from grid import drift
    from grid.apply.run import ensure_identity
    from grid.workspace import Workspace, graph_for, open_workspace

    phases: dict[str, float] = {}
    started = time.perf_counter()
    ws = open_workspace(spec, workdir=workdir)
    assert isinstance(ws, Workspace)
    envelope, state = ws.read_state()
    graph = graph_for(ws, state)
    identity = ensure_identity(ws, state)
    phases["open_and_read"] = time.perf_counter() - started
    started = time.perf_counter()
    drift.probe(ws, state, envelope.lineage if envelope else "", graph)
    phases["podman_probe"] = time.perf_counter() - started
    started = time.perf_counter()
    drift._pulumi_refresh(ws, state, graph, identity)  # the private steps, timed on their own
    phases["pulumi_refresh"] = time.perf_counter() - started
    started = time.perf_counter()
    drift._configuration_check(ws, state, graph, identity, skip=set())
    phases["digest_probe"] = time.perf_counter() - started
    started = time.perf_counter()
    drift._configuration_check(ws, state, graph, identity, skip=set(), full_check=True)
    phases["ansible_check"] = time.perf_counter() - started
    return {k: round(v, 2) for k, v in phases.items()}


def grow(spec: Path) -> None:
    data = yaml.safe_load(spec.read_text())
    data["spec"]["regions"][0]["pools"][0]["count"] += 1
    spec.write_text(yaml.safe_dump(data, sort_keys=False))


def one_run(index: int, root: Path, *, phases: bool) -> dict[str, Any]:
    with measured_lab(root / f"run{index}", 8) as (spec, _name, row):
        workdir = spec.parent / "work"
        row["full_bringup"] = grid("up", str(spec), "--workdir", str(workdir), "--yes", "--skip-check").seconds
        checked = grid("drift", str(spec), "--workdir", str(workdir), "--json")
        report = json.loads(checked.stdout)
        if report.get("drifted"):
            raise RuntimeError(f"a fresh cluster drifted: {report}")
        row["drift"] = checked.seconds
        full_check = grid("drift", str(spec), "--workdir", str(workdir), "--json", "--full-check")
        if json.loads(full_check.stdout) != report:
            raise RuntimeError(f"drift by digest and --full-check disagree: {report} / {full_check.stdout}")
        row["drift_full_check"] = full_check.seconds
        if phases:
            row["drift_phases"] = drift_phases(spec, workdir)
        grow(spec)
        grown = grid("up", str(spec), "--workdir", str(workdir), "--yes", "--skip-check")
        row["plus_one_node"] = grown.seconds
        grid("destroy", str(spec), "--workdir", str(workdir), "--yes")
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-phases", action="store_true", help="skip the per-phase timing of drift")
    args = parser.parse_args()
    os.chdir(REPO)
    with tempfile.TemporaryDirectory(prefix="grid-bench-drift-") as tmp:
        rows = [one_run(i, Path(tmp), phases=not args.no_phases and i == 0) for i in range(args.runs)]
    drift_s = spread(r["drift"] for r in rows)
    full_check = spread(r["drift_full_check"] for r in rows)
    full = spread(r["full_bringup"] for r in rows)
    plus = spread(r["plus_one_node"] for r in rows)
    grow_ratio = plus["median"] / full["median"]
    print(json.dumps({
        "benchmark": "drift", "nodes": 16, "regions": 2, "cpus": os.cpu_count(), "runs": rows,
        "seconds": {"drift": drift_s, "drift_full_check": full_check, "full_bringup": full, "plus_one_node": plus},
        "ratios": {"plus_one_vs_full": round(grow_ratio, 3),
                   "drift_vs_full_check_per_run": [round(r["drift"] / r["drift_full_check"], 3) for r in rows],
                   "plus_one_vs_full_per_run": [round(r["plus_one_node"] / r["full_bringup"], 3) for r in rows]},
        "targets": {
            "drift_seconds": {"target": TARGET_DRIFT_SECONDS, "value": drift_s["median"],
                              "met": drift_s["median"] <= TARGET_DRIFT_SECONDS},
            "plus_one_ratio": {"target": TARGET_GROW_RATIO, "value": round(grow_ratio, 3),
                               "met": grow_ratio <= TARGET_GROW_RATIO},
        },
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
