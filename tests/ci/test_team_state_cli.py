"""Team state through the CLI with a real PostgreSQL server: a killed holder's lease running out, `grid state`
on the database, and `grid state migrate` file → postgres → file keeping the state's checksum."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grid.state import FileStateStore, PostgresStateStore, State, append_history, history_entry, workdir_for
from support.cli import grid
from support.postgres import PASSWORD
from support.specs import lab_spec

pytestmark = pytest.mark.e2e

HOLDER = textwrap.dedent("""
    import sys, time
    from grid.state import PostgresStateStore, _osutil
    if sys.argv[4]:
        _osutil.this_host = lambda: sys.argv[4]  # a runner on another machine (the name its lock records)
    with PostgresStateStore(sys.argv[1], sys.argv[2]).lock("grid up", lease_seconds=float(sys.argv[3])):
        print("locked", flush=True)
        time.sleep(600)
""")


def _killed_holder(pg_url: str, name: str, host: str = "") -> int:
    """A runner that takes the lock and dies holding it (nobody will release it); its pid."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, pg_url, name, "10", host], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    return holder.pid


def test_a_runner_killed_on_this_host_is_taken_over_at_once(tmp_path: Path, pg_url: str) -> None:
    spec, name = lab_spec(tmp_path)
    _killed_holder(pg_url, name)
    run = grid("destroy", str(spec), "--yes", "--json", env={"GRID_STATE": pg_url})
    assert run.code == 0, run.output  # its process is provably gone: no lease to wait for
    assert json.loads(run.stdout)["outcome"] == "destroyed"
    assert PostgresStateStore(pg_url, name).lock_holder() is None


def test_a_runner_killed_on_another_host_blocks_others_until_its_lease_runs_out(tmp_path: Path,
                                                                                   pg_url: str) -> None:
    spec, name = lab_spec(tmp_path)
    pid = _killed_holder(pg_url, name, host="runner-elsewhere")
    env = {"GRID_STATE": pg_url}
    run = grid("destroy", str(spec), "--yes", env=env)
    assert run.code == 1
    assert "the state is locked by" in run.stderr and f"pid {pid} running 'grid up'" in run.stderr
    assert "lease runs until" in run.stderr and PASSWORD not in run.output
    run = grid("state", "unlock", str(spec), env=env)
    assert run.code == 1 and "its lease runs until" in run.stderr  # not expired yet: only --force would
    deadline = time.monotonic() + 30
    while PostgresStateStore(pg_url, name).lock_status() != "expired":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    run = grid("destroy", str(spec), "--yes", "--json", env=env)  # takes the expired lock over
    assert run.code == 0, run.output
    assert json.loads(run.stdout)["outcome"] == "destroyed"
    assert PostgresStateStore(pg_url, name).lock_holder() is None


def test_state_commands_work_on_the_database(tmp_path: Path, pg_url: str) -> None:
    spec, name = lab_spec(tmp_path)
    store = PostgresStateStore(pg_url, name)
    envelope = store.write(State(cluster=name), 0)
    for n in range(2, 5):
        envelope = store.write(append_history(State(cluster=name, outputs={"n": n}),
                                              history_entry(envelope.serial + 1, f"grid up #{n}")), envelope.serial)
    args = ("--state", pg_url)
    run = grid("state", "history", str(spec), *args)
    assert run.code == 0 and "grid up #4" in run.stdout
    pulled = grid("state", "pull", str(spec), *args)
    assert pulled.code == 0 and json.loads(pulled.stdout)["serial"] == 4
    run = grid("state", "restore", str(spec), *args)
    assert run.code == 0 and "current: serial 4 (checksum ok)" in run.stdout and "     3  " in run.stdout
    run = grid("state", "restore", str(spec), "2", *args)
    assert run.code == 0 and "restored backup serial 2" in run.stdout and "as serial 5" in run.stdout
    assert store.read().state.outputs == {"n": 2}  # type: ignore[union-attr]
    run = grid("state", "list", str(spec), "--state", pg_url.replace(PASSWORD, "wrong"))
    assert run.code == 1 and "password authentication failed" in run.stderr
    assert "postgres://grid:***@127.0.0.1" in run.stderr and "wrong" not in run.stderr


def test_migrate_file_to_postgres_to_file_keeps_the_checksum(tmp_path: Path, pg_url: str) -> None:
    spec, name = lab_spec(tmp_path)
    workdir = workdir_for(spec, None, name)
    local = FileStateStore(workdir)
    first = local.write(append_history(State(cluster=name, outputs={"n": 1}), history_entry(1, "grid up")), 0)
    original = json.loads((workdir / "state.json").read_text())

    run = grid("state", "migrate", str(spec), "--to", pg_url, "--json")
    assert run.code == 0, run.output
    doc = json.loads(run.stdout)
    assert (doc["checksum"], doc["serial"], doc["lineage"]) == (first.checksum, 1, first.lineage)
    assert doc["verified"] is True and doc["to"] == pg_url.replace(PASSWORD, "***") and PASSWORD not in run.output
    team = PostgresStateStore(pg_url, name)
    assert team.pull() == (workdir / "state.json").read_bytes()  # byte for byte

    # The team works on: serial 2 in the database. Then the state comes back to the work directory.
    moved_on = team.write(append_history(team.read().state, history_entry(2, "grid apply")), 1)  # type: ignore[union-attr]
    run = grid("state", "migrate", str(spec), "--state", pg_url, "--to", "file")
    assert run.code == 0, run.output
    assert f"checksum {moved_on.checksum} verified identical" in run.stdout
    back = json.loads((workdir / "state.json").read_text())
    assert (back["checksum"], back["serial"], back["lineage"]) == (moved_on.checksum, 2, original["lineage"])
    assert json.loads((workdir / "backups" / "state.1.json").read_text())["checksum"] == original["checksum"]
    assert FileStateStore(workdir).read() is not None  # verifies

    # Again: nothing to do. Into a location with another history: refused.
    run = grid("state", "migrate", str(spec), "--state", pg_url, "--to", "file")
    assert run.code == 0 and "already held" in run.stdout
    other = PostgresStateStore(pg_url, name + "x")
    assert other.read() is None
    local.write(State(cluster=name, outputs={"diverged": True}), 2)  # the file state moves on alone (serial 3)
    run = grid("state", "migrate", str(spec), "--state", pg_url, "--to", "file")
    assert run.code == 1 and "newer or diverged version" in run.stderr
    run = grid("state", "migrate", str(spec), "--to", "file")
    assert run.code == 1 and "already kept in" in run.stderr
