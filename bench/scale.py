"""The lab at 16, 32 and 64 nodes (128 if the machine holds it): bring-up, no-op, drift and +1 node per size, and
what each costs per node and how that grows from one size to the next (issue 18, item 6).

Per size, one unique cluster (`sc-` + 6 hex digits; the local-lab spec, 2 regions of one pool each, half the
nodes in each, 1/4 CPU and 256 MB per node; the lab's own configuration roles — base, fabric, storage-client:
no Slurm, nothing installed by apt, so the figures are grid's, Pulumi's and Ansible's; fabrics on free /24s of
198.19.64.0/20, then 198.19.80.0/20):

- `bringup`: `grid up --yes --skip-check` from nothing (run once more, both counted, when a node's SSH timed out
  on a loaded machine: the row's `bringup_again` says why);
- `noop`: `grid up` again on the converged cluster (must say "No changes");
- `drift`: `grid drift --json` of the converged cluster (must find nothing);
- `plus_one`: the first pool's count + 1, `grid up` (its progress lines kept in the row: `plus_one_progress`);
- `grid destroy`; whatever is left is removed by the cluster's podman label, also when interrupted (Ctrl-C or
  SIGTERM: the run stops and cleans up).

Each size runs once (the machine is shared: each row has the load average at its start and end). Per size the
seconds per node of each step, and between sizes the growth of each step against the growth of the node count
(1.0: linear; above: superlinear).

`--drift-runs N` runs `grid drift` N times per size (its seconds: the median; `drift_runs`: wall and CPU seconds
of each, CPU: grid's and its children's, the nodes' not counted) and `drift` at the end compares the sizes in
this one run: the largest's median against the smallest's, with issue 20's targets (16 nodes ≤ 8 s, 64 nodes ≤
2x 16). `--drift-only` leaves out the no-op and the +1.

Usage:  python bench/scale.py [--sizes 16,32,64] [--prefix sc-] [--drift-runs 3] [--drift-only]
"""

from __future__ import annotations

import argparse
import ipaddress
import itertools
import json
import os
import re
import secrets
import signal
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from _lab import NODE_RESOURCES, REPO, emit, free_subnets, grid, measured_run
from support import cli
from support.paths import LOCAL_LAB

RANGES = (ipaddress.IPv4Network("198.19.64.0/20"), ipaddress.IPv4Network("198.19.80.0/20"))  # this bench's own
SITE_POWER_MW = 50.0
STEPS = ("bringup", "noop", "drift", "plus_one")
DRIFT_ONLY = ("bringup", "drift")
TARGET_DRIFT_SECONDS = {16: 8.0}  # issue 20
TARGET_DRIFT_RATIO = 2.0  # issue 20: 64 nodes' drift at most twice 16 nodes'


def write_spec(path: Path, name: str, nodes: int, subnets: list[str], names: str = "hosts_file") -> None:
    """The local lab as cluster `name`, `nodes` split over its two regions' pools, names by `names` (the spec's
    configuration.names: hosts_file or dns)."""
    data: dict[str, Any] = yaml.safe_load(LOCAL_LAB.read_text())
    data["metadata"]["name"] = name
    regions = data["spec"]["regions"]
    fabrics = [fabric for region in regions for fabric in region["fabrics"]]
    for fabric, cidr in zip(fabrics, subnets, strict=True):
        fabric["cidr"] = cidr
    for index, region in enumerate(regions):
        region["site"]["power_mw"] = SITE_POWER_MW  # the lab's sites hold ~40 nodes: validation would refuse more
        for pool in region["pools"]:
            pool["count"] = nodes // len(regions) + (1 if index < nodes % len(regions) else 0)
            pool["resources"] = dict(NODE_RESOURCES)
    data["spec"].setdefault("configuration", {})["names"] = names  # said either way: dns is the lab's default
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def grow(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    data["spec"]["regions"][0]["pools"][0]["count"] += 1
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def progress_lines(output: str, most: int = 40) -> list[str]:
    """grid's progress lines ("2.0s ✓ infrastructure east", …): where a slow step's time went, kept in its row."""
    return [line.strip() for line in output.splitlines() if re.match(r"^\s*\d+\.\ds ", line)][:most]


def subnets_for(count: int) -> list[str]:
    for within in RANGES:
        try:
            return free_subnets(within, count)
        except RuntimeError:
            continue
    raise RuntimeError(f"fewer than {count} free /24s in {', '.join(map(str, RANGES))}")


def cpu_seconds() -> float:
    """CPU seconds of this process's waited-for children (grid and what it runs: Pulumi, Ansible, ssh)."""
    times = os.times()
    return times.children_user + times.children_system


def bring_up(spec: Path, args: tuple[str, ...], row: dict[str, Any]) -> None:
    """`grid up` from nothing; on a loaded shared machine a node's SSH may time out: then `grid up` once more
    finishes (as grid says), both counted, and the row says so (`bringup_again`)."""
    first = cli.grid("up", str(spec), *args, "--yes", "--skip-check", timeout=1800)
    row["bringup"] = first.seconds
    if first.code != 0:
        row["bringup_again"] = first.output.strip().splitlines()[-1][-200:]
        row["bringup"] += grid("up", str(spec), *args, "--yes", "--skip-check").seconds


def drift(spec: Path, args: tuple[str, ...]) -> dict[str, float]:
    """One `grid drift --json` of the converged cluster (must find nothing): wall and CPU seconds."""
    cpu = cpu_seconds()
    checked = grid("drift", str(spec), *args, "--json")
    if json.loads(checked.stdout).get("drifted"):
        raise RuntimeError(f"a fresh cluster drifted:\n{checked.stdout[-3000:]}")
    return {"seconds": round(checked.seconds, 2), "cpu": round(cpu_seconds() - cpu, 2)}


def one_size(nodes: int, root: Path, prefix: str = "sc-", names: str = "hosts_file", drift_runs: int = 1,
             drift_only: bool = False) -> dict[str, Any]:
    steps = DRIFT_ONLY if drift_only else STEPS
    directory = root / f"n{nodes}"
    directory.mkdir(parents=True)
    spec, name = directory / "cluster.yaml", prefix + secrets.token_hex(3)
    args = ("--workdir", str(directory / "work"))
    subnets = subnets_for(3)  # the lab's three fabrics: east compute + mgmt, west mgmt
    with measured_run(name, nodes=nodes, subnets=subnets, names=names) as row:
        write_spec(spec, name, nodes, subnets, names)
        bring_up(spec, args, row)
        if not drift_only:
            noop = grid("up", str(spec), *args, "--yes", "--skip-check")
            if "No changes" not in noop.output:
                raise RuntimeError(f"grid up on the converged cluster was not a no-op:\n{noop.output[-3000:]}")
            row["noop"] = noop.seconds
        row["drift_runs"] = [drift(spec, args) for _ in range(drift_runs)]
        row["drift"] = statistics.median(run["seconds"] for run in row["drift_runs"])
        if not drift_only:
            grow(spec)
            grown = grid("up", str(spec), *args, "--yes", "--skip-check")
            row["plus_one"] = grown.seconds
            row["plus_one_progress"] = progress_lines(grown.output)
        grid("destroy", str(spec), *args, "--yes")
    row.update({step: round(row[step], 2) for step in steps})
    row["per_node"] = {step: round(row[step] / nodes, 3) for step in steps}
    return row


def growth(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Between consecutive sizes: each step's time ratio beside the node ratio, and the two's quotient (1.0 =
    linear growth, above it superlinear)."""
    out = []
    for small, large in itertools.pairwise(rows):
        size_ratio = large["nodes"] / small["nodes"]
        steps = {step: {"ratio": round(large[step] / small[step], 2),
                        "vs_linear": round(large[step] / small[step] / size_ratio, 2)} for step in STEPS
                 if step in small and step in large}
        out.append({"from": small["nodes"], "to": large["nodes"], "nodes_ratio": round(size_ratio, 2), **steps})
    return out


def drift_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Drift per size (min/median of its runs, wall and CPU) and the largest size's median against the
    smallest's, all from this one run, with issue 20's targets where the sizes are theirs."""
    def spread(values: list[float]) -> dict[str, float]:
        return {"min": min(values), "median": round(statistics.median(values), 2), "runs": len(values)}

    sizes: dict[int, dict[str, Any]] = {row["nodes"]: {"seconds": spread([r["seconds"] for r in row["drift_runs"]]),
                                       "cpu": spread([r["cpu"] for r in row["drift_runs"]]),
                                       "load_avg": [row["load_avg_start"], row.get("load_avg_end")]} for row in rows}
    small, large = min(sizes), max(sizes)
    ratio = round(sizes[large]["seconds"]["median"] / sizes[small]["seconds"]["median"], 2)
    targets: dict[str, Any] = {f"drift_{n}_seconds": {"target": target, "value": sizes[n]["seconds"]["median"],
                                                      "met": sizes[n]["seconds"]["median"] <= target}
                               for n, target in TARGET_DRIFT_SECONDS.items() if n in sizes}
    if (small, large) == (16, 64):
        targets["drift_64_vs_16"] = {"target": TARGET_DRIFT_RATIO, "value": ratio, "met": ratio <= TARGET_DRIFT_RATIO}
    return {"sizes": sizes, f"ratio_{large}_vs_{small}": ratio, "targets": targets}


def stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the running size's `finally` removes its cluster."""

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,32,64", help="total nodes per lab, comma separated (128 optional)")
    parser.add_argument("--prefix", default="sc-", help="the clusters' name prefix (a session's own on a shared "
                        "machine)")
    parser.add_argument("--names", choices=("hosts_file", "dns"), default="dns",
                        help="the spec's configuration.names: every node's /etc/hosts, or a name server per region")
    parser.add_argument("--drift-runs", type=int, default=1, help="grid drift this many times per size")
    parser.add_argument("--drift-only", action="store_true", help="bring-up and drift only: no no-op, no +1 node")
    args = parser.parse_args()
    os.chdir(REPO)
    stop_on_sigterm()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="grid-bench-scale-") as tmp:
        for nodes in (int(size) for size in args.sizes.split(",")):
            rows.append(one_size(nodes, Path(tmp), args.prefix, args.names, args.drift_runs, args.drift_only))
            print(f"# {nodes} nodes: " + json.dumps({k: rows[-1].get(k) for k in (*STEPS, 'load_avg_start')}),
                  file=sys.stderr, flush=True)
    emit({"benchmark": "scale", "regions": 2, "cpus": os.cpu_count(), "sizes": rows, "growth": growth(rows),
          "drift": drift_summary(rows)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
