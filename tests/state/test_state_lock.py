"""The state lock: holder named on conflict, stale/expired detection, leases, and races."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from grid.state import LockHeld, LockHolder, LockLost, StateLock, assess, held_lock, read_lock, unlock
from grid.state import _osutil as osu
from grid.state.lock import LOCK_FILE


def _write_lock(workdir: Path, **overrides: Any) -> LockHolder:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "user": "ana", "host": osu.this_host(), "pid": os.getpid(), "command": "grid apply cluster.yaml",
        "since": osu.iso(now - timedelta(minutes=5)), "lease_seconds": 300.0,
        "lease_until": osu.iso(now + timedelta(minutes=5)), "pid_start": osu.process_start(os.getpid()),
        "token": "theirs"}
    fields.update(overrides)
    (workdir / LOCK_FILE).write_text(json.dumps(fields))
    return LockHolder(**fields)


def _dead_pid() -> int:
    child = subprocess.Popen(["sleep", "0"])
    child.wait()
    return child.pid


def test_acquire_and_release(tmp_path: Path) -> None:
    lock = StateLock(tmp_path, "grid apply x.yaml")
    holder = lock.acquire()
    on_disk = read_lock(tmp_path)
    assert on_disk == holder
    assert (holder.pid, holder.host, holder.command) == (os.getpid(), osu.this_host(), "grid apply x.yaml")
    assert datetime.fromisoformat(holder.lease_until) > datetime.fromisoformat(holder.since)
    assert oct((tmp_path / LOCK_FILE).stat().st_mode & 0o777) == oct(0o600)
    lock.release()
    assert read_lock(tmp_path) is None


def test_conflict_names_the_holder(tmp_path: Path) -> None:
    _write_lock(tmp_path, user="ana", host="gpu-login-2", pid=4242, since="2026-11-29T06:00:00Z")
    with pytest.raises(LockHeld) as caught:
        StateLock(tmp_path, "grid plan").acquire()
    message = caught.value.message
    assert "ana@gpu-login-2 pid 4242" in message
    assert "'grid apply cluster.yaml'" in message
    assert "since 2026-11-29T06:00:00Z" in message
    assert caught.value.status == "live" and caught.value.holder.pid == 4242


def test_lock_of_a_dead_process_on_this_host_is_stale_and_breakable(tmp_path: Path) -> None:
    _write_lock(tmp_path, pid=_dead_pid(), pid_start=None)
    with pytest.raises(LockHeld) as caught:
        StateLock(tmp_path, "grid apply").acquire()  # stale, but not broken unless asked
    assert caught.value.status == "stale"
    assert "process is gone" in caught.value.hint and "grid state unlock" in caught.value.hint
    holder = StateLock(tmp_path, "grid apply").acquire(break_stale=True)
    assert read_lock(tmp_path) == holder


def test_lock_of_a_live_process_is_not_breakable(tmp_path: Path) -> None:
    _write_lock(tmp_path)  # our own pid and start time: alive, even with an expired lease
    _write_lock(tmp_path, lease_until=osu.iso(datetime.now(UTC) - timedelta(hours=1)))
    with pytest.raises(LockHeld) as caught:
        StateLock(tmp_path, "grid apply").acquire(break_stale=True)
    assert caught.value.status == "live"
    with pytest.raises(LockHeld, match="still running"):
        unlock(tmp_path)
    assert read_lock(tmp_path) is not None


def test_reused_pid_is_detected_by_start_time(tmp_path: Path) -> None:
    real = osu.process_start(os.getpid())
    assert real is not None, "this test needs /proc"
    holder = _write_lock(tmp_path, pid_start=real - 1)  # same pid, different process
    assert assess(holder) == "stale"
    StateLock(tmp_path, "grid apply").acquire(break_stale=True)


def test_other_host_lock_is_breakable_only_after_its_lease(tmp_path: Path) -> None:
    live = _write_lock(tmp_path, host="elsewhere", pid=1)
    assert assess(live) == "live"
    with pytest.raises(LockHeld) as caught:
        StateLock(tmp_path, "grid apply").acquire(break_stale=True)
    assert "--force" in caught.value.hint
    expired = _write_lock(tmp_path, host="elsewhere", pid=1,
                          lease_until=osu.iso(datetime.now(UTC) - timedelta(seconds=1)))
    assert assess(expired) == "expired"
    StateLock(tmp_path, "grid apply").acquire(break_stale=True)


def test_unreadable_lock_file_is_held_briefly_then_stale(tmp_path: Path) -> None:
    path = tmp_path / LOCK_FILE
    path.write_bytes(b"")  # a holder that died between create and write
    with pytest.raises(LockHeld, match="unreadable"):
        StateLock(tmp_path, "grid apply").acquire(break_stale=True)
    old = time.time() - 60
    os.utime(path, (old, old))
    StateLock(tmp_path, "grid apply").acquire(break_stale=True)


def test_unlock(tmp_path: Path) -> None:
    assert unlock(tmp_path) is None
    _write_lock(tmp_path, pid=_dead_pid())
    removed = unlock(tmp_path)
    assert removed is not None and removed.user == "ana"
    _write_lock(tmp_path, host="elsewhere", pid=1)
    with pytest.raises(LockHeld, match="lease runs until"):
        unlock(tmp_path)
    forced = unlock(tmp_path, force=True)
    assert forced is not None and forced.host == "elsewhere"
    assert read_lock(tmp_path) is None


def test_renew_extends_the_lease_and_detects_a_takeover(tmp_path: Path) -> None:
    lock = StateLock(tmp_path, "grid apply", lease_seconds=60)
    first = lock.acquire()
    backdated = _backdate(tmp_path, seconds=30)
    renewed = lock.renew()
    assert renewed.lease_until > backdated
    assert read_lock(tmp_path) == renewed
    assert renewed.since == first.since and renewed.token == first.token
    _write_lock(tmp_path, user="bob", token="bobs")  # someone force-unlocked and took it
    with pytest.raises(LockLost, match="bob@"):
        lock.renew()
    lock.release()
    survivor = read_lock(tmp_path)
    assert survivor is not None and survivor.user == "bob"  # release never removes a successor's lock


def _backdate(workdir: Path, *, seconds: int) -> str:
    data = json.loads((workdir / LOCK_FILE).read_text())
    data["lease_until"] = osu.iso(datetime.fromisoformat(data["lease_until"]) - timedelta(seconds=seconds))
    (workdir / LOCK_FILE).write_text(json.dumps(data))
    return str(data["lease_until"])


def test_held_lock_renews_in_the_background_and_releases(tmp_path: Path) -> None:
    with held_lock(tmp_path, "grid apply", lease_seconds=0.3) as lock:
        assert lock.holder is not None
        first_until = lock.holder.lease_until
        deadline = time.monotonic() + 5
        while lock.holder.lease_until == first_until and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock.holder.lease_until > first_until, "lease was never renewed"
        lock.check()
    assert read_lock(tmp_path) is None


def test_held_lock_reports_a_lost_lock(tmp_path: Path) -> None:
    with held_lock(tmp_path, "grid apply", lease_seconds=0.3) as lock:
        _write_lock(tmp_path, user="bob", token="bobs")
        deadline = time.monotonic() + 5
        while lock.lost is None and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(LockLost):
            lock.check()
    assert read_lock(tmp_path) is not None  # bob's lock survives our release


def _contend(workdir: str, break_stale: bool, start: Any, results: Any) -> None:
    start.wait()
    try:
        won = StateLock(Path(workdir), f"contender {os.getpid()}").acquire(break_stale=break_stale)
        results.put(f"won: {won.command}")
    except LockHeld as exc:
        results.put(f"lost to: {exc.holder.command if exc.holder else None}")


def _race(workdir: Path, *, break_stale: bool, contenders: int = 8) -> list[str]:
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(str(workdir), break_stale, start, results))
             for _ in range(contenders)]
    for proc in procs:
        proc.start()
    time.sleep(0.2)  # let every child reach the start line
    start.set()
    outcome = [results.get(timeout=30) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    # The winners have exited: their locks are stale now, which is fine for counting.
    return outcome


def test_eight_processes_racing_for_a_free_lock_one_wins_and_the_others_name_it(tmp_path: Path) -> None:
    for round_ in range(5):  # the window a loser could read a created-but-unwritten lock is short
        workdir = tmp_path / f"round{round_}"
        workdir.mkdir()
        outcome = _race(workdir, break_stale=False)
        winners = [o.removeprefix("won: ") for o in outcome if o.startswith("won: ")]
        assert len(winners) == 1, outcome
        assert outcome.count(f"lost to: {winners[0]}") == len(outcome) - 1, outcome


def test_eight_processes_breaking_one_stale_lock_one_wins(tmp_path: Path) -> None:
    _write_lock(tmp_path, pid=_dead_pid(), pid_start=None)
    outcome = _race(tmp_path, break_stale=True)
    assert len([o for o in outcome if o.startswith("won")]) == 1, outcome
