"""What a running Slurm says about its nodes and jobs, as values: the commands grid asks it with and pure
parsers of their output (Slurm 22.05's text formats; tests/slurm/data holds output captured from a real
slurmctld). The driver that runs the commands over SSH is grid.drivers.slurm.

Formats are `|`-separated with the free-text field last (a reason or a job name may hold a `|`); widths are 0
(never truncated).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from grid.render.hostlist import expand_hostlist

SINFO_FIELDS = "NodeList:0|,StateLong:0|,Partition:0|,Gres:0|,GresUsed:0|,Reason:0"
"""`sinfo -h -N -O` fields: one line per node and partition."""
SQUEUE_FORMAT = "%i|%u|%T|%P|%N|%j"
"""`squeue -h -o`: id, user, state, partition, nodes (a hostlist), name."""

# The suffixes sinfo appends to a node's state (sinfo(1), NODE STATE CODES), as words.
STATE_FLAGS: dict[str, str] = {
    "*": "not_responding", "~": "powered_off", "#": "powering_up", "%": "powering_down",
    "!": "pending_power_down", "$": "maintenance", "@": "pending_reboot", "^": "rebooting", "-": "planned",
}
DRAINED_STATES = frozenset({"drained", "draining", "drain"})
UNAVAILABLE_STATES = frozenset({"down", "drained", "drain", "fail", "failing", "inval", "unknown", "unk",
                                "future", "reserved", "maint", "perfctrs", "power_down", "powered_down"})


@dataclass(frozen=True)
class Gres:
    """One generic resource entry: `npu:ascend-910b:8` is (npu, ascend-910b, 8); an untyped `npu:0` has type ""."""

    name: str
    type: str
    count: int

    def text(self) -> str:
        return ":".join([self.name, *([self.type] if self.type else []), str(self.count)])


@dataclass(frozen=True)
class SlurmNodeState:
    name: str
    state: str  # as sinfo's StateLong prints it, lower case, flags split off: idle, mixed, allocated, drained...
    flags: tuple[str, ...] = ()  # STATE_FLAGS' words: not_responding, powered_off, ...
    reason: str = ""
    partitions: tuple[str, ...] = ()
    gres: tuple[Gres, ...] = ()  # configured
    gres_used: tuple[Gres, ...] = ()  # allocated to jobs now

    @property
    def responding(self) -> bool:
        return "not_responding" not in self.flags

    @property
    def drained(self) -> bool:
        """Drained or draining: takes no new jobs by an operator's (or grid's) word."""
        return self.state in DRAINED_STATES

    @property
    def usable(self) -> bool:
        """Can take a job now or once its running jobs end."""
        return self.responding and self.state not in UNAVAILABLE_STATES and not self.drained

    def configured(self, name: str, kind: str = "") -> int:
        return sum(g.count for g in self.gres if g.name == name and (not kind or g.type == kind))

    def in_use(self, name: str, kind: str = "") -> int:
        return sum(g.count for g in self.gres_used if g.name == name and (not kind or g.type == kind))

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "state": self.state, "flags": list(self.flags), "reason": self.reason,
                "partitions": list(self.partitions), "gres": [g.text() for g in self.gres],
                "gres_used": [g.text() for g in self.gres_used if g.count]}


@dataclass(frozen=True)
class SlurmJob:
    id: str
    name: str
    user: str
    state: str  # lower case: running, pending, completing, ...
    partition: str
    nodes: tuple[str, ...]  # hostnames, the hostlist expanded; none while pending

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "user": self.user, "state": self.state,
                "partition": self.partition, "nodes": list(self.nodes)}


def split_state(text: str) -> tuple[str, tuple[str, ...]]:
    """`down*` → ("down", ("not_responding",)); `idle` → ("idle", ())."""
    state = text.strip().lower()
    flags: list[str] = []
    while state and state[-1] in STATE_FLAGS:
        flags.insert(0, STATE_FLAGS[state[-1]])
        state = state[:-1]
    return state, tuple(flags)


def parse_gres(text: str) -> tuple[Gres, ...]:
    """`gpu:h100-sxm:2(IDX:0-1),npu:0` → (gpu, h100-sxm, 2), (npu, "", 0). `(null)` and `N/A` are none.
    A parenthesised suffix (IDX, S for sockets) is dropped; it may hold commas of its own."""
    out: list[Gres] = []
    for item in _outside_parentheses(text.strip()):
        item = item.split("(", 1)[0].strip()
        if not item or item in {"(null)", "N/A", "none"}:
            continue
        fields = item.split(":")
        count = int(fields[-1]) if len(fields) > 1 and fields[-1].isdigit() else 1
        name = fields[0]
        kind = fields[1] if len(fields) == 3 or (len(fields) == 2 and not fields[-1].isdigit()) else ""
        out.append(Gres(name, kind, count))
    return tuple(out)


def _outside_parentheses(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part for part in parts if part.strip()]


def parse_sinfo(text: str) -> list[SlurmNodeState]:
    """Nodes from `sinfo -h -N -O SINFO_FIELDS`, one per node (its partitions merged), in sinfo's order.
    The default partition's `*` is dropped from its name."""
    nodes: dict[str, SlurmNodeState] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("|", 5)
        if len(fields) < 6:
            raise ValueError(f"sinfo printed a line grid does not understand: {line!r}")
        name, state_text, partition, gres, used, reason = (f.strip() for f in fields)
        state, flags = split_state(state_text)
        partition = partition.rstrip("*")
        known = nodes.get(name)
        partitions = (*known.partitions, partition) if known is not None else (partition,)
        nodes[name] = SlurmNodeState(name, state, flags, "" if reason == "none" else reason,
                                     tuple(p for p in dict.fromkeys(partitions) if p),
                                     parse_gres(gres), parse_gres(used))
    return list(nodes.values())


def parse_squeue(text: str) -> list[SlurmJob]:
    """Jobs from `squeue -h -o SQUEUE_FORMAT`."""
    jobs: list[SlurmJob] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("|", 5)
        if len(fields) < 6:
            raise ValueError(f"squeue printed a line grid does not understand: {line!r}")
        job_id, user, state, partition, nodes, name = fields
        jobs.append(SlurmJob(job_id.strip(), name, user.strip(), state.strip().lower(), partition.strip(),
                             tuple(expand_hostlist(nodes.strip()))))
    return jobs


def jobs_by_host(jobs: Iterable[SlurmJob], hostnames: Iterable[str]) -> dict[str, list[SlurmJob]]:
    """{hostname: the jobs with a share of it} for each of `hostnames` (a host without jobs maps to [])."""
    out: dict[str, list[SlurmJob]] = {host: [] for host in hostnames}
    for job in jobs:
        for host in job.nodes:
            if host in out:
                out[host].append(job)
    return out
