"""A `pulumi up` killed mid-way (or cut off by a database outage) leaves its lock in the team database; the
next run clears it, and only it (issue 12 #5).

Pulumi's postgres blob driver keys rows by the backend URL's path (the database name) as a prefix —
`<db>/.pulumi/locks/<org>/<project>/<stack>/<id>.json` — and stores {"data": "<base64 of the lock JSON>"}.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg.types.json import Json

from grid.drivers.pulumi_automation import AutomationEngine
from grid.drivers.pulumi_locks import clear_stale_locks
from grid.state import PostgresStateStore, State, StateError, pulumi_backend
from grid.state.postgres import PULUMI_TABLE
from support.postgres import PgServer, missing_reason
from support.pulumi_runs import PROJECT, STACK, kill_pulumi_holding_its_lock, pulumi_missing, run_pulumi_up

GONE = 1 << 22  # above any pid_max: no such process


def _lock_key(pg_url: str, stack: str, lock_id: str) -> str:
    database = urlsplit(pg_url).path.lstrip("/")
    return f"{database}/.pulumi/locks/organization/{PROJECT}/{stack}/{lock_id}.json"


def _pulumi_row(pid: int, host: str) -> Json:
    lock = {"pid": pid, "username": "ci", "hostname": host, "timestamp": "2026-01-01T00:00:00Z"}
    return Json({"data": base64.b64encode(json.dumps(lock).encode()).decode()})


def _lock_keys(pg_url: str) -> set[str]:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return {row[0] for row in conn.execute(f"SELECT key FROM {PULUMI_TABLE} WHERE key LIKE '%%/locks/%%'")}


def test_stale_pulumi_locks_in_postgres_are_cleared_and_live_ones_kept(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    store = PostgresStateStore(pg_url, "c1")
    backend = pulumi_backend(store)  # the password goes in PGPASSWORD, for Pulumi's processes only
    store.connect()  # creates grid's tables, Pulumi's among them
    assert "password" not in backend.url and backend.env.get("PGPASSWORD") and not os.environ.get("PGPASSWORD")
    here = socket.gethostname()
    live = subprocess.Popen(["bash", "-c", "exec -a pulumi sleep 60"])  # a running `pulumi` to /proc
    try:
        rows = {
            "dead": (_lock_key(pg_url, STACK, "dead"), _pulumi_row(GONE, here), "now()"),
            "reused": (_lock_key(pg_url, STACK, "reused"), _pulumi_row(os.getpid(), here), "now()"),
            "torn": (_lock_key(pg_url, STACK, "torn"), Json({"data": "eyJwaWQi"}), "now()"),
            "old-elsewhere": (_lock_key(pg_url, STACK, "old"), _pulumi_row(1, "ci-7"), "now() - interval '2 hours'"),
            "live": (_lock_key(pg_url, STACK, "live"), _pulumi_row(live.pid, here), "now()"),
            "elsewhere": (_lock_key(pg_url, STACK, "other"), _pulumi_row(1, "ci-7"), "now() - interval '5 seconds'"),
            "other-stack": (_lock_key(pg_url, "west", "dead"), _pulumi_row(GONE, here), "now()"),
            "unprefixed": (f".pulumi/locks/organization/{PROJECT}/{STACK}/x.json", _pulumi_row(GONE, here), "now()"),
        }
        with psycopg.connect(pg_url, autocommit=True) as conn:
            for key, data, written in rows.values():
                conn.execute(f"INSERT INTO {PULUMI_TABLE} (key, data, updated_at) VALUES (%s, %s, {written})",
                             (key, data))
        engine = AutomationEngine(project=PROJECT, target="local", workdir=tmp_path, backend_url=backend.url,
                                  passphrase_file=tmp_path / "pp", env=backend.env)
        removed = {str(p) for p in engine._clear_stale_locks(STACK)}  # what `grid up` runs before Pulumi
    finally:
        live.kill()
        live.wait()
    stale = {"dead", "reused", "torn", "old-elsewhere"}
    assert removed == {rows[name][0] for name in stale}
    assert _lock_keys(pg_url) == {rows[name][0] for name in rows if name not in stale}


@pytest.mark.e2e
def test_the_lock_of_a_killed_pulumi_is_cleared_and_the_next_run_converges(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if reason := pulumi_missing():
        pytest.skip(reason)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    store = PostgresStateStore(pg_url, "c1")
    backend_env = pulumi_backend(store)
    backend = backend_env.url
    for name, value in backend_env.env.items():  # as grid starts Pulumi: with the backend's environment
        monkeypatch.setenv(name, value)
    store.connect()
    home = tmp_path / "pulumi-home"
    assert run_pulumi_up(backend, home).returncode == 0
    kill_pulumi_holding_its_lock(backend, home, lambda: bool(_lock_keys(pg_url)))
    [key] = _lock_keys(pg_url)
    assert key.startswith(_lock_key(pg_url, STACK, "")[:-len(".json")])  # where Pulumi really writes it
    blocked = run_pulumi_up(backend, home)
    assert blocked.returncode != 0 and "currently locked" in blocked.stderr

    assert [str(p) for p in clear_stale_locks(backend, PROJECT, STACK)] == [key]
    ran = run_pulumi_up(backend, home)
    assert ran.returncode == 0, ran.stderr


RUN = textwrap.dedent("""
    import sys, time
    from grid.state import PostgresStateStore, State
    from support.pulumi_runs import pulumi_up
    store = PostgresStateStore(sys.argv[1], "c1")
    with store.lock("grid up", lease_seconds=600):
        envelope = store.read()
        store.write(State(cluster="c1", outputs={"step": "before pulumi"}), envelope.serial if envelope else 0)
        pulumi_up(sys.argv[2], sys.argv[3], hold_seconds=600, own_session=False).wait()
""")


@pytest.mark.e2e
def test_a_database_outage_during_pulumi_leaves_nothing_wedged(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`pg_ctl stop -m immediate` while a run holds grid's lock and Pulumi's; the run dies; once the
    database is back the next run takes both locks over and converges, with no `unlock` or `pulumi cancel`."""
    if reason := missing_reason() or pulumi_missing():
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="grid-pg-outage-"))
    root.chmod(0o755)  # the server runs as the postgres user
    server = PgServer(root / "pg")
    server.start()
    try:
        url = server.create_database()
        monkeypatch.delenv("PGPASSWORD", raising=False)
        store = PostgresStateStore(url, "c1", lease_seconds=600)
        backend_env = pulumi_backend(store)
        backend = backend_env.url
        for name, value in backend_env.env.items():  # as grid starts Pulumi: with the backend's environment
            monkeypatch.setenv(name, value)
        store.write(State(cluster="c1", outputs={"step": "first"}), 0)
        home = tmp_path / "pulumi-home"
        assert run_pulumi_up(backend, home).returncode == 0
        tests = str(Path(__file__).resolve().parents[1])
        run = subprocess.Popen([sys.executable, "-c", RUN, url, backend, str(home)], stdout=subprocess.PIPE,
                               text=True, start_new_session=True, env={**os.environ, "PYTHONPATH": tests})
        deadline = time.monotonic() + 120
        while not _lock_keys(url):
            assert run.poll() is None and time.monotonic() < deadline, "the run never reached Pulumi"
            time.sleep(0.1)

        server.stop()  # pg_ctl stop -m immediate
        with pytest.raises(StateError) as outage:
            PostgresStateStore(url, "c1").read()
        assert "cannot connect to the state database" in outage.value.message and outage.value.hint
        os.killpg(run.pid, signal.SIGKILL)  # the run dies in the outage (its runner is gone)
        run.communicate()
        server.restart()

        next_store = PostgresStateStore(url, "c1", lease_seconds=600)
        assert next_store.lock_status() == "stale"  # its holder is known dead: no waiting out 600 s
        with next_store.lock("grid up", break_stale=True):
            assert len(clear_stale_locks(backend, PROJECT, STACK)) == 1
            ran = run_pulumi_up(backend, home)
            assert ran.returncode == 0, ran.stderr
            current = next_store.read()
            assert current is not None and current.state.outputs == {"step": "before pulumi"}
            next_store.write(State(cluster="c1", outputs={"step": "converged"}), current.serial)
        assert next_store.lock_holder() is None and not _lock_keys(url)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
