"""What a killed or failed `pulumi` leaves in the file backend, and grid's cleanup of it (issue 12 #4).

A full disk left a 0-byte `<id>.json.<hex>.tmp` in the stack's lock directory: Pulumi lists it as a lock and
every later run failed with "unexpected end of JSON input", while the cleaner only looked at `*.json`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from grid.drivers.pulumi_locks import clear_stale_locks
from support.pulumi_runs import PROJECT, STACK, kill_pulumi_holding_its_lock, pulumi_missing, run_pulumi_up

ENOSPC_TEMP = "0a1b2c3d-0000-4000-8000-000000000000.json.1881f7c2a3b4c5d6.tmp"  # as gocloud's fileblob names it


def _lock_dir(backend: Path) -> Path:
    return backend / ".pulumi" / "locks" / "organization" / PROJECT / STACK


def _write_lock(path: Path, *, pid: int, host: str, age_seconds: float = 0) -> Path:
    path.write_text(json.dumps({"pid": pid, "username": "ci", "hostname": host,
                                "timestamp": "2026-01-01T00:00:00Z"}))
    if age_seconds:
        when = time.time() - age_seconds
        os.utime(path, (when, when))
    return path


@pytest.mark.e2e
def test_a_killed_pulumi_and_a_full_disk_leave_nothing_that_blocks_the_next_run(tmp_path: Path) -> None:
    if reason := pulumi_missing():
        pytest.skip(reason)
    backend, home = tmp_path / "backend", tmp_path / "pulumi-home"
    backend.mkdir()
    url = f"file://{backend}"
    assert run_pulumi_up(url, home).returncode == 0  # the stack exists, as after a first `grid up`
    locks = _lock_dir(backend)
    kill_pulumi_holding_its_lock(url, home, lambda: any(locks.glob("*.json")))
    [killed] = locks.glob("*.json")
    (locks / ENOSPC_TEMP).touch()  # what ENOSPC left behind
    (locks / "gone.json.attrs").touch()  # a sidecar whose lock never made it into place
    history = backend / ".pulumi" / "history" / PROJECT / STACK
    history.mkdir(parents=True, exist_ok=True)
    (history / f"{STACK}-1700000000.history.json.1881f7c2a3b4c5d6.tmp").write_bytes(b'{"partial')

    blocked = run_pulumi_up(url, home)
    assert blocked.returncode != 0, "the leftovers must reproduce the wedge"
    assert "unexpected end of JSON input" in blocked.stderr or "currently locked" in blocked.stderr

    removed = {p.name for p in clear_stale_locks(url, PROJECT, STACK)}
    assert {killed.name, ENOSPC_TEMP, "gone.json.attrs"} <= removed
    assert not list(locks.iterdir()) and not list(history.glob("*.tmp"))
    ran = run_pulumi_up(url, home)
    assert ran.returncode == 0, ran.stderr
    assert "up done" in ran.stdout


def test_only_what_no_live_pulumi_needs_is_removed(tmp_path: Path) -> None:
    backend = tmp_path / "backend"
    locks = _lock_dir(backend)
    locks.mkdir(parents=True)
    other = _lock_dir(backend).parent / "west"
    other.mkdir()
    here, gone = socket.gethostname(), 1 << 22  # above any pid_max: no such process
    # A process that is a `pulumi` to /proc (argv[0]), holding a temp file open as a write in flight.
    in_flight = locks / "live.json.1881f7c2a3b4c5d7.tmp"
    in_flight.write_bytes(b"")
    with open(in_flight, "rb") as handle:
        live = subprocess.Popen(["bash", "-c", "exec -a pulumi sleep 60"], stdin=handle)
    try:
        _wait_for_argv0(live.pid, "pulumi")
        kept = {
            _write_lock(locks / "live.json", pid=live.pid, host=here),
            _write_lock(locks / "elsewhere.json", pid=1, host="ci-runner-7", age_seconds=60),
            _write_lock(other / "dead.json", pid=gone, host=here),  # another stack's: not ours to judge
            in_flight,
        }
        (locks / "live.json.attrs").write_text("{}")
        kept.add(locks / "live.json.attrs")
        stale = {
            _write_lock(locks / "dead.json", pid=gone, host=here),
            _write_lock(locks / "reused.json", pid=os.getpid(), host=here),  # a pid now running something else
            _write_lock(locks / "old-elsewhere.json", pid=1, host="ci-runner-7", age_seconds=3600),
            locks / ENOSPC_TEMP,
        }
        (locks / "torn.json").write_bytes(b'{"pid": 1')
        stale.add(locks / "torn.json")
        (locks / ENOSPC_TEMP).touch()
        (locks / "dead.json.attrs").write_text("{}")

        removed = clear_stale_locks(f"file://{backend}", PROJECT, STACK, lease_seconds=300)

        assert set(removed) == stale
        assert not (locks / "dead.json.attrs").exists(), "a removed lock takes its sidecar along"
        assert all(path.exists() for path in kept)
    finally:
        live.kill()
        live.wait()


def _wait_for_argv0(pid: int, name: str) -> None:
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] != name.encode():
        assert time.monotonic() < deadline
        time.sleep(0.01)
