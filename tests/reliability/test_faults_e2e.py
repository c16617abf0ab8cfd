"""Faults of the machine around grid, each reproduced on the lab with a full `grid up` (issue 12 #4 and #5):
the work directory's disk full while a node is added, and the team state's PostgreSQL stopped
(`pg_ctl stop -m immediate`) while Pulumi works and while Ansible works.

Each run into the fault ends in a plain error — exit 1, no traceback, no "internal error", words that
say what happened — and grid's state survives it. Once the fault is removed (space freed, the database
started again) the next `grid up` converges with no manual step (no `pulumi cancel`, no `grid state
unlock`): exit 0, the new node runs, and `grid drift --detailed-exitcode` is clean.

A run is stopped at the exact moment with GRID_PAUSE_AT=<point>:<n> (grid.killpoints SIGSTOPs the process
reaching it: `worker.*` points in the Pulumi worker, the others in the grid process), the fault is made,
and the stopped process continued. Runs start in sessions of their own (support.cli.start), so signals reach
only grid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from support.cli import Killable, grid, start, survivors, wait_for_no_survivors
from support.lab import consistency_problems, running_containers, verified_state
from support.postgres import PASSWORD, PgServer, missing_reason
from support.specs import small_lab

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DISK_SIZE = "8m"  # the first `grid up` of the small lab writes about 0.5 MB under its work directory
# Free space left when the disk is filled before adding a node: 24 KiB runs out at Pulumi's lock (the
# issue's 0-byte `<id>.json.<hex>.tmp`), 96 KiB later, while Pulumi saves the stack with the node made.
ROOMS_KIB = (24, 96)
RUN_TIMEOUT = 300.0
INTERNAL_ERROR = ("internal error", "this is a bug in grid")


# -- shared steps ----------------------------------------------------------------------------------------

def _add_node(spec: Path) -> str:
    """One more node in the lab's only pool; returns its address."""
    data = yaml.safe_load(spec.read_text())
    region = data["spec"]["regions"][0]
    pool = region["pools"][0]
    pool["count"] += 1
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return f"{region['name']}/{pool['name']}/node-{pool['count'] - 1:04d}"


def _assert_plain_failure(code: int, output: str, *wording: str) -> None:
    """What a user must see when the machine around grid fails: exit 1, a plain error naming the cause."""
    assert "Traceback (most recent call last)" not in output, output
    # The CLI turns StateError, ENOSPC and Pulumi's failures into `error:`/`hint:` (grid.cli.failures).
    assert not any(text in output for text in INTERNAL_ERROR), f"reported as a bug in grid:\n{output}"
    assert code == 1, f"exit {code}:\n{output}"
    assert any(word in output.lower() for word in wording), f"no word of {wording} in:\n{output}"


def _process_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def _paused_process(run: Killable, timeout: float = 180.0) -> int:
    """The process of `run` that GRID_PAUSE_AT stopped (state T), once it is there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid, _ in survivors(run.marker):
            if _process_state(pid) == "T":
                return pid
        if run.process.poll() is not None:
            pytest.fail(f"the run ended ({run.process.returncode}) before its pause point:\n{run.wait(10)[1]}")
        time.sleep(0.1)
    pytest.fail(f"the run did not reach its pause point within {timeout:.0f}s")


def _end(run: Killable) -> None:
    """Tests clean up: a run still there (a failed assertion) is killed with every process it started."""
    if run.process.poll() is None:
        run.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            run.wait(timeout=30)
    wait_for_no_survivors(run.marker, 5)


def _remove_podman_objects(name: str) -> None:
    """What `grid destroy` could not remove (a test failing half-way): the cluster's podman objects."""
    selector = f"label=grid.cluster={name}"
    for listing, remove in (
            (["podman", "ps", "-aq", "--filter", selector], ["podman", "rm", "-f", "-t", "0"]),
            (["podman", "network", "ls", "-q", "--filter", selector], ["podman", "network", "rm", "-f"]),
            (["podman", "volume", "ls", "-q", "--filter", selector], ["podman", "volume", "rm", "-f"])):
        found = subprocess.run(listing, capture_output=True, text=True, check=False).stdout.split()
        if found:
            subprocess.run([*remove, *found], capture_output=True, check=False)


def _converges(spec: Path, name: str, new_node: str, *args: str, env: dict[str, str] | None = None) -> str:
    """The next `grid up` finishes the job with no manual step; returns its output."""
    again = grid("up", str(spec), "--yes", *args, env=env)
    for wedged in ("currently locked", "pulumi cancel", "unexpected end of JSON input", "grid state unlock"):
        assert wedged not in again.output, f"the next run is wedged ({wedged!r}):\n{again.output}"
    assert again.code == 0, again.output
    assert new_node in running_containers(name), f"{new_node} is not running after the recovery"
    drift = grid("drift", str(spec), "--detailed-exitcode", *args, env=env)
    assert drift.code == 0, f"`grid drift` is not clean after the recovery ({drift.code}):\n{drift.output}"
    return again.output


# -- 1. a full disk (issue 12 #4) -----------------------------------------------------------------------

@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A tmpfs of DISK_SIZE, unmounted afterwards whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = Path(tempfile.mkdtemp(prefix="grid-full-disk-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE},mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)
        with contextlib.suppress(OSError):
            mount.rmdir()  # empty once unmounted; never a recursive delete of a still-mounted disk


def _fill(disk: Path, room_kib: int) -> Path:
    """Take the disk's free space but `room_kib` KiB; returns the file that holds it."""
    filler = disk / f"filler-{uuid.uuid4().hex[:6]}"
    stat = os.statvfs(disk)
    size = stat.f_bavail * stat.f_frsize - room_kib * 1024
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.posix_fallocate(fd, 0, size)
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_fails_plainly_and_the_next_run_after_freeing_space_converges(
        tmp_path: Path, small_disk: Path) -> None:
    spec, name = small_lab(tmp_path / "lab")
    work = small_disk / "work"
    at = ("--workdir", str(work))
    filler: Path | None = None
    try:
        first = grid("up", str(spec), "--yes", "--skip-check", *at)
        assert first.code == 0, first.output
        before = verified_state(work)
        nodes_before = {a for a, r in before["state"]["resources"].items() if r["kind"] == "node"}
        new_node = _add_node(spec)

        for room in ROOMS_KIB:  # the issue ran into it four times: each run fails the same plain way
            filler = _fill(small_disk, room)
            full = grid("up", str(spec), "--yes", "--skip-check", *at)
            _assert_plain_failure(full.code, full.output, "no space left", "disk full", "disk is full")
            envelope = verified_state(work)  # grid's own state: whole, checksum verified
            assert envelope["serial"] >= before["serial"]
            assert nodes_before <= {a for a, r in envelope["state"]["resources"].items() if r["kind"] == "node"}
            filler.unlink()
            filler = None

        output = _converges(spec, name, new_node, *at)
        assert "no space left" not in output
        assert consistency_problems(spec, name, work) == []
        leftovers = sorted(str(p.relative_to(work)) for p in work.rglob("*.tmp"))
        assert leftovers == [], f"temp files of the failed runs are left: {leftovers}"
    finally:
        with contextlib.ExitStack() as cleanup:  # each step runs even if one before it fails
            cleanup.callback(_remove_podman_objects, name)
            if filler is not None:
                filler.unlink(missing_ok=True)
            grid("destroy", str(spec), "--yes", *at)


# -- 2. the team state's PostgreSQL stopped during Pulumi and during Ansible (issue 12 #5) ---------------

@dataclass
class TeamLab:
    server: PgServer
    spec: Path
    name: str
    url: str  # without the password: it goes in PGPASSWORD, as a careful user gives it

    @property
    def args(self) -> tuple[str, ...]:
        return ("--state", self.url)

    @property
    def env(self) -> dict[str, str]:
        return {"PGPASSWORD": PASSWORD}

    def server_running(self) -> bool:
        return (self.server.data / "postmaster.pid").exists()


@pytest.fixture(scope="module")
def team_lab() -> Iterator[TeamLab]:
    """A PostgreSQL server of its own (these tests stop it) and a small lab whose state lives in it."""
    if reason := missing_reason():
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="grid-pg-faults-"))
    root.chmod(0o755)  # the server runs as the postgres user
    server = PgServer(root / "pg")
    spec, name = small_lab(root / "lab")
    lab: TeamLab | None = None
    try:
        server.start()
        database = server.create_database().rsplit("/", 1)[1]
        lab = TeamLab(server, spec, name, server.url(database, password=False))
        up = grid("up", str(spec), "--yes", "--skip-check", *lab.args, env=lab.env)
        assert up.code == 0, up.output
        yield lab
    finally:
        with contextlib.ExitStack() as cleanup:  # each step runs even if one before it fails (last first)
            cleanup.callback(shutil.rmtree, root, ignore_errors=True)
            cleanup.callback(server.stop)
            cleanup.callback(_remove_podman_objects, name)
            if lab is not None:
                if not lab.server_running():
                    server.restart()
                grid("destroy", str(spec), "--yes", *lab.args, env=lab.env)


def _database_outage_at(lab: TeamLab, point: str) -> None:
    """Add a node; stop the run at `point`, stop PostgreSQL (immediate: connections cut, no goodbye),
    let the run go on to its end; start PostgreSQL again; the next `grid up` converges."""
    new_node = _add_node(lab.spec)
    run = start("up", str(lab.spec), "--yes", "--skip-check", *lab.args,
                env={**lab.env, "GRID_PAUSE_AT": point})
    try:
        paused = _paused_process(run)
        lab.server.stop()  # pg_ctl stop -m immediate
        assert not lab.server_running()
        os.kill(paused, signal.SIGCONT)
        code, output = run.wait(timeout=RUN_TIMEOUT)
    finally:
        _end(run)
        if not lab.server_running():
            lab.server.restart()
    _assert_plain_failure(code, output, "state database", "postgresql", "connection refused")
    assert PASSWORD not in output
    recovered = _converges(lab.spec, lab.name, new_node, *lab.args, env=lab.env)
    assert PASSWORD not in recovered


def test_a_database_outage_during_pulumi_fails_plainly_and_the_next_run_converges(team_lab: TeamLab) -> None:
    # The first resource event in the Pulumi worker: its `pulumi up` holds the stack's lock row by then.
    _database_outage_at(team_lab, "worker.progress:1")


def test_a_database_outage_during_ansible_fails_plainly_and_the_next_run_converges(team_lab: TeamLab) -> None:
    # Well into Ansible: the new node is made and being configured (the grid process stops, Ansible runs on).
    _database_outage_at(team_lab, "ansible.event:10")  # mid-run: +1 node is ~25 events since issue 20

