"""Offline planning at scale: load + validate + plan of 1,000 / 10,000 / 100,000 nodes.

Each size runs in a fresh subprocess (so peak RSS is that size's alone), several times; the parent
prints one JSON document with min and median seconds per phase and peak RSS per size.

Spec shape: 8 regions, per region two fabrics (a roce compute fabric and an ethernet mgmt fabric,
each a /17 of 100.(64+r).0.0/16, shared address space never routed here), two storages and three pools
(GPU training 60 %, GPU inference 30 %, CPU data 10 %, with openstack instance types), links in a ring.
16 fabrics of 12,500+ nodes need a /18 each, 262,144 addresses: more than 198.18.0.0/15 holds, so the
spec targets openstack (no lab-range rule).

Scenarios per size (--scenarios; default empty, populated, applied, edited, sealed):
- empty: no state yet (a first `grid plan`): every resource is a create, every host needs a full run.
- populated: a state in which every resource is recorded (records built from the plan the way
  grid.apply.engine._record_region builds them, host records configured with the current digests,
  the applied spec in outputs), written and then read back through FileStateStore, so the state read
  (checksum + schema) is timed too: the plan is a no-op. This is the first plan after a state write that no
  plan vouched for (a `grid state` command, a failed apply, a state an older grid wrote).
- applied: the same state as `grid up` leaves it: written, then sealed by the run's own verifying plan
  (grid.operations.planning.seal_saved, called here as the run calls it after its last write; its time, what
  the run pays, is `seal_by_apply_seconds`); timed: `grid plan`'s own path, the first plan after that run.
- edited: the applied state, then the spec edited (one node more in the first pool): `grid plan`'s own path, which
  the seal cannot answer — a plan of an edited spec is made in full (with `names: hosts_file`, this spec's, every
  host's hosts table changes, so every host is listed for that task).
- edited-zone (not in the default list): edited, of the same spec retargeted at aws, whose `names` default there is
  dns in each region's private zone: the new node's record is made with it, so the plan lists that node alone.
- sealed: the populated state after that first `grid plan` sealed it (grid.state.seal): `grid plan`'s own path
  (grid.operations.plan with PlanOptions(sealed=True)), which reads the file's small members only and counts the
  unchanged resources (`plan` then includes the state read).

Phases: load (YAML → Cluster), validate, state_read (populated only), plan (grid.workspace.plan:
expand, diff, host digests, capacity). `total` = their sum. Target: 100,000 nodes in ≤ 5 s and ≤ 1 GB.

Usage:  python bench/plan_scale.py [--sizes 1000,10000,100000] [--runs 3] [--check]
        python bench/plan_scale.py --child DIR NODES SCENARIO --profile FILE   (after --prepare DIR ...)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REGIONS = 8
SIZES = (1_000, 10_000, 100_000)
TARGET_SECONDS = 5.0
TARGET_RSS_MB = 1024.0
TARGET_NODES = 100_000
POOL_SHARES = (("train", 0.6, {"model": "h100-sxm", "per_node": 8}, "gpu.8xh100"),
               ("infer", 0.3, {"model": "h100-sxm", "per_node": 2}, "gpu.2xh100"),
               ("data", 0.1, None, "cpu.c96m768"))
AWS_TYPES = {"gpu.8xh100": "p5.48xlarge", "gpu.2xh100": "p5.48xlarge", "cpu.c96m768": "c7i.48xlarge"}
ZONE_SCENARIOS = ("edited-zone",)
"""Scenarios of the spec retargeted at aws, whose `names` default is dns: each region's private zone."""


def make_spec(nodes: int, name: str = "scale", target: str = "openstack") -> dict[str, Any]:
    """A valid spec of `nodes` nodes over 8 regions (counts split as evenly as integers allow); `target` aws:
    the same spec on AWS (its instance types, the VPC's MTU), whose nodes resolve in private zones."""
    per_region = [nodes // REGIONS + (1 if r < nodes % REGIONS else 0) for r in range(REGIONS)]
    regions = []
    for r, count in enumerate(per_region):
        counts = [int(count * share) for _, share, _, _ in POOL_SHARES]
        counts[0] += count - sum(counts)
        pools = []
        for (pool, _, accel, itype), pool_count in zip(POOL_SHARES, counts, strict=True):
            entry: dict[str, Any] = {
                "name": pool, "count": pool_count, "nodes_per_rack": 4,
                "fabrics": ["compute", "mgmt"] if accel else ["mgmt"],
                "storage": ["pfs", "objects"] if pool != "infer" else ["pfs"],
                "roles": ["compute"] if pool != "infer" else ["inference"],
                "instance_types": {"openstack": itype} if target == "openstack" else {"aws": AWS_TYPES[itype]},
            }
            if accel:
                entry["accelerator"] = accel
            pools.append(entry)
        regions.append({
            "name": f"hub{r}",
            "site": {"power_mw": 2000, "pue": 1.2, "renewable_fraction": 0.3, "grid_carbon_g_per_kwh": 500,
                     "province": f"Province {r}",
                     **({"cooling": "liquid", "rack_kw_max": 120} if target == "openstack" else {})},  # a cloud's
            "fabrics": [
                {"name": "compute", "kind": "roce", "speed_gbps": 400, "mtu": 9000 if target == "openstack" else 9001,
                 "cidr": f"100.{64 + r}.0.0/17",
                 "topology": {"kind": "fat-tree", "switch_radix": 128, "tiers": 3}},
                {"name": "mgmt", "kind": "ethernet", "speed_gbps": 100, "cidr": f"100.{64 + r}.128.0/17"},
            ],
            "storage": [
                {"name": "pfs", "kind": "parallel-fs", "capacity_tib": 20000, "mount": "/shared"},
                {"name": "objects", "kind": "object", "capacity_tib": 50000, "mount": "/objects"},
            ],
            "pools": pools,
        })
    links = [{"between": [f"hub{r}", f"hub{(r + 1) % REGIONS}"], "bandwidth_gbps": 400_000, "latency_ms": 10}
             for r in range(REGIONS)]
    return {
        "apiVersion": "grid/v1", "kind": "Cluster", "metadata": {"name": name},
        "spec": {
            "target": target, "targets": {target: {"image": "debian-12"}} if target == "openstack" else {},
            "regions": regions, "links": links,
            "configuration": {"roles": ["base"], "admin_user": "gridadmin",
                              "sysctl": {"net.core.rmem_max": 67108864}},
        },
    }


class _Clock:
    """Wall and CPU seconds per phase (CPU time is the steadier figure on a shared machine)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.restart()

    def restart(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self, phase: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.wall[phase], self.cpu[phase] = wall - self._wall, cpu - self._cpu
        self._wall, self._cpu = wall, cpu

    @staticmethod
    def with_total(phases: dict[str, float]) -> dict[str, float]:
        return {**phases, "total": sum(phases.values())}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def populated_state(ws: Any, plan: Any) -> Any:
    """Every resource recorded as `up` records it: _record_region's ResourceRecords, configured hosts."""
    from grid.resources import Kind
    from grid.state.model import HostRecord, ResourceRecord, State
    from grid.workspace import admin_public_key, graph_for, host_digests

    state = State(cluster=ws.cluster.name)
    graph = graph_for(ws, state)
    resources = {}
    for res in graph:
        outputs = {"server_id": f"srv-{res.name}"} if res.kind is Kind.NODE else {}
        resources[res.address] = ResourceRecord(address=res.address, kind=res.kind.value, region=res.region,
                                                attrs=dict(res.attrs), outputs=outputs)
    digests = host_digests(ws, graph, admin_public_key(ws))
    hosts = {address: HostRecord(address=address, status="configured", node_digest=node,
                                 cluster_digest=shared, hosts_digest=table, updated_at="2026-01-01T00:00:00+00:00")
             for address, (node, shared, table) in digests.items()}
    assert len(resources) == len(plan.changes)
    return State(cluster=ws.cluster.name, spec_digest=plan.spec_digest, resources=resources, hosts=hosts,
                 applied_spec=ws.cluster.model_dump(mode="json"))


def prepare(root: Path, nodes: int, scenario: str) -> None:
    """Write the spec (and for `populated` the state) under `root`; run in its own process, untimed."""
    from grid.spec import load_spec
    from grid.state import FileStateStore
    from grid.state.model import empty_state
    from grid.targets import target_for
    from grid.validate import validate
    from grid.workspace import Workspace, plan

    target = "aws" if scenario in ZONE_SCENARIOS else "openstack"
    scenario = "edited" if scenario in ZONE_SCENARIOS else scenario
    spec_path = root / "cluster.yaml"
    spec_path.write_text(yaml.safe_dump(make_spec(nodes, target=target), sort_keys=False))
    workdir = root / "work"
    workdir.mkdir(mode=0o700)
    if scenario in ("populated", "applied", "edited", "sealed"):
        loaded = load_spec(str(spec_path))
        assert loaded.cluster is not None
        store = FileStateStore(workdir)
        ws = Workspace(spec_path, loaded, loaded.cluster, validate(loaded), workdir, store,
                       target_for(loaded.cluster))
        first = plan(ws, envelope=None, state=empty_state(loaded.cluster.name))
        written = store.write(populated_state(ws, first), 0)
    if scenario in ("applied", "edited"):  # what `grid up` does after its last write
        from grid.operations.planning import seal_saved

        started = time.perf_counter()
        seal_saved(ws, written, written.state)
        if scenario == "applied":
            (root / "seal_by_apply_seconds").write_text(str(time.perf_counter() - started))
    if scenario == "edited":
        grown = make_spec(nodes, target=target)
        grown["spec"]["regions"][0]["pools"][0]["count"] += 1
        spec_path.write_text(yaml.safe_dump(grown, sort_keys=False))
    if scenario == "sealed":  # the first `grid plan` after the apply: full, a no-op, and it seals the state
        from grid import operations

        assert not operations.plan(ws, operations.PlanOptions(sealed=True)).plan.has_changes


def child(root: Path, nodes: int, scenario: str, profile: str | None) -> dict[str, Any]:
    """One measurement in this fresh process, of the files `prepare` wrote."""
    from grid.spec import load_spec
    from grid.state import FileStateStore
    from grid.targets import target_for
    from grid.validate import validate
    from grid.workspace import Workspace, plan

    spec_path, workdir = root / "cluster.yaml", root / "work"
    zone, scenario = scenario in ZONE_SCENARIOS, "edited" if scenario in ZONE_SCENARIOS else scenario
    baseline_rss = _rss_mb()
    profiler = None
    if profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    clock = _Clock()
    loaded = load_spec(str(spec_path))
    clock.lap("load")
    findings = validate(loaded)
    clock.lap("validate")
    assert loaded.cluster is not None and not findings.has_errors, [str(d) for d in findings]
    ws = Workspace(spec_path, loaded, loaded.cluster, findings, workdir, FileStateStore(workdir),
                   target_for(loaded.cluster))
    clock.restart()
    if scenario in ("applied", "edited", "sealed"):  # `grid plan`'s own path: the state is read inside it
        from grid import operations

        result = operations.plan(ws, operations.PlanOptions(sealed=True)).plan
        clock.lap("plan")
        assert bool(result.unlisted_unchanged) == (scenario != "edited"), "the seal did (not) apply"
    else:
        envelope, state = ws.read_state()
        if scenario == "populated":
            clock.lap("state_read")
        result = plan(ws, envelope=envelope, state=state)
        clock.lap("plan")
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    counts = result.counts()
    if scenario == "edited":  # the new node, and with the hosts file every host's table (a zone: its record)
        assert counts["create"] == 1 and len(result.config) == (1 if zone else nodes + 1), (counts, len(result.config))
    elif scenario in ("populated", "applied", "sealed"):
        assert not result.has_changes, (counts, len(result.config))
    else:
        assert counts["create"] == len(result.changes) and len(result.config) == nodes
    return {"seconds": clock.with_total(clock.wall), "cpu_seconds": clock.with_total(clock.cpu),
            "peak_rss_mb": round(_rss_mb(), 1),
            "rss_before_mb": round(baseline_rss, 1), "resources": counts["no-op"] + len(result.pending),
            "configure": len(result.config)}


def _run(*args: str) -> str:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    return proc.stdout


def measure(nodes: int, scenario: str, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="grid-bench-") as tmp:
        _run("--prepare", tmp, str(nodes), scenario)
        samples = [json.loads(_run("--child", tmp, str(nodes), scenario)) for _ in range(runs)]
        paid = Path(tmp) / "seal_by_apply_seconds"
        sealing = {"seal_by_apply_seconds": round(float(paid.read_text()), 3)} if paid.exists() else {}
    phases = list(samples[0]["seconds"])

    def spread(key: str) -> dict[str, dict[str, float]]:
        return {p: {"min": round(min(s[key][p] for s in samples), 3),
                    "median": round(statistics.median(s[key][p] for s in samples), 3)} for p in phases}

    rss = [s["peak_rss_mb"] for s in samples]
    totals = [s["seconds"]["total"] for s in samples]
    return {"nodes": nodes, "scenario": scenario, "runs": runs, "resources": samples[0]["resources"],
            "configure": samples[0]["configure"],  # hosts the plan lists for configuration
            "us_per_node": round(statistics.median(totals) / nodes * 1e6, 1),
            "seconds": spread("seconds"), "cpu_seconds": spread("cpu_seconds"),
            "peak_rss_mb": {"min": min(rss), "median": statistics.median(rss), "max": max(rss)}, **sealing}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenarios", default="empty,populated,applied,edited,sealed")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--prepare", nargs=3, metavar=("DIR", "NODES", "SCENARIO"), help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=3, metavar=("DIR", "NODES", "SCENARIO"),
                        help="measure once in this process, files in DIR written by --prepare")
    parser.add_argument("--profile", metavar="FILE", help="with --child: write cProfile stats to FILE")
    args = parser.parse_args()
    if args.prepare:
        prepare(Path(args.prepare[0]), int(args.prepare[1]), args.prepare[2])
        return 0
    if args.child:
        print(json.dumps(child(Path(args.child[0]), int(args.child[1]), args.child[2], args.profile)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    results = [measure(n, scenario, args.runs) for n in sizes for scenario in args.scenarios.split(",")]
    growth = {}
    for scenario in args.scenarios.split(","):
        rows = [r for r in results if r["scenario"] == scenario]
        for small, big in itertools.pairwise(rows):
            def ratio(key: str, a: dict[str, Any] = small, b: dict[str, Any] = big) -> float:
                return round(b[key]["total"]["median"] / max(a[key]["total"]["median"], 1e-9), 2)

            growth[f"{scenario} {small['nodes']}->{big['nodes']}"] = {
                "size_ratio": round(big["nodes"] / small["nodes"], 2), "time_ratio": ratio("seconds"),
                "cpu_time_ratio": ratio("cpu_seconds"),
                "rss_ratio": round(big["peak_rss_mb"]["median"] / small["peak_rss_mb"]["median"], 2)}
    targets = {}
    for row in results:
        if row["nodes"] == TARGET_NODES:
            targets[row["scenario"]] = {
                "seconds_median": row["seconds"]["total"]["median"], "seconds_target": TARGET_SECONDS,
                "rss_mb_max": max(row["peak_rss_mb"].values()), "rss_mb_target": TARGET_RSS_MB,
                "met": row["seconds"]["total"]["median"] <= TARGET_SECONDS
                and max(row["peak_rss_mb"].values()) <= TARGET_RSS_MB}
    print(json.dumps({"benchmark": "plan_scale", "cpus": os.cpu_count(), "load_avg": os.getloadavg()[0],
                      "results": results, "growth": growth, "targets": targets}, indent=2))
    return 1 if args.check and not all(t["met"] for t in targets.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
