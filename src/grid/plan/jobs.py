"""What a plan's node removals do to the scheduler's jobs: the jobs Slurm runs on each node the plan deletes or
replaces, as the controller said when the plan was made (grid.apply.drain asks it).

`grid up` drains those nodes first and waits up to `drain_timeout` seconds for their jobs; the plan shows this
so that nobody learns of it from a killed job.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class JobRef:
    job_id: str
    name: str
    user: str = ""

    def label(self) -> str:
        return f"{self.job_id} {self.name}" if self.name else self.job_id


@dataclass(frozen=True, slots=True)
class NodeJobs:
    """One Slurm node the plan removes: its resource address, hostname, the plan's action, and its jobs."""

    address: str
    hostname: str
    action: str  # delete | replace
    jobs: tuple[JobRef, ...] = ()


@dataclass(frozen=True)
class JobImpact:
    """The Slurm nodes a plan deletes or replaces and their jobs. `unknown` (why) when the controller could not
    be asked: the nodes are listed, their jobs are not known."""

    nodes: tuple[NodeJobs, ...]
    drain_timeout: int  # seconds
    unknown: str = ""

    @property
    def jobs(self) -> int:
        return sum(len(n.jobs) for n in self.nodes)

    def lines(self, rolled: Collection[str] = ()) -> list[str]:
        """"lab-train-0002: 1 job running (1234 sleep); drained first, up to 600 s", one per node; a node of
        `rolled` (replaced by a rolling pool) is drained when its wave comes, as its pool's update policy says."""
        out: list[str] = []
        for node in self.nodes:
            wait = ("drained when its wave starts (the pool's update policy)" if node.address in rolled
                    else f"drained first, up to {self.drain_timeout} s")
            if self.unknown:
                what = f"jobs unknown ({self.unknown})"
            elif not node.jobs:
                what = "no jobs"
            else:
                shown = ", ".join(j.label() for j in node.jobs[:5])
                more = f", … (+{len(node.jobs) - 5})" if len(node.jobs) > 5 else ""
                what = f"{len(node.jobs)} job{'s' if len(node.jobs) != 1 else ''} running ({shown}{more})"
            out.append(f"{node.hostname}: {what}; {wait}")
        return out

    def to_document(self) -> dict[str, Any]:
        return {"drain_timeout": self.drain_timeout, "unknown": self.unknown,
                "nodes": [{"address": n.address, "hostname": n.hostname, "action": n.action,
                           "jobs": [{"job_id": j.job_id, "name": j.name, "user": j.user} for j in n.jobs]}
                          for n in self.nodes]}

    @staticmethod
    def from_document(doc: dict[str, Any]) -> JobImpact:
        return JobImpact(
            nodes=tuple(NodeJobs(str(n["address"]), str(n["hostname"]), str(n["action"]),
                                 tuple(JobRef(str(j["job_id"]), str(j.get("name", "")), str(j.get("user", "")))
                                       for j in n.get("jobs", [])))
                        for n in doc.get("nodes", [])),
            drain_timeout=int(doc.get("drain_timeout", 0)), unknown=str(doc.get("unknown", "")))
