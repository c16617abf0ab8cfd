"""`grid up`'s own work around the engines, at scale: one node added to a populated cluster.

A cluster of N nodes (plan_scale's spec, target openstack) is recorded as applied; its spec then gains one
node and `grid.operations.up` runs with the engines faked (tests/support/fakes: a stack engine that answers
at once, an Ansible runner that records), so what is timed is grid's own work alone:

- `plan`: lock, one state read, identity, expansion, host digests, plan (until the approval);
- `prepare`: from the approval to the first stack-engine call (render, the state write before the apply,
  and — in the `rederived` mode — reading the state, expanding the spec and digesting the hosts again, as
  every `grid up` did before issue 13's operations layer carried them over from the plan);
- `total`: the whole operation (the faked engines, the configuration bookkeeping and the state writes).

Modes: `single` (today's path) and `rederived` (the same code with the plan's inputs dropped at the apply).
Each run is a fresh process on a fresh copy of the prepared files.

Usage:  python bench/up_phases.py [--nodes 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests"), str(Path(__file__).resolve().parent)]
MODES = ("single", "rederived")


def prepare(root: Path, nodes: int) -> None:
    """plan_scale's populated cluster (recorded with the cluster's own admin key, as `grid up` leaves it),
    then one node more in the first pool of the first region."""
    from grid.identity import resolve_identity
    from grid.state.model import empty_state
    from grid.workspace import Workspace, open_workspace, plan
    from plan_scale import make_spec, populated_state

    spec_path = root / "cluster.yaml"
    data = make_spec(nodes)
    spec_path.write_text(yaml.safe_dump(data, sort_keys=False))
    ws = open_workspace(spec_path, workdir=root / "work")
    assert isinstance(ws, Workspace)
    resolve_identity(ws.workdir, ws.cluster.name, empty_state(ws.cluster.name))  # the key pair, made once
    first = plan(ws, envelope=None, state=empty_state(ws.cluster.name))
    ws.store.write(populated_state(ws, first), 0)
    data["spec"]["regions"][0]["pools"][0]["count"] += 1
    spec_path.write_text(yaml.safe_dump(data, sort_keys=False))


def child(root: Path, mode: str) -> dict[str, Any]:
    import grid.apply.run as run
    from grid import operations
    from grid.workspace import Workspace, open_workspace
    from support.fakes import FakeStacks, RecordingAnsible

    if mode == "rederived":
        original = run.up

        def rederiving(*args: Any, inputs: Any = None, **kwargs: Any) -> Any:
            del inputs  # what every run did before: read, expand and digest again at the apply
            return original(*args, **kwargs)

        run.up = rederiving  # type: ignore[assignment]
    ws = open_workspace(root / "cluster.yaml", workdir=root / "work")
    assert isinstance(ws, Workspace)
    marks: dict[str, float] = {}

    class TimedStacks(FakeStacks):
        def up(self, *args: Any, **kwargs: Any) -> Any:
            marks.setdefault("engine", time.perf_counter())
            return super().up(*args, **kwargs)

    stacks, ansible = TimedStacks(seconds=(0.0, 0.0)), RecordingAnsible()
    engines = operations.Engines(stacks=lambda *_: stacks, ansible=lambda _: ansible)
    started = time.perf_counter()
    outcome = operations.up(ws, operations.UpOptions(skip_check=True),
                            approve=lambda *_: marks.setdefault("approved", time.perf_counter()),
                            emit=lambda event: None, engines=engines)
    ended = time.perf_counter()
    assert outcome.status == "applied", outcome.status
    assert outcome.plan is not None and outcome.plan.counts()["create"] == 1, outcome.plan.counts()
    return {"plan": marks["approved"] - started, "prepare": marks["engine"] - marks["approved"],
            "total": ended - started}


def _run_here(*args: str) -> str:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    return proc.stdout


def _child_process(root: Path, mode: str) -> dict[str, float]:
    result: dict[str, float] = json.loads(_run_here("--child", str(root), mode))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("DIR", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--prepare", nargs=2, metavar=("DIR", "NODES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare(Path(args.prepare[0]), int(args.prepare[1]))
        return 0
    if args.child:
        print(json.dumps(child(Path(args.child[0]), args.child[1])))
        return 0
    samples: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="grid-bench-up-") as tmp:
        prepared = Path(tmp) / "prepared"
        prepared.mkdir()
        _run_here("--prepare", str(prepared), str(args.nodes))
        for run in range(args.runs):
            for mode in MODES if run % 2 == 0 else tuple(reversed(MODES)):  # alternate the order
                copy = Path(tmp) / f"{mode}-{run}"
                shutil.copytree(prepared, copy)
                samples[mode].append(_child_process(copy, mode))
                shutil.rmtree(copy)
    figures = {mode: {phase: {"min": round(min(s[phase] for s in rows), 3),
                              "median": round(statistics.median(s[phase] for s in rows), 3)}
                      for phase in ("plan", "prepare", "total")} for mode, rows in samples.items()}
    print(json.dumps({"benchmark": "up_phases", "nodes": args.nodes, "runs": args.runs, "cpus": os.cpu_count(),
                      "load_avg": os.getloadavg()[0], "seconds": figures}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
