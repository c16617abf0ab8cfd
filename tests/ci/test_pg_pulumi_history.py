"""Pulumi's history of a stack in the team database stays bounded, as in a directory (grid.drivers.pulumi_history):
its rows are keyed `<db>/.pulumi/history/<project>/<stack>/…` and `<db>/.pulumi/backups/…`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from grid.drivers.pulumi_history import prune_history
from grid.state import PostgresStateStore, pulumi_backend
from grid.state.postgres import PULUMI_TABLE
from support.pulumi_runs import PROJECT, STACK, pulumi_missing, run_pulumi_up


def _keys(pg_url: str, part: str, stack: str = STACK) -> list[str]:
    database = urlsplit(pg_url).path.lstrip("/")
    prefix = f"{database}/.pulumi/{part}/{PROJECT}/{stack}/"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return sorted(row[0] for row in conn.execute(
            f"SELECT key FROM {PULUMI_TABLE} WHERE starts_with(key, %s)", (prefix,)))


@pytest.mark.e2e
def test_a_real_stacks_history_in_postgres_is_pruned_and_pulumi_goes_on(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if reason := pulumi_missing():
        pytest.skip(reason)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    store = PostgresStateStore(pg_url, "c1")
    backend = pulumi_backend(store)
    for name, value in backend.env.items():  # as grid starts Pulumi: with the backend's environment
        monkeypatch.setenv(name, value)
    store.connect()
    home = tmp_path / "pulumi-home"
    for _ in range(3):
        ran = run_pulumi_up(backend.url, home)
        assert ran.returncode == 0, ran.stderr
    checkpoints = [k for k in _keys(pg_url, "history") if k.endswith(".checkpoint.json")]
    assert len(checkpoints) == 3  # where Pulumi really writes them
    other = urlsplit(pg_url).path.lstrip("/") + f"/.pulumi/history/{PROJECT}/west/west-1.checkpoint.json"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"INSERT INTO {PULUMI_TABLE} (key, data) VALUES (%s, '{{}}')", (other,))
    monkeypatch.delenv("PGPASSWORD")

    removed = prune_history(backend.url, PROJECT, STACK, history_kept=2, checkpoints_kept=1, env=backend.env)

    history = _keys(pg_url, "history")
    assert len([k for k in history if k.endswith(".history.json")]) == 2
    assert [k for k in history if k.endswith(".checkpoint.json")] == checkpoints[-1:]
    assert len(_keys(pg_url, "backups")) <= 1 and checkpoints[0] in removed
    assert _keys(pg_url, "history", "west") == [other]  # another stack's rows stay
    monkeypatch.setenv("PGPASSWORD", backend.env["PGPASSWORD"])
    ran = run_pulumi_up(backend.url, home)
    assert ran.returncode == 0, ran.stderr


def test_the_database_away_leaves_everything_and_raises_nothing() -> None:
    url = "postgres://grid@127.0.0.1:9/grid?sslmode=disable"  # the discard port: nothing listens there
    assert prune_history(url, PROJECT, STACK) == []
