"""What the reliability tests share: a small lab cluster, killable runs, and the invariants checked after.

A killable run is `grid` started in a session of its own (start_new_session=True) with a marker in its
environment; every process it starts inherits the marker, even those that put themselves in another
process group (Pulumi's plugins) or session (ansible-runner's pty), so `survivors(marker)` finds
whatever outlived a kill.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grid.state import codec
from helpers import GRID, _used_subnets, lab_spec

MARKER_ENV = "GRID_TEST_RUN_MARKER"


RESERVATIONS = Path(tempfile.gettempdir()) / "grid-test-subnets"
_reserving = threading.Lock()


def _reserve(subnet: ipaddress.IPv4Network) -> bool:
    """Claim `subnet` for this test process (a file naming our pid; one of a dead pid is taken over)."""
    RESERVATIONS.mkdir(exist_ok=True)
    path = RESERVATIONS / str(subnet).replace("/", "_")
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                owner = int(path.read_text() or 0)
            except (OSError, ValueError):
                owner = 0
            if owner == os.getpid() or (owner and Path(f"/proc/{owner}").exists()):
                return False
            path.unlink(missing_ok=True)  # its process is gone
            continue
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True
    return False


def small_lab(directory: Path, edit: Callable[[dict[str, Any]], None] | None = None) -> tuple[Path, str]:
    """The lab spec cut to one region with one pool of 2 nodes, on two free /24s picked at random and
    reserved for this process (tests running at once, here or in other sessions, must not collide)."""

    def shrink(data: dict[str, Any]) -> None:
        region = data["spec"]["regions"][0]
        data["spec"]["regions"] = [region]
        data["spec"]["links"] = []
        region["pools"] = region["pools"][:1]
        region["pools"][0]["count"] = 2
        with _reserving:
            used = _used_subnets()
            free = [n for n in (ipaddress.IPv4Network(f"198.18.{o}.0/24") for o in range(128, 255))
                    if not any(n.overlaps(u) for u in used)]
            random.shuffle(free)
            picked: list[ipaddress.IPv4Network] = []
            for subnet in free:
                if len(picked) == len(region["fabrics"]):
                    break
                if _reserve(subnet):
                    picked.append(subnet)
        for fabric, subnet in zip(region["fabrics"], picked, strict=True):
            fabric["cidr"] = str(subnet)
        if edit is not None:
            edit(data)

    return lab_spec(directory, edit=shrink)


def workdir(spec: Path, name: str) -> Path:
    return spec.parent / ".grid" / name


def grid_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "CI": "true", **extra}


@dataclass
class Killable:
    process: subprocess.Popen[str]
    marker: str
    started: float

    def kill(self) -> None:
        """SIGKILL the run's process group, as `kill -9 -PGID` or a CI job cancellation would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def wait(self, timeout: float) -> tuple[int, str]:
        out, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, out


def start(*args: str, env: dict[str, str] | None = None) -> Killable:
    marker = uuid.uuid4().hex
    process = subprocess.Popen([GRID, *args], env={**grid_env(), **(env or {}), MARKER_ENV: marker},
                               start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    return Killable(process, marker, time.monotonic())


def survivors(marker: str) -> list[tuple[int, str]]:
    """Processes (pid, command line) whose environment carries `marker`."""
    found = []
    needle = f"{MARKER_ENV}={marker}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if needle not in Path(f"/proc/{entry}/environ").read_bytes():
                continue
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append((int(entry), command.strip()[:160]))
    return found


def wait_for_no_survivors(marker: str, timeout: float, *, kill: bool = True) -> list[tuple[int, str]]:
    """Survivors still there after `timeout` seconds (with `kill`, each is then SIGKILLed: tests clean up)."""
    deadline = time.monotonic() + timeout
    left = survivors(marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = survivors(marker)
    for pid, _ in left if kill else ():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


# -- the invariants ------------------------------------------------------------------------------------

def podman_inventory(cluster: str) -> dict[str, set[str]]:
    selector = f"label=grid.cluster={cluster}"
    listings = {
        "containers": ["podman", "ps", "-a", "--filter", selector, "--format", "{{.Names}}"],
        "networks": ["podman", "network", "ls", "--filter", selector, "--format", "{{.Name}}"],
        "volumes": ["podman", "volume", "ls", "--filter", selector, "--format", "{{.Name}}"],
    }
    return {kind: set(subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split())
            for kind, argv in listings.items()}


def verified_state(work: Path) -> dict[str, Any]:
    """The state envelope after checking its checksum (raises StateCorrupted otherwise)."""
    raw = (work / "state.json").read_bytes()
    codec.decode(raw, "state.json")  # checksum, format version and schema
    envelope: dict[str, Any] = json.loads(raw)
    return envelope


def state_inventory(envelope: dict[str, Any]) -> dict[str, set[str]]:
    resources = envelope["state"]["resources"].values()
    return {
        "containers": {r["attrs"]["container"] for r in resources if r["kind"] == "node"},
        "networks": {r["attrs"]["network"] for r in resources if r["kind"] == "fabric"},
        "volumes": {r["attrs"]["volume"] for r in resources if r["kind"] == "volume"},
    }


def pulumi_checkpoints(work: Path) -> dict[str, dict[str, Any]]:
    """Each region stack's latest checkpoint in the DIY backend."""
    found = {}
    for path in (work / "pulumi-backend" / ".pulumi" / "stacks").glob("*/*.json"):
        found[path.stem] = json.loads(path.read_text())["checkpoint"].get("latest") or {}
    return found


def consistency_problems(spec: Path, name: str, work: Path | None = None) -> list[str]:
    """Everything podman has for the cluster is in state and vice versa; the state checksum verifies;
    Pulumi's checkpoints hold no pending operation and the same resources as grid's state; every host
    is configured. `work`: the run's --workdir, when not the default next to the spec."""
    work = work or workdir(spec, name)
    problems: list[str] = []
    try:
        envelope = verified_state(work)
    except Exception as exc:  # noqa: BLE001 - reported, not raised: the caller collects problems
        return [f"state does not verify: {exc}"]
    live, recorded = podman_inventory(name), state_inventory(envelope)
    for kind in live:
        if live[kind] - recorded[kind]:
            problems.append(f"orphaned {kind} (in podman, not in state): {sorted(live[kind] - recorded[kind])}")
        if recorded[kind] - live[kind]:
            problems.append(f"{kind} in state but not in podman: {sorted(recorded[kind] - live[kind])}")
    addresses = {a for a, r in envelope["state"]["resources"].items() if r["kind"] != "link"}
    in_pulumi: set[str] = set()
    for region, latest in pulumi_checkpoints(work).items():
        if latest.get("pending_operations"):
            problems.append(f"pulumi stack {region} has pending operations: {latest['pending_operations']}")
        in_pulumi |= {r["urn"].rsplit("::", 1)[-1] for r in latest.get("resources") or []
                      if r.get("custom") and not r["type"].startswith("pulumi:")}
    if in_pulumi != addresses:
        problems.append(f"pulumi and grid disagree: only in pulumi {sorted(in_pulumi - addresses)}, "
                        f"only in state {sorted(addresses - in_pulumi)}")
    hosts = envelope["state"]["hosts"]
    nodes = {a for a, r in envelope["state"]["resources"].items() if r["kind"] == "node"}
    unconfigured = sorted(a for a in nodes if hosts.get(a, {}).get("status") != "configured")
    if unconfigured:
        problems.append(f"hosts not configured: {unconfigured}")
    return problems


# -- the CLI in this process ---------------------------------------------------------------------------

@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def invoke(*args: str) -> Ran:
    """`grid ARGS` through the console script's own entry point (grid.cli.main.run), in this process:
    the same exit codes and messages as the installed `grid`, without ~0.5 s of interpreter start."""
    import io
    import sys
    from unittest import mock

    from grid.cli.main import run

    out, err = io.StringIO(), io.StringIO()
    env = {k: v for k, v in os.environ.items() if k != "GRID_DEBUG"}
    with mock.patch.object(sys, "argv", ["grid", *args]), mock.patch.dict(os.environ, {**env, "CI": "true"},
                                                                            clear=True), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            run()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Ran(code, out.getvalue(), err.getvalue())


def running_containers(name: str) -> dict[str, str]:
    """Container ID by grid address, of the cluster's running containers."""
    out = subprocess.run(["podman", "ps", "--filter", f"label=grid.cluster={name}", "--format",
                          '{{.ID}} {{index .Labels "grid.address"}}'], capture_output=True, text=True, check=True)
    return {address: cid for cid, address in (line.split() for line in out.stdout.splitlines() if line.strip())}


def unplanned_by_engine(before: dict[str, str], after: dict[str, str], result: str) -> list[str]:
    """The plan is the contract: a running node the engine replaced or removed must be one its plan showed
    being created, replaced or deleted (`changes` of the grid-result/v1 document)."""
    try:
        changes = {c["address"]: c["action"] for c in json.loads(result).get("changes", [])}
    except ValueError:
        return [f"the recovery printed no result document: {result[-500:]}"]
    return [f"{address}: replaced or removed by the engine, but its plan said {changes.get(address, 'no change')}"
            for address, cid in sorted(before.items())
            if after.get(address) != cid and changes.get(address) not in ("create", "replace", "delete")]
