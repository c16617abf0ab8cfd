"""The lease, written once over a backend's lock record (grid.state.lease), here over a record in memory."""

from __future__ import annotations

import dataclasses
import os
import time

import pytest

from grid.state import LockHeld, LockHolder, LockLost
from grid.state import _osutil as osu
from grid.state.lease import Lease, held, judge


class MemoryRecord:
    """A lock record as a backend keeps one: claimed, extended, dropped by token."""

    def __init__(self) -> None:
        self.holder: LockHolder | None = None
        self.extended = 0

    def claim(self, command: str, lease_seconds: float, token: str, *, break_stale: bool) -> LockHolder:
        if self.holder is not None and not break_stale:
            raise LockHeld("held", holder=self.holder, status="live")
        self.holder = LockHolder("me", osu.this_host(), os.getpid(), command, "t0", lease_seconds, "t1", token=token)
        return self.holder

    def extend(self, holder: LockHolder) -> LockHolder | None:
        if self.holder is None or self.holder.token != holder.token:
            return None
        self.extended += 1
        self.holder = dataclasses.replace(holder, lease_until=f"t{self.extended + 1}")
        return self.holder

    def drop(self, holder: LockHolder) -> None:
        if self.holder is not None and self.holder.token == holder.token:
            self.holder = None

    def current(self) -> LockHolder | None:
        return self.holder


def test_a_held_lease_is_renewed_in_the_background_and_released() -> None:
    record = MemoryRecord()
    with held(Lease(record, "grid up", lease_seconds=0.15)) as lease:
        time.sleep(0.4)
        assert record.extended >= 2 and lease.holder == record.holder
        lease.check()
    assert record.holder is None


def test_a_lease_taken_over_is_lost_and_the_successor_kept() -> None:
    record = MemoryRecord()
    with held(Lease(record, "grid up", lease_seconds=0.15)) as lease:
        successor = Lease(record, "grid apply", lease_seconds=30)
        successor.acquire(break_stale=True)
        deadline = time.monotonic() + 5
        while lease.lost is None and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(LockLost, match=r"now held by .*'grid apply'"):
            lease.check()
    assert record.holder == successor.holder, "the loser's release never removes the successor's lock"


def test_renewing_a_lease_never_held_is_refused() -> None:
    with pytest.raises(LockLost, match="not held"):
        Lease(MemoryRecord(), "x", lease_seconds=1).renew()
    with pytest.raises(ValueError):
        Lease(MemoryRecord(), "x", lease_seconds=0)


def test_a_holder_gone_from_this_host_is_stale_whatever_its_lease() -> None:
    here = LockHolder("me", osu.this_host(), 2**22 + 7, "grid up", "t", 60, "t")  # no such pid
    alive = dataclasses.replace(here, pid=os.getpid(), pid_start=osu.process_start(os.getpid()))
    elsewhere = dataclasses.replace(here, host="ci-runner-7.invalid")
    assert judge(here, lease_expired=False, seen_running_is_live=False) == "stale"
    assert judge(alive, lease_expired=True, seen_running_is_live=True) == "live"
    assert judge(alive, lease_expired=True, seen_running_is_live=False) == "expired"
    assert judge(elsewhere, lease_expired=False, seen_running_is_live=True) == "live"
    assert judge(elsewhere, lease_expired=True, seen_running_is_live=True) == "expired"
