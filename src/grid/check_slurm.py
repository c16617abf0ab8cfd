"""Acceptance checks of a cluster's Slurm, per partition: real jobs, as a user would submit them.

For each partition of the spec: every node is known to Slurm and can take jobs; `srun -N<n> hostname` returns
every hostname of the partition; a file one node writes on a shared storage is read by every node of the
partition that mounts it (jobs both); a job asking each node for its accelerators as GRES
(`--gres=npu:ascend-910b:8`) runs on every node of a pool with accelerators, and Slurm's configured GRES per
node is the spec's. Jobs give up on their own (grid.drivers.slurm: `--immediate`, `timeout`), so a stuck
partition is reported, not waited for. Slurm is reached through a small `SlurmJobs` interface.
"""

from __future__ import annotations

import secrets
import shlex
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from grid.render.slurm import SlurmNode, slurm_nodes
from grid.resources import Kind, Resource, ResourceGraph
from grid.slurm_status import SlurmNodeState
from grid.spec.model import Cluster
from grid.spec.scheduler import PartitionPlan, partitions

SETTLE_SECONDS = 20.0
"""How long nodes Slurm does not know the state of yet (slurmd registering after a restart) are waited for."""
SETTLING_STATES = frozenset({"unknown", "unk"})


class SlurmJobs(Protocol):
    """What the checks need of a running Slurm (grid.drivers.slurm.SlurmController)."""

    def nodes(self) -> list[SlurmNodeState]: ...

    def srun(self, command: str, *, partition: str, nodes: int, hostnames: Sequence[str] = (),
             gres: str = "") -> tuple[int, str]: ...


@dataclass
class PartitionReport:
    name: str
    hostnames: tuple[str, ...]
    checks: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    """How long the partition's checks took (jobs waiting for an allocation show here)."""

    @property
    def ok(self) -> bool:
        return all(self.checks.values()) and not self.problems

    def record(self, name: str, ok: bool, problem: str = "") -> None:
        self.checks[name] = ok and self.checks.get(name, True)
        if not ok and problem:
            self.problems.append(problem)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "nodes": list(self.hostnames), "ok": self.ok, "checks": self.checks,
                "problems": self.problems, "seconds": round(self.seconds, 1)}


def check_partitions(cluster: Cluster, graph: ResourceGraph, existing: set[str], slurm: SlurmJobs, *,
                     settle_seconds: float = SETTLE_SECONDS, sleep: Callable[[float], None] = time.sleep
                     ) -> list[PartitionReport]:
    """One report per partition of the spec (a spec with a scheduler), in the spec's order; `existing` are
    the addresses of the nodes state has."""
    scheduler = cluster.spec.scheduler
    if scheduler is None:
        return []
    made = {str(n.attrs["hostname"]): n for n in graph.of_kind(Kind.NODE) if n.address in existing}
    members = [node for node in slurm_nodes(cluster, graph) if node.hostname in made]
    plans = partitions(cluster, scheduler)
    seen = _settled(slurm, {node.hostname for node in members}, settle_seconds, sleep)
    token = secrets.token_hex(8)

    def one(plan: PartitionPlan) -> PartitionReport:
        started = time.monotonic()
        hosts = [node for node in members if node.pool in plan.pools]
        report = PartitionReport(plan.name, tuple(node.hostname for node in hosts))
        if not hosts:
            report.record("slurm:nodes", False, f"no node of partition {plan.name} is up")
            return report
        if _nodes_ready(report, plan, hosts, seen):
            _hostnames_job(report, slurm, plan, hosts)
        if report.ok:  # the partition runs jobs: now what they need
            _storage_jobs(report, slurm, plan, [made[node.hostname] for node in hosts], token)
            _gres_jobs(report, slurm, plan, hosts, seen)
        report.seconds = time.monotonic() - started
        return report

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, plans))


def unanswered(cluster: Cluster, graph: ResourceGraph, existing: set[str], message: str) -> list[PartitionReport]:
    """Every partition failed with `message`: Slurm itself did not answer, so no job could be submitted."""
    if cluster.spec.scheduler is None:
        return []
    made = {str(n.attrs["hostname"]) for n in graph.of_kind(Kind.NODE) if n.address in existing}
    members = [node for node in slurm_nodes(cluster, graph) if node.hostname in made]
    reports = [PartitionReport(plan.name, tuple(n.hostname for n in members if n.pool in plan.pools))
               for plan in partitions(cluster, cluster.spec.scheduler)]
    for report in reports:
        report.record("slurm:controller", False, message)
    return reports


def _settled(slurm: SlurmJobs, hostnames: set[str], settle_seconds: float,
             sleep: Callable[[float], None]) -> dict[str, SlurmNodeState]:
    """Slurm's view of its nodes, asked again while one of `hostnames` is still registering (unknown state,
    or not responding) and `settle_seconds` have not passed."""
    waited = 0.0
    while True:
        seen = {node.name: node for node in slurm.nodes()}
        settling = [h for h in hostnames if h in seen and (seen[h].state in SETTLING_STATES
                                                           or not seen[h].responding)]
        if not settling or waited >= settle_seconds:
            return seen
        sleep(2.0)
        waited += 2.0


def _nodes_ready(report: PartitionReport, plan: PartitionPlan, hosts: Sequence[SlurmNode],
                 seen: dict[str, SlurmNodeState]) -> bool:
    for node in hosts:
        state = seen.get(node.hostname)
        if state is None:
            report.record("slurm:nodes", False, f"{node.hostname}: Slurm does not know it (slurm.conf is not "
                                                "the spec's: `grid up` writes it)")
        elif plan.name not in state.partitions:
            report.record("slurm:nodes", False, f"{node.hostname}: not in partition {plan.name} in Slurm "
                                                f"(it is in {', '.join(state.partitions) or 'none'})")
        elif not state.usable:
            flags = f" ({', '.join(state.flags)})" if state.flags else ""
            reason = f": {state.reason}" if state.reason else ""
            report.record("slurm:nodes", False, f"{node.hostname}: {state.state}{flags}{reason}")
        else:
            report.record("slurm:nodes", True)
    if not report.ok:
        report.problems.append("no job submitted: every node of the partition must take jobs first")
    return report.ok


def _hostnames_job(report: PartitionReport, slurm: SlurmJobs, plan: PartitionPlan,
                   hosts: Sequence[SlurmNode]) -> None:
    wanted = {node.hostname for node in hosts}
    code, out = slurm.srun("hostname", partition=plan.name, nodes=len(wanted))
    answered = {line.strip() for line in out.splitlines() if line.strip() in wanted}
    missing = sorted(wanted - answered)
    busy = " (jobs hold its nodes: `grid status SPEC` shows them)" if "nodes are busy" in out else ""
    report.record("slurm:srun", code == 0 and not missing,
                  f"srun -N{len(wanted)} -p {plan.name} hostname: " +
                  (f"no answer from {', '.join(missing)}" if code == 0 else _failure(code, out) + busy))


def _storage_jobs(report: PartitionReport, slurm: SlurmJobs, plan: PartitionPlan, nodes: Sequence[Resource],
                  token: str) -> None:
    """Per storage the partition's nodes mount: one node writes a file (a job), every node reads it (a job),
    the writer removes it (a job)."""
    mounts: dict[tuple[str, str], list[str]] = {}  # (storage, mount point) -> hostnames
    for node in nodes:
        for name, mount in sorted(node.attrs["storage"].items()):
            mounts.setdefault((name, mount), []).append(str(node.attrs["hostname"]))
    for (name, mount), hosts in sorted(mounts.items()):
        check = f"slurm:storage:{name}"
        probe = shlex.quote(f"{mount}/.grid-check-slurm-{plan.name}-{token}")
        code, out = slurm.srun(f"echo {token} > {probe}", partition=plan.name, nodes=1, hostnames=hosts[:1])
        if code != 0:
            report.record(check, False, f"{name}: a job on {hosts[0]} could not write to {mount}: "
                                        f"{_failure(code, out)}")
            continue
        read = f'printf "%s %s\\n" "$(hostname)" "$(cat {probe} 2>/dev/null || echo missing)"'
        code, out = slurm.srun(read, partition=plan.name, nodes=len(hosts), hostnames=hosts)
        # Removed once every node has read it (a node removing it would race the others' reads).
        slurm.srun(f"rm -f {probe}", partition=plan.name, nodes=1, hostnames=hosts[:1])
        got = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
        blind = [h for h in hosts if got.get(h, "").strip() != token]
        report.record(check, code == 0 and not blind,
                      f"{name}: a file a job wrote on {hosts[0]} is not seen by jobs on {', '.join(blind)}"
                      if blind else f"{name}: reading job failed: {_failure(code, out)}")


def _gres_jobs(report: PartitionReport, slurm: SlurmJobs, plan: PartitionPlan, hosts: Sequence[SlurmNode],
               seen: dict[str, SlurmNodeState]) -> None:
    """Per accelerator kind in the partition: Slurm's configured count on each node is the spec's, and a job
    asking every such node for all of them runs on each."""
    groups: dict[tuple[str, str, int], list[str]] = {}
    for node in hosts:
        if node.gres is not None:
            groups.setdefault(node.gres, []).append(node.hostname)
    for (name, kind, count), group in sorted(groups.items()):
        check, gres = f"slurm:gres:{name}:{kind}", f"{name}:{kind}:{count}"
        for host in group:
            configured = seen[host].configured(name, kind)
            report.record(check, configured == count,
                          f"{host}: Slurm has {configured} {name}:{kind}, the spec says {count}")
        code, out = slurm.srun("hostname", partition=plan.name, nodes=len(group), hostnames=group, gres=gres)
        answered = {line.strip() for line in out.splitlines()}
        missing = [h for h in group if h not in answered]
        report.record(check, code == 0 and not missing,
                      f"--gres={gres} on {len(group)} node(s): " +
                      (f"no answer from {', '.join(missing)}" if code == 0 else _failure(code, out)))


def _failure(code: int, out: str) -> str:
    """srun's last error line (its last line without one), or what its exit code means."""
    if code == 124:
        return "the job did not finish in time (ended by grid)"
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    return (errors or lines)[-1][-240:] if lines else f"exit code {code}"
