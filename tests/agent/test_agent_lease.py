"""One active agent per region (grid.agent.lease) on the file backend and the test PostgreSQL: exactly one of
two agents is active; a stuck or killed active agent loses the lease to the standby; a partition from the
database fences the agent before its lease runs out in the database, and its state writes are refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from grid.agent.lease import AgentLease, AgentRecord, LeaseLost, agents, heartbeat
from grid.apply.statewriter import StateWriter, fenced_writes
from grid.state import PostgresStateStore, State, StateError
from support.postgres import PASSWORD, PgServer
from support.tcpproxy import TcpProxy

LEASE = 3.0  # seconds: short for the test, long enough for a loaded 2-core machine


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `check` until it is true; the seconds it took. Fails the test after `timeout`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            pytest.fail(f"not within {timeout}s: {what}")
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture(params=["file", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    if request.param == "file":
        return None
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def leases(location: str | None, tmp_path: Path) -> Iterator[Callable[[str], AgentLease]]:
    made: list[AgentLease] = []

    def make(agent: str, *, region: str = "east", where: str | None = location) -> AgentLease:
        lease = AgentLease(where, tmp_path, "c1", region, agent, LEASE)
        made.append(lease)
        return lease

    yield make
    for lease in made:
        lease.release()


def test_exactly_one_of_two_agents_is_active(leases: Callable[..., AgentLease]) -> None:
    a, b = leases("a"), leases("b")
    assert a.try_acquire() and a.active
    assert not b.try_acquire() and not b.active
    assert b.standby_of is not None and "grid agent a" in b.standby_of.command
    a.fence()
    with pytest.raises(LeaseLost, match="not the active agent of region east"):
        b.fence()
    # Renewed in the background: still the only active one well past a lease.
    time.sleep(LEASE * 1.5)
    assert a.active and a.try_acquire() and not b.try_acquire()
    # Another region is a lease of its own.
    assert leases("b", region="west").try_acquire()
    # Released: the standby takes over at once.
    a.release()
    assert not a.active and b.try_acquire()
    with pytest.raises(LeaseLost):
        a.fence()


_HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from grid.agent.lease import AgentLease
    lease = AgentLease(sys.argv[1] or None, Path(sys.argv[2]), "c1", "east", "stuck", float(sys.argv[3]))
    assert lease.try_acquire()
    print("active", flush=True)
    while True:
        time.sleep(0.05)
        print("active" if lease.active else "passive", flush=True)
""")


def start_holder(location: str | None, workdir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, location or "", str(workdir), str(LEASE)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "active"
    return proc


def test_a_stuck_active_agent_loses_the_lease_after_it_runs_out(
        location: str | None, tmp_path: Path, leases: Callable[..., AgentLease]) -> None:
    stuck = start_holder(location, tmp_path)
    try:
        standby = leases("standby")
        assert not standby.try_acquire()
        os.kill(stuck.pid, signal.SIGSTOP)  # alive, but renewing nothing: a hung agent
        stopped = time.monotonic()
        waited = wait_until(standby.try_acquire, LEASE * 3, "the standby takes over")
        assert time.monotonic() - stopped >= LEASE / 3  # not before the last renewal's lease ran out
        assert waited <= LEASE + 1.5
        os.kill(stuck.pid, signal.SIGCONT)  # it wakes up, finds the lease gone and stands by
        assert stuck.stdout is not None
        deadline = time.monotonic() + LEASE * 2
        while (line := stuck.stdout.readline().strip()) != "passive":
            assert time.monotonic() < deadline, line
        assert standby.active
    finally:
        stuck.kill()
        stuck.wait()


def test_a_killed_active_agent_is_replaced_within_the_lease(
        location: str | None, tmp_path: Path, leases: Callable[..., AgentLease]) -> None:
    killed = start_holder(location, tmp_path)
    standby = leases("standby")
    assert not standby.try_acquire()
    killed.kill()  # SIGKILL: no release
    killed.wait()
    assert wait_until(standby.try_acquire, LEASE, "the standby takes over") < LEASE


def test_heartbeats_list_every_agent(location: str | None, tmp_path: Path) -> None:
    heartbeat(location, tmp_path, "c1", AgentRecord("east-1", ("east",), ("east",), "abc123", "applied"))
    heartbeat(location, tmp_path, "c1", AgentRecord("east-2", ("east",), result="standby"))
    heartbeat(location, tmp_path, "c1", AgentRecord("east-1", ("east",), ("east",), "def456", "no-change",
                                                    source="file:///srv/spec.git#main:cluster.yaml"))
    other_cluster = tmp_path / "other"  # a file state's directory is one cluster's
    other_cluster.mkdir()
    heartbeat(location, other_cluster, "other", AgentRecord("x", ("west",)))
    found = agents(location, tmp_path, "c1")
    assert [(r.agent, r.role, r.commit, r.result) for r in found] == [
        ("east-1", "active", "def456", "no-change"), ("east-2", "passive", "", "standby")]
    assert all(r.at and r.pid == os.getpid() for r in found)
    assert found[0].source == "file:///srv/spec.git#main:cluster.yaml"
    with pytest.raises(StateError, match="agent name"):
        heartbeat(location, tmp_path, "c1", AgentRecord("../evil", ("east",)))


def test_a_partitioned_agent_stops_acting_before_its_lease_expires_and_never_writes(
        pg_server: PgServer, pg_url: str, tmp_path: Path) -> None:
    cluster, key = "c1", "c1/agent/east"
    with TcpProxy("127.0.0.1", pg_server.port) as proxy:
        cut_off_url = proxy.url_for(pg_url, pg_server.port)
        old = AgentLease(cut_off_url, tmp_path, cluster, "east", "old", LEASE)
        new = AgentLease(pg_url, tmp_path, cluster, "east", "new", LEASE)
        try:
            assert old.try_acquire() and not new.try_acquire()
            old_store = PostgresStateStore(cut_off_url, cluster)
            StateWriter(old_store, None, State(cluster=cluster), fence=old.fence).update(lambda s: s)
            written = PostgresStateStore(pg_url, cluster).read()
            assert written is not None and written.serial == 1

            proxy.pause()
            wait_until(lambda: not old.active, LEASE, "the cut-off agent stops acting")
            with psycopg.connect(pg_url) as conn:  # the database's clock: its lease has not run out yet
                row = conn.execute("SELECT lease_until > clock_timestamp() FROM grid_lock WHERE cluster = %s",
                                   (key,)).fetchone()
            assert row == (True,)
            assert not new.try_acquire()  # so nobody else may act yet: there is never a moment with two
            with pytest.raises(LeaseLost, match="could not be renewed in time"):
                old.fence()

            wait_until(new.try_acquire, LEASE * 2, "the standby takes over once the lease expired")
            proxy.resume()
            wait_until(lambda: old.last_error == "taken over by another agent", 15,
                       "the old agent learns it lost the lease")
            assert not old.try_acquire() and not old.active
            with fenced_writes(old.fence), pytest.raises(LeaseLost):
                StateWriter(old_store, written, written.state).update(
                    lambda s: s.model_copy(update={"spec_digest": "sha256:" + "0" * 64}))
            after = PostgresStateStore(pg_url, cluster).read()
            assert after is not None and after.serial == 1 and after.state == written.state
            assert new.active
        finally:
            old.release()
            new.release()


def test_no_password_in_the_lease_or_heartbeat_rows(pg_url: str, tmp_path: Path) -> None:
    lease = AgentLease(pg_url, tmp_path, "c1", "east", "a", LEASE)
    try:
        assert lease.try_acquire()
        heartbeat(pg_url, tmp_path, "c1", AgentRecord("a", ("east",), ("east",), "abc", "applied"))
        with psycopg.connect(pg_url) as conn:
            rows = conn.execute("SELECT row_to_json(l)::text FROM grid_lock l UNION ALL "
                                "SELECT row_to_json(a)::text FROM grid_agent a").fetchall()
        assert len(rows) == 2 and not any(PASSWORD in r[0] for r in rows)
        assert "***" in lease.where and PASSWORD not in lease.where
    finally:
        lease.release()


def test_dropped_connections_cost_nothing_while_the_database_answers(
        pg_server: PgServer, pg_url: str, tmp_path: Path) -> None:
    with TcpProxy("127.0.0.1", pg_server.port) as proxy:
        lease = AgentLease(proxy.url_for(pg_url, pg_server.port), tmp_path, "c1", "east", "a", LEASE)
        try:
            assert lease.try_acquire()
            for _ in range(4):  # the database restarted, a NAT forgot us: each renewal connects afresh
                proxy.drop()
                time.sleep(LEASE / 4)
                assert lease.active
            assert lease.try_acquire() and lease.last_error == ""
        finally:
            lease.release()
