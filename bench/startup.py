"""Start-up: `grid --version`, `grid validate` of the lab and a no-op `grid up`, seconds per run.

A no-op `grid up` is mostly the interpreter's start and grid's imports (issue 20, "Start-up"), so each
command is run as a user types it (the installed console script, a fresh process: support.cli.grid),
timed from outside: wall seconds, and CPU seconds of the process (steadier on a loaded machine).

Two modes: `source` runs with this environment as it is (here PYTHONDONTWRITEBYTECODE=1: every module is
compiled from source on every run); `bytecode` lets Python cache bytecode, in a private directory
(PYTHONPYCACHEPREFIX, a temporary one, warmed first), as an installed wheel runs. The no-op runs on a lab
brought up once (bench/_lab.make_lab: unique name, free /24s, 1 node per pool; always removed);
`--no-lab` skips it; `--spec SPEC` measures it on a cluster of yours that is up already (its own name and
subnets, on a shared machine; left as it is). Targets (issue 20): no-op `grid up` ≤ 0.3 s, `grid validate` of the
lab ≤ 0.2 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _lab import REPO, emit, grid, load_average, make_lab, measured_run, spread

TARGET_VALIDATE_SECONDS = 0.2
TARGET_NOOP_SECONDS = 0.3
LAB_SPEC = "examples/local-lab/cluster.yaml"

Command = tuple[str, ...]


def cpu_seconds() -> float:
    """User + system CPU seconds of the finished child processes so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(runs: int, args: Command, env: dict[str, str], check: Callable[[str], None]) -> dict[str, Any]:
    grid(*args, env=env)  # warm: the file cache, and the bytecode cache in `bytecode` mode
    wall, cpu = [], []
    for _ in range(runs):
        before = cpu_seconds()
        done = grid(*args, env=env)
        cpu.append(cpu_seconds() - before)
        check(done.output)
        wall.append(done.seconds)
    return {"wall": spread(wall), "cpu": spread(cpu)}


def anything(_: str) -> None:
    return None


def no_changes(output: str) -> None:
    if "No changes" not in output:
        raise RuntimeError(f"grid up on the converged cluster was not a no-op:\n{output[-3000:]}")


def measure(runs: int, commands: dict[str, Command], pycache: Path) -> dict[str, Any]:
    modes = {"source": {}, "bytecode": {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(pycache)}}
    return {mode: {name: timed(runs, args, env, no_changes if name == "noop_up" else anything)
                   for name, args in commands.items()}
            for mode, env in modes.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-lab", action="store_true", help="skip the no-op `grid up` (no cluster made)")
    parser.add_argument("--spec", type=Path, help="time the no-op `grid up` of this spec, a cluster already up "
                                                   "(none is made or removed)")
    args = parser.parse_args()
    os.chdir(REPO)
    document: dict[str, Any] = {"benchmark": "startup", "cpus": os.cpu_count(), "load_avg_start": load_average()}
    commands: dict[str, Command] = {"version": ("--version",), "validate_lab": ("validate", LAB_SPEC)}
    with tempfile.TemporaryDirectory(prefix="grid-bench-startup-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        if args.no_lab:
            seconds = measure(args.runs, commands, root / "pycache")
        elif args.spec is not None:
            spec = args.spec.resolve()
            grid("up", str(spec), "--yes", "--skip-check")  # converged first: what follows must be no-ops
            commands["noop_up"] = ("up", str(spec), "--yes", "--skip-check")
            seconds = measure(args.runs, commands, root / "pycache")
            document["lab"] = {"spec": str(spec)}
        else:
            spec, name = make_lab(root / "lab", 1)
            workdir = str(root / "lab" / "work")
            with measured_run(name) as lab:
                grid("up", str(spec), "--workdir", workdir, "--yes", "--skip-check")
                commands["noop_up"] = ("up", str(spec), "--workdir", workdir, "--yes", "--skip-check")
                seconds = measure(args.runs, commands, root / "pycache")
                grid("destroy", str(spec), "--workdir", workdir, "--yes")
            document["lab"] = lab
    document["seconds"] = seconds
    document["load_avg_end"] = load_average()
    document["targets"] = {
        f"{name}_{mode}": {"target": target, "value": figures[name]["wall"]["median"],
                           "met": figures[name]["wall"]["median"] <= target}
        for mode, figures in seconds.items()
        for name, target in (("validate_lab", TARGET_VALIDATE_SECONDS), ("noop_up", TARGET_NOOP_SECONDS))
        if name in figures}
    emit(document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
