"""A stand-in for Slurm's controller (grid.apply.drain.SlurmControl, as grid.drivers.slurm.SlurmController
offers it): its nodes and jobs in memory, and what it was asked."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grid.apply.drain import ControllerFor
from grid.spec.model import Cluster
from grid.state.model import State


@dataclass(frozen=True)
class Job:
    id: str
    name: str
    user: str = "alice"
    state: str = "running"
    partition: str = "train"


@dataclass(frozen=True)
class Node:
    name: str
    state: str = "idle"
    reason: str = ""


@dataclass
class FakeSlurm:
    """A slurmctld: its nodes, the jobs on them (each ends after `lasts` polls of jobs_on), and what it was
    asked. `down`: every call fails as an unreachable controller does."""

    nodes_: list[Node]
    running: dict[str, list[Job]] = field(default_factory=dict)  # hostname -> its jobs
    lasts: int | None = None  # None: the jobs never end
    down: bool = False
    calls: list[tuple[str, Any]] = field(default_factory=list)
    connected: list[tuple[str, str]] = field(default_factory=list)

    def _ask(self, name: str, arg: Any = None) -> None:
        self.calls.append((name, arg))
        if self.down:
            raise ConnectionRefusedError("slurm_load_jobs error: Unable to contact slurm controller")

    def nodes(self) -> list[Node]:
        self._ask("nodes")
        return list(self.nodes_)

    def jobs_on(self, hostnames: list[str]) -> dict[str, list[Job]]:
        self._ask("jobs_on", tuple(hostnames))
        polls = sum(1 for name, _ in self.calls if name == "jobs_on")
        if self.lasts is not None and polls > self.lasts:
            self.running = {}
        return {h: list(self.running.get(h, [])) for h in hostnames}

    def jobs(self) -> list[Job]:
        self._ask("jobs")
        return list(dict.fromkeys(job for jobs in self.running.values() for job in jobs))

    def drain(self, hostnames: list[str], reason: str) -> None:
        self._ask("drain", (tuple(hostnames), reason))
        self.nodes_ = [dataclasses.replace(n, state="drained", reason=reason) if n.name in hostnames else n
                       for n in self.nodes_]

    def resume(self, hostnames: list[str]) -> None:
        self._ask("resume", tuple(hostnames))
        self.nodes_ = [dataclasses.replace(n, state="idle", reason="") if n.name in hostnames else n
                       for n in self.nodes_]

    def connect(self, hostname: str, ip: str) -> FakeSlurm:
        self.connected.append((hostname, ip))
        return self

    @contextmanager
    def connection(self, workdir: Path, state: State, cluster: Cluster) -> Iterator[ControllerFor]:
        yield self.connect

    def asked(self, name: str) -> list[Any]:
        return [arg for called, arg in self.calls if called == name]
