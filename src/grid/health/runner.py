"""Running a health suite over nodes: each node's probes as ONE shell script over one SSH command (a section per
command: key, exit code, stdout and stderr base64-encoded, so no tool output can fake a boundary), the clock read
apart on the same connection (its round trip must be short to say anything), nodes in parallel, then
`judge_node` per node.

What runs the commands is a small `HealthRemote` (grid.drivers.ssh.PinnedRemote over pinned SSH); `run_suite`,
which finds the nodes, keys and known_hosts of a workspace, lives in grid.apply.health_runner (the layers keep
grid.health below the drivers).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import shlex
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Protocol

from grid.health.results import NODE_WIDE, CheckResult, Status, worst
from grid.health.suites import Probe, ProbeOutput, Role, Suite, judge_node, probes_for
from grid.state.model import HealthRecord, HealthRun

UNREACHABLE = 255  # what ssh (and PinnedRemote) exits with when it could not run the command
PARALLEL_NODES = 16
SLACK_S = 15  # on top of the longest probe's own timeout: the SSH read deadline of a node's script
CLOCK_READS = 3
CLOCK_SHORT_ROUND_TRIP_S = 0.1  # ± 50 ms: well inside the 100 ms warning threshold


class HealthRemote(Protocol):
    def execute(self, address: str, command: str, *, timeout: float | None = None) -> tuple[int, str, str]:
        """Run `command` on the node at `address`; (exit code, stdout, stderr), 255 when SSH failed."""
        ...


@dataclass(frozen=True)
class NodeTarget:
    """A node to check: where to reach it and what its pool declares (`model` None: no accelerators)."""

    address: str
    hostname: str
    ip: str
    model: str | None
    per_node: int


@dataclass(frozen=True)
class NodeHealth:
    address: str
    hostname: str
    results: tuple[CheckResult, ...]

    @property
    def status(self) -> Status:
        return worst(self.results)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.status is Status.FAILED)

    @property
    def not_ok(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.status is not Status.OK)

    def to_dict(self) -> dict[str, object]:
        return {"address": self.address, "hostname": self.hostname, "status": self.status.value,
                "results": [r.to_dict() for r in self.results]}


@dataclass(frozen=True)
class HealthReport:
    suite: Suite
    nodes: tuple[NodeHealth, ...]

    @property
    def failing(self) -> tuple[str, ...]:
        """Addresses of the nodes with a FAILED result."""
        return tuple(n.address for n in self.nodes if n.failed)

    @property
    def passed(self) -> int:
        """Nodes whose every result is ok."""
        return sum(1 for n in self.nodes if n.status is Status.OK)

    def record(self) -> HealthRun:
        return HealthRun(suite=self.suite.value, nodes=len(self.nodes), passed=self.passed,
                         results=[HealthRecord(node=r.node, check=r.check, device=r.device, status=r.status.value,
                                               found=r.found, threshold=r.threshold)
                                  for n in self.nodes for r in n.not_ok])

    def to_dict(self) -> dict[str, object]:
        return {"suite": self.suite.value, "nodes": [n.to_dict() for n in self.nodes],
                "failing": list(self.failing), "passed": self.passed}


def node_commands(target: NodeTarget, suite: Suite) -> tuple[tuple[str, Probe, str], ...]:
    """(output key, probe, shell command) of every probe a node runs, clock included."""
    return tuple((key, probe, command) for probe in probes_for(target.model, suite)
                 for key, command in probe.commands(target.per_node))


def node_script(commands: Iterable[tuple[str, Probe, str]], token: str) -> str:
    """One POSIX sh script running each command under `timeout`, printing per command one line
    `TOKEN KEY EXIT B64(stdout). B64(stderr).` (the dots keep empty outputs a field)."""
    lines = ['d=$(mktemp -d) || exit 1', "trap 'rm -rf \"$d\"' EXIT"]
    for key, probe, command in commands:
        lines.append(f"timeout {probe.timeout_s} sh -c {shlex.quote(command)} >\"$d/o\" 2>\"$d/e\" </dev/null; "
                     f"c=$?; printf '%s %s %s %s. %s.\\n' {token} {shlex.quote(key)} \"$c\" "
                     f"\"$(base64 -w0 <\"$d/o\")\" \"$(base64 -w0 <\"$d/e\")\"")
    return "\n".join(lines) + "\n"


def read_sections(stdout: str, token: str) -> dict[str, ProbeOutput]:
    """The outputs the script printed, by key; a line that is not whole (a node cut off mid-way) is left out."""
    out: dict[str, ProbeOutput] = {}
    for line in stdout.splitlines():
        words = line.split(" ")
        if len(words) != 5 or words[0] != token or not words[2].lstrip("-").isdigit():
            continue
        try:
            stdout_text, stderr_text = (base64.b64decode(w[:-1]).decode(errors="replace") for w in words[3:])
        except (binascii.Error, ValueError):
            continue
        out[words[1]] = ProbeOutput(int(words[2]), stdout_text, stderr_text)
    return out


def check_node(target: NodeTarget, suite: Suite, remote: HealthRemote) -> NodeHealth:
    commands = node_commands(target, suite)
    scripted = [c for c in commands if c[1].role is not Role.CLOCK]
    token = "grid-health-" + secrets.token_hex(6)
    deadline = sum(probe.timeout_s for _, probe, _ in scripted) + SLACK_S
    code, stdout, stderr = remote.execute(target.ip, node_script(scripted, token), timeout=deadline)
    if code == UNREACHABLE and token not in stdout:
        said = (stderr.strip() or stdout.strip())[-300:]
        return NodeHealth(target.address, target.hostname, (
            CheckResult(target.address, "ssh", NODE_WIDE, Status.FAILED, f"ssh to {target.ip} failed: {said}",
                        "reachable over SSH with its pinned host key"),))
    outputs = read_sections(stdout, token)
    for key, probe, command in commands:
        if probe.role is Role.CLOCK:  # after the script: the connection is up, the round trip is short
            outputs[key] = read_clock(remote, target.ip, command, probe.timeout_s)
    return NodeHealth(target.address, target.hostname,
                      judge_node(target.address, target.model, target.per_node, suite, outputs))


def read_clock(remote: HealthRemote, ip: str, command: str, timeout_s: float) -> ProbeOutput:
    """The node's clock, read again (up to CLOCK_READS times) while the round trip is too long to say much (a
    busy node or controller), keeping the read with the shortest round trip, as NTP keeps its shortest-delay
    sample; a read SSH did not carry is not tried again here (PinnedRemote already tried the session)."""
    best: ProbeOutput | None = None
    for _ in range(CLOCK_READS):
        sent_at = time.time()
        code, stdout, stderr = remote.execute(ip, command, timeout=timeout_s)
        read = ProbeOutput(code, stdout, stderr, sent_at, time.time())
        if code != 0:
            return best or read
        if best is None or read.round_trip_s < best.round_trip_s:
            best = read
        if best.round_trip_s <= CLOCK_SHORT_ROUND_TRIP_S:
            break
    assert best is not None
    return best


def check_nodes(targets: Iterable[NodeTarget], suite: Suite, remote: HealthRemote, *,
                on_node: Callable[[NodeHealth], None] | None = None) -> HealthReport:
    """Every target checked (in parallel), reported in the targets' order; `on_node` sees each as it is done
    (in the calling thread)."""
    ordered = list(targets)
    done: dict[str, NodeHealth] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(PARALLEL_NODES, len(ordered)))) as pool:
        futures = [pool.submit(check_node, target, suite, remote) for target in ordered]
        for future in as_completed(futures):
            health = future.result()
            done[health.address] = health
            if on_node is not None:
                on_node(health)
    return HealthReport(suite, tuple(done[t.address] for t in ordered))
