"""`grid status` as text lines (with their styles): the cluster line, the last apply, Slurm's partitions and
jobs, capacity per region, drift. One screen: a partition's nodes are folded into one line per state."""

from __future__ import annotations

from collections.abc import Iterator

from grid.operations.status import NodeStatus, SchedulerStatus, Status
from grid.render.hostlist import hostlist

# How a node state reads: green takes work, yellow is held by an operator or grid, red cannot work.
_STYLES = {"idle": "green", "mixed": "green", "allocated": "green", "completing": "green", "planned": "green",
           "drained": "yellow", "draining": "yellow", "reserved": "yellow"}


def status_lines(found: Status, *, spec_path: str) -> Iterator[tuple[str, str]]:
    yield f"Cluster {found.cluster}: {found.nodes} node(s), state serial {found.serial}", "bold"
    last = found.last_apply
    if last is not None:
        who = f" by {last.user}" if last.user else ""
        yield (f"  last apply: serial {last.serial}, {last.at}, `grid {last.command}`{who}: {last.outcome}, "
               f"{last.changes} change(s)", "green" if last.outcome == "applied" else "red")
    else:
        yield "  last apply: none recorded", "dim"
    for region in found.interrupted:
        yield f"  ! region {region}: its last run did not finish; `grid up {spec_path}` completes it", "yellow"
    if found.scheduler is not None:
        yield from _scheduler_lines(found.scheduler, spec_path)
    yield "Accelerators in use:", "bold"
    for capacity in found.capacity:
        models = f" ({', '.join(capacity.models)})" if capacity.models else ""
        used = "?" if capacity.allocated is None else str(capacity.allocated)
        yield f"  {capacity.region}: {used}/{capacity.total}{models}", ""
    if found.quarantined:
        yield (f"Quarantined ({len(found.quarantined)} node(s), drained in Slurm): `grid up {spec_path} --heal` "
               "replaces or resumes them", "bold yellow")
        for node in found.quarantined:
            device = f" device {node.device}" if node.device else ""
            instead = f", replacement {node.replacement}" if node.replacement else ""
            yield f"  ! {node.address}: {node.check}{device} since {node.since}{instead}", "yellow"
    if found.drift:
        yield f"Drift recorded ({len(found.drift)} host(s)): `grid up {spec_path}` repairs it", "bold yellow"
        for problem in found.drift:
            detail = f": {'; '.join(problem.detail)[:200]}" if problem.detail else ""
            yield f"  ! {problem.address} {problem.status}{detail}", "yellow"
    else:
        yield "Drift recorded: none (`grid drift` looks again)", "dim"


def _scheduler_lines(scheduler: SchedulerStatus, spec_path: str) -> Iterator[tuple[str, str]]:
    if scheduler.error:
        yield f"Slurm (controller {scheduler.controller}): no answer", "bold red"
        yield f"  {scheduler.error}", "red"
        return
    yield f"Slurm (controller {scheduler.controller}):", "bold"
    for partition in scheduler.partitions:
        default = " (default)" if partition.default else ""
        yield f"  partition {partition.name}{default}: {len(partition.nodes)} node(s)", ""
        for state, nodes in _by_state(partition.nodes).items():
            reasons = sorted({n.reason for n in nodes if n.reason})
            why = f" — {'; '.join(reasons)}" if reasons else ""
            yield (f"    {state:<18} {len(nodes):>3}  {hostlist(n.hostname for n in nodes)}{why}",
                   _STYLES.get(state.split()[0], "red"))
    yield f"  jobs: {scheduler.running} running, {scheduler.pending} pending", ""
    for job in scheduler.jobs:
        yield f"    {job.id:>8} {job.partition:<12} {job.user:<10} {hostlist(job.nodes)}  {job.name}", "dim"
    if scheduler.running > len(scheduler.jobs):
        yield f"    … and {scheduler.running - len(scheduler.jobs)} more (squeue on the controller)", "dim"


def _by_state(nodes: tuple[NodeStatus, ...]) -> dict[str, list[NodeStatus]]:
    """Nodes grouped by their state as shown (`down (not_responding)`), in the order states first appear."""
    out: dict[str, list[NodeStatus]] = {}
    for node in nodes:
        shown = f"{node.state} ({', '.join(node.flags)})" if node.flags else node.state
        out.setdefault(shown, []).append(node)
    return out
