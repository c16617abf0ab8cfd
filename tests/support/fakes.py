"""Stand-ins for what grid drives: the stack engine (Pulumi), the Ansible runner, the state store and the
remote shell of the acceptance checks. Each records what it was asked, so a test can say what happened when.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from grid.drivers.ansible import Gate
from grid.drivers.ansible_results import EventCallback, HostOutcome, PlaybookResult
from grid.engines import EngineFailed, MadeFn, PreviewResult, ProgressFn, StackResult
from grid.state.errors import StateConflict
from grid.state.model import Envelope, State

HOST_KEY = "ssh-ed25519 AAAA"  # what FakeStacks reports as every node's host key


class FakeStacks:
    """StackEngine stand-in: `up` takes a while (`seconds`: before and after the halfway point) and records
    when it ran; halfway it reports the nodes in `new_nodes` made (as Pulumi's events do), then goes on.
    Regions in `failing` fail at the end (at the start with `fail_at_start`); `crash`: a bug in the engine."""

    def __init__(self, failing: Sequence[str] = (), *, crash: bool = False, fail_at_start: bool = False,
                 new_nodes: Collection[str] = (), seconds: tuple[float, float] = (0.15, 0.3)) -> None:
        self.ran: list[tuple[str, float, float]] = []  # (region, started, finished)
        self.made_at: dict[str, float] = {}
        self.refreshed: dict[str, bool] = {}
        self.failing = set(failing)
        self.crash = crash
        self.fail_at_start = fail_at_start
        self.new_nodes = set(new_nodes)
        self.seconds = seconds

    def up(self, region: str, data: Mapping[str, Any], progress: ProgressFn | None = None, *,
           refresh: bool = True, made: MadeFn | None = None, allowed: Any = None) -> StackResult:
        started = time.monotonic()
        self.refreshed[region] = refresh
        if self.crash:
            raise RuntimeError("a bug in a stack engine")
        if self.fail_at_start and region in self.failing:
            raise EngineFailed(region, "the pulumi CLI is not on PATH")
        time.sleep(self.seconds[0])
        for node in data.get("nodes", []):
            if made is not None and node["address"] in self.new_nodes:
                self.made_at[node["address"]] = time.monotonic()
                made(node["address"], {"host_key": HOST_KEY})
        time.sleep(self.seconds[1])
        self.ran.append((region, started, time.monotonic()))
        if region in self.failing:
            raise EngineFailed(region, "quota exceeded")
        nodes = {n["address"]: {"host_key": HOST_KEY} for n in data.get("nodes", [])}
        return StackResult(region, {"nodes": nodes})

    def preview(self, region: str, data: Mapping[str, Any], *, refresh: bool) -> PreviewResult:
        raise AssertionError("not used")

    def destroy(self, region: str, data: Mapping[str, Any], progress: ProgressFn | None = None) -> None:
        raise AssertionError("not used")

    def regions(self) -> list[str]:
        return []


class RecordingAnsible:
    """Ansible runner stand-in: records each run's scopes and when its hosts started work: at once, or for a
    gated run once every gate is decided (as site.yml's first play); hosts whose gate is closed fail."""

    def __init__(self) -> None:
        self.runs: list[tuple[dict[str, str], float]] = []
        self.known_hosts: dict[str, str] = {}  # hostname -> known_hosts when its work started
        self.lock = threading.Lock()

    def run(self, project_dir: Path, *, private_key: Path | Sequence[Path], known_hosts: Path,
            limit: Sequence[str] | None = None, tags: Sequence[str] | None = None, check: bool = False,
            inventory: Path | None = None, on_event: EventCallback | None = None,
            scopes: Mapping[str, str] | None = None, gate: Gate | None = None) -> PlaybookResult:
        closed: set[str] = set()
        if gate is not None:
            deadline = time.monotonic() + 10
            while not all(gate.path(h).is_file() for h in limit or []):
                assert time.monotonic() < deadline, "a gate was never decided"
                time.sleep(0.01)
            closed = {h for h in limit or [] if gate.path(h).read_text().strip() != "ready"}
            for host in sorted(closed):  # as the real run reports the gate task of a closed gate
                if on_event is not None:
                    on_event(host, "Wait for grid to make the node", "failed")
        with self.lock:
            self.runs.append((dict(scopes or {}), time.monotonic()))
            self.known_hosts.update(dict.fromkeys(limit or [], known_hosts.read_text()))
        hosts = {h: HostOutcome(ok=h not in closed, changed=1, failed=int(h in closed), unreachable=False)
                 for h in limit or []}
        return PlaybookResult(ok=not closed, hosts=hosts, rc=2 if closed else 0)


class MemoryStateStore:
    """State store stand-in: read and write in memory, with the serial check of the real ones (a write
    expecting another serial is a StateConflict); `writes` keeps every state written, in order."""

    def __init__(self, envelope: Envelope | None = None) -> None:
        self.envelope = envelope
        self.writes: list[State] = []

    def read(self) -> Envelope | None:
        return self.envelope

    def write(self, state: State, expected_serial: int) -> Envelope:
        serial = self.envelope.serial if self.envelope else 0
        if serial != expected_serial:
            raise StateConflict(f"serial {serial} stored, {expected_serial} expected", expected=expected_serial,
                                actual=serial)
        lineage = self.envelope.lineage if self.envelope else str(uuid.uuid4())
        self.envelope = Envelope(serial=serial + 1, lineage=lineage, state=state)
        self.writes.append(state)
        return self.envelope


class UnreachableRemote:
    """A `grid.check.Remote` that records where each command went, and reaches nothing."""

    def __init__(self) -> None:
        self.addresses: dict[str, set[str]] = {}
        self.commands: list[tuple[str, str]] = []  # (host, command)

    def run(self, host: str, address: str, command: str) -> tuple[int, str]:
        self.addresses.setdefault(host, set()).add(address)
        self.commands.append((host, command))
        return 255, "ssh: connect to host: Connection refused"
