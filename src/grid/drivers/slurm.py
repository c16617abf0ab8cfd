"""Talking to a running Slurm: its commands on the controller node over grid's pinned SSH.

Every command ends on its own: jobs are submitted with `--immediate` (give up when Slurm cannot start them
now) and a time limit, and wrapped in `timeout`, so a stuck partition reports instead of hanging and the SSH
call never outlives its channel timeout (PinnedRemote retries a command only when it never ran).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from typing import Protocol

from grid.errors import GridError
from grid.render.hostlist import hostlist
from grid.render.slurm import controller_hosts
from grid.resources import ResourceGraph
from grid.slurm_status import (
    SINFO_FIELDS,
    SQUEUE_FORMAT,
    SlurmJob,
    SlurmNodeState,
    jobs_by_host,
    parse_sinfo,
    parse_squeue,
)
from grid.spec.model import Cluster

JOB_WAIT = 20
"""Seconds srun waits for its allocation (`--immediate`): a busy or broken partition fails after it."""
STEP_SECONDS = 30
"""Seconds a job step may run once allocated (`timeout` ends srun then; Slurm's own limit is a minute)."""
SSH_TIMEOUT = 90.0
"""Seconds the SSH channel of a Slurm command may stay silent: above every `timeout` wrapped around a job."""


class Remote(Protocol):
    def run(self, host: str, address: str, command: str) -> tuple[int, str]:
        """Run `command` on the node at `address` (hostname `host`); (exit code, output)."""
        ...


class SlurmUnavailable(GridError):
    """Slurm did not answer on the controller (slurmctld down, node unreachable, commands missing)."""


class SlurmController:
    """The Slurm of one cluster, reached through its controller node (`hostname`, `address`)."""

    def __init__(self, remote: Remote, hostname: str, address: str, *, sudo: bool = False) -> None:
        self.remote, self.hostname, self.address = remote, hostname, address
        self._privileged = "sudo -n " if sudo else ""  # scontrol update needs root or SlurmUser

    def run(self, command: str) -> tuple[int, str]:
        """A shell command on the controller: (exit code, output)."""
        return self.remote.run(self.hostname, self.address, command)

    def _query(self, command: str) -> str:
        code, output = self.run(command)
        if code != 0:
            raise SlurmUnavailable(f"Slurm on {self.hostname} did not answer `{command.split()[0]}`: "
                                   f"{output.strip()[-300:] or f'exit code {code}'}",
                                   hint="`grid drift SPEC` tells whether slurmctld runs; `grid up SPEC` starts it")
        return output

    def nodes(self) -> list[SlurmNodeState]:
        return parse_sinfo(self._query(f"sinfo -h -N -O {shlex.quote(SINFO_FIELDS)}"))

    def jobs(self) -> list[SlurmJob]:
        """Jobs Slurm holds now (pending, running, completing), any user's."""
        return parse_squeue(self._query(f"squeue -h -o {shlex.quote(SQUEUE_FORMAT)}"))

    def jobs_on(self, hostnames: Iterable[str]) -> dict[str, list[SlurmJob]]:
        """{hostname: jobs with a share of it}; every hostname asked for is a key."""
        return jobs_by_host(self.jobs(), hostnames)

    def drain(self, hostnames: Sequence[str], reason: str) -> None:
        """No new jobs on these nodes; running ones go on (the node is `draining` until they end)."""
        if hostnames:
            self._update(hostnames, f"state=drain reason={shlex.quote(reason)}")

    def resume(self, hostnames: Sequence[str]) -> None:
        """Back into service the nodes of `hostnames` that are drained, draining or down; others are left
        as they are (Slurm refuses to resume a node that is not)."""
        states = {node.name: node for node in self.nodes()}
        unknown = [host for host in hostnames if host not in states]
        if unknown:
            raise SlurmUnavailable(f"Slurm on {self.hostname} does not know {', '.join(unknown)}",
                                   hint="`grid up SPEC` writes the nodes of the spec into slurm.conf")
        stopped = [host for host in hostnames if states[host].drained or states[host].state == "down"]
        if stopped:
            self._update(stopped, "state=resume")

    def requeue(self, job_ids: Sequence[str]) -> None:
        """Put these jobs back in the queue (their running steps end; Slurm starts them again elsewhere, from the
        beginning). A job that ended meanwhile is no error."""
        ids = [job for job in job_ids if job]
        if ids:
            # `scontrol requeue` fails for a job that has ended since squeue listed it: say nothing of that.
            self.run(f"{self._privileged}scontrol requeue {shlex.quote(','.join(ids))}")

    def _update(self, hostnames: Sequence[str], change: str) -> None:
        self._query(f"{self._privileged}scontrol update nodename={shlex.quote(hostlist(hostnames))} {change}")

    def srun(self, command: str, *, partition: str, nodes: int, hostnames: Sequence[str] = (),
             gres: str = "", wait: int = JOB_WAIT, seconds: int = STEP_SECONDS) -> tuple[int, str]:
        """Run `command` (a shell command line) as one job step on `nodes` nodes of `partition` (exactly
        `hostnames` when given), one task per node; (srun's exit code, its output). Gives up after `wait`
        seconds without an allocation; `timeout` ends it (exit 124) `seconds` later should the step hang."""
        minutes = max(1, -(-seconds // 60))
        args = ["srun", f"--immediate={wait}", "-t", str(minutes), "-N", str(nodes),
                "--ntasks-per-node=1", "-p", partition]
        if hostnames:
            args += ["-w", hostlist(hostnames)]
        if gres:
            args.append(f"--gres={gres}")
        line = f"timeout {wait + seconds} {' '.join(shlex.quote(a) for a in args)} sh -c {shlex.quote(command)}"
        return self.run(line)


def controller_of(cluster: Cluster, graph: ResourceGraph, remote: Remote, *, sudo: bool = False
                  ) -> SlurmController:
    """The primary controller of a spec with a scheduler (the first node of its controller pool)."""
    hostname, address = controller_hosts(cluster, graph)[0]
    return SlurmController(remote, hostname, address, sudo=sudo)
