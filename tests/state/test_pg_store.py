"""PostgresStateStore against a real PostgreSQL server on loopback: the StateStore contract, the lease lock,
concurrent writers, backups/restore, and that the database password never shows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest

from grid.state import (
    BackupNotFound,
    LockHeld,
    LockLost,
    PostgresStateStore,
    State,
    StateConflict,
    StateError,
    StateStore,
    append_history,
    canonical_json,
    checksum_of,
    history_entry,
    open_store,
    pulumi_backend,
    redact,
)
from grid.state.codec import envelope_checksum
from grid.state.postgres import PULUMI_TABLE, password_of
from support.postgres import PASSWORD


def state(n: int, cluster: str = "c1") -> State:
    return append_history(State(cluster=cluster, spec_digest=f"sha256:{n:064x}", outputs={"n": n}),
                          history_entry(n, f"test {n}"))


@pytest.fixture
def store(pg_url: str) -> PostgresStateStore:
    return PostgresStateStore(pg_url, "c1", keep=3, lease_seconds=30)


def test_implements_the_protocol_and_round_trips(store: PostgresStateStore) -> None:
    typed: StateStore = store  # checked by mypy as well
    assert typed.read() is None and typed.pull() is None
    written = state(1)  # one value: its history entry is stamped with the second it is made in
    first = store.write(written, 0)
    assert (first.serial, len(first.lineage)) == (1, 36)
    again = PostgresStateStore(store.url, "c1").read()
    assert again is not None and again.state == written and again.lineage == first.lineage
    digest = checksum_of(canonical_json(written.model_dump(mode="json")))
    assert again.checksum == envelope_checksum(digest, serial=1, lineage=first.lineage)
    assert store.pull() is not None and store.pull().startswith(b'{"checksum":"sha256:')  # type: ignore[union-attr]


def test_serial_check_refuses_a_stale_writer(store: PostgresStateStore) -> None:
    store.write(state(1), 0)
    store.write(state(2), 1)
    with pytest.raises(StateConflict, match="serial 2 in the database, 1 expected"):
        PostgresStateStore(store.url, "c1").write(state(3), 1)


def test_concurrent_writers_are_serialised(store: PostgresStateStore) -> None:
    store.write(state(1), 0)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        mine = PostgresStateStore(store.url, "c1")
        barrier.wait()
        try:
            mine.write(state(10 + n), 1)
            outcomes.append("won")
        except StateConflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 7 + ["won"]
    assert store.read().serial == 2  # type: ignore[union-attr]


def test_clusters_are_separate(store: PostgresStateStore) -> None:
    store.write(state(1), 0)
    other = PostgresStateStore(store.url, "c2")
    assert other.read() is None
    other.write(state(5, "c2"), 0)
    assert store.read().state.outputs == {"n": 1}  # type: ignore[union-attr]


def test_backups_keep_the_last_n_and_restore_brings_one_back(store: PostgresStateStore) -> None:
    envelope = store.write(state(1), 0)
    for n in range(2, 7):
        envelope = store.write(state(n), envelope.serial)
    assert [b.serial for b in store.backups()] == [5, 4, 3]  # keep=3, newest first
    assert all(b.ok for b in store.backups())
    restored = store.restore(4, command="grid state restore 4")
    assert restored.envelope.serial == 7 and restored.from_serial == 4
    current = store.read()
    assert current is not None and current.state.outputs == {"n": 4}
    assert current.state.history[-1].command == "grid state restore 4"
    assert current.lineage == envelope.lineage
    with pytest.raises(BackupNotFound, match="available: 6, 5, 4"):
        store.restore(1)


def test_a_damaged_row_is_detected_not_trusted(store: PostgresStateStore) -> None:
    store.write(state(1), 0)
    with psycopg.connect(store.url, autocommit=True) as conn:
        conn.execute("UPDATE grid_state SET body = overlay(body placing 'X'::bytea from 200 for 1)")
    with pytest.raises(StateError, match=r"checksum|JSON|schema"):
        PostgresStateStore(store.url, "c1").read()


def test_the_lock_names_its_holder_and_is_released(store: PostgresStateStore) -> None:
    with store.lock("grid up") as held:
        assert held.holder is not None
        with pytest.raises(LockHeld) as caught, PostgresStateStore(store.url, "c1").lock("grid apply"):
            pass
        assert "the state is locked by" in caught.value.message and "'grid up'" in caught.value.message
        assert "lease runs until" in caught.value.hint
        assert store.lock_holder() == held.holder
    assert store.lock_holder() is None


def test_the_lease_is_renewed_while_the_holder_works(pg_url: str) -> None:
    store = PostgresStateStore(pg_url, "c1")
    with store.lock("grid up", lease_seconds=1.5) as held:
        first = held.holder
        time.sleep(2.5)  # longer than the lease: the renew thread keeps it alive
        assert store.lock_status() == "live"
        assert store.lock_holder().lease_until > first.lease_until  # type: ignore[union-attr]
        with pytest.raises(LockHeld):
            PostgresStateStore(pg_url, "c1").lock("other", break_stale=True).__enter__()


def test_an_expired_lease_is_taken_over_and_the_old_holder_learns_it(pg_url: str) -> None:
    from grid.state.pglock import PostgresLock

    store = PostgresStateStore(pg_url, "c1")
    old = PostgresLock(store, "grid up", lease_seconds=1)
    old.acquire()  # no renew thread: like a holder that stopped working
    with pytest.raises(LockHeld):
        PostgresLock(store, "grid apply", lease_seconds=30).acquire(break_stale=False)
    time.sleep(1.3)
    assert store.lock_status() == "expired"
    new = PostgresLock(store, "grid apply", lease_seconds=30)
    new.acquire(break_stale=True)
    with pytest.raises(LockLost, match=r"now held by .*'grid apply'"):
        old.renew()
    old.release()  # must not remove the successor's lock
    assert store.lock_holder() == new.holder
    new.release()


HOLDER = textwrap.dedent("""
    import sys, time
    from grid.state import PostgresStateStore
    store = PostgresStateStore(sys.argv[1], "c1")
    with store.lock("holder", lease_seconds=float(sys.argv[2])):
        print("locked", flush=True)
        time.sleep(600)
""")


def _killed_holder(pg_url: str, lease_seconds: float) -> int:
    """The pid of a grid process that took the lock and was then killed (SIGKILL: no release)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, pg_url, str(lease_seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    return holder.pid


def test_a_holder_killed_on_this_host_is_taken_over_at_once(pg_url: str) -> None:
    """Issue 12 #5: a holder known dead (same host, pid gone) no longer blocks for the whole lease."""
    dead = _killed_holder(pg_url, 600)
    store = PostgresStateStore(pg_url, "c1")
    assert store.lock_status() == "stale"
    with pytest.raises(LockHeld) as caught:
        store.lock("next").__enter__()  # without break_stale nothing is taken over
    assert caught.value.status == "stale" and f"pid {dead}" in caught.value.message
    assert "grid state unlock" in caught.value.hint
    started = time.monotonic()
    with store.lock("next", break_stale=True) as held:
        assert held.holder is not None and held.holder.pid == os.getpid()
    assert time.monotonic() - started < 5


def test_a_holder_killed_on_another_host_keeps_the_lock_until_its_lease_runs_out(pg_url: str) -> None:
    dead = _killed_holder(pg_url, 2)
    with psycopg.connect(pg_url, autocommit=True) as conn:  # as if it had run on a CI runner elsewhere
        conn.execute("UPDATE grid_lock SET host = 'ci-runner-7' WHERE cluster = 'c1'")
    store = PostgresStateStore(pg_url, "c1")
    with pytest.raises(LockHeld) as caught:
        store.lock("next", break_stale=True).__enter__()
    assert caught.value.status == "live" and f"pid {dead}" in caught.value.message
    deadline = time.monotonic() + 10
    while store.lock_status() != "expired":
        assert time.monotonic() < deadline, "the lease never ran out"
        time.sleep(0.2)
    with store.lock("next", break_stale=True) as held:
        assert held.holder is not None and held.holder.pid == os.getpid()


def test_unlock_removes_only_an_expired_lock_unless_forced(pg_url: str) -> None:
    from grid.state.pglock import PostgresLock

    store = PostgresStateStore(pg_url, "c1")
    PostgresLock(store, "grid up", lease_seconds=30).acquire()
    with pytest.raises(LockHeld, match="lease runs until"):
        store.unlock()
    assert store.unlock(force=True) is not None
    assert store.lock_holder() is None and store.unlock() is None


def test_the_password_is_never_shown(pg_server: object, pg_url: str) -> None:
    assert PASSWORD in pg_url
    assert redact(pg_url) == pg_url.replace(PASSWORD, "***")
    assert redact("postgres://u@h/db?password=x&sslmode=disable") == "postgres://u@h/db?password=***&sslmode=disable"
    wrong = pg_url.replace(PASSWORD, PASSWORD + "-wrong")
    with pytest.raises(StateError) as caught:
        PostgresStateStore(wrong, "c1").read()
    text = caught.value.message + caught.value.hint
    assert "password authentication failed" in text and PASSWORD not in text and "***" in text


def test_pulumi_gets_the_same_database_without_the_password(pg_url: str, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    store = PostgresStateStore(pg_url, "c1")
    backend = pulumi_backend(store)
    url = backend.url
    assert url is not None and PASSWORD not in url and PASSWORD not in repr(backend)
    assert url.startswith("postgres://grid@127.0.0.1:") and url.endswith(f"?sslmode=prefer&table={PULUMI_TABLE}")
    # For Pulumi's processes (its driver reads PGPASSWORD), not put in grid's own environment.
    assert backend.env["PGPASSWORD"] == password_of(pg_url) == PASSWORD and "PGPASSWORD" not in os.environ
    local = pulumi_backend(open_store(None, workdir=tmp_path, cluster="c1"))
    assert local.url == f"file://{tmp_path.resolve() / 'pulumi-backend'}" and not local.env
    with_mode = PostgresStateStore(pg_url + "?sslmode=disable", "c1").pulumi_backend_url()
    assert "sslmode=disable" in with_mode and "prefer" not in with_mode
    store.read()  # creates the tables, Pulumi's included, so region workers never race to create it
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass(%s) IS NOT NULL", (PULUMI_TABLE,)).fetchone() == (True,)


def test_open_store_picks_by_location(tmp_path: Path, pg_url: str) -> None:
    from grid.state import FileStateStore

    assert isinstance(open_store(None, workdir=tmp_path, cluster="c"), FileStateStore)
    assert isinstance(open_store("file", workdir=tmp_path, cluster="c"), FileStateStore)
    assert isinstance(open_store(pg_url, workdir=tmp_path, cluster="c"), PostgresStateStore)
    elsewhere = open_store(f"file://{tmp_path / 'other'}", workdir=tmp_path, cluster="c")
    assert isinstance(elsewhere, FileStateStore) and elsewhere.workdir == tmp_path / "other"
    with pytest.raises(StateError, match="unsupported state location 's3://b/k'"):
        open_store("s3://b/k", workdir=tmp_path, cluster="c")
