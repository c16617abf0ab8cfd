"""A `pulumi up` killed mid-way leaves its lock in the team database; the next run clears it, and only it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Json

from grid.drivers.pulumi_automation import AutomationEngine
from grid.state.postgres import PULUMI_TABLE, PostgresStateStore, pulumi_backend


def test_stale_pulumi_locks_in_postgres_are_cleared_and_live_ones_kept(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    store = PostgresStateStore(pg_url, "c1")
    store.connect()  # creates grid's tables, Pulumi's among them
    backend = pulumi_backend(store)  # creates the tables; puts the password in PGPASSWORD for Pulumi
    assert backend is not None and "password" not in backend and os.environ.get("PGPASSWORD")
    here, gone = socket.gethostname(), 1 << 22  # above any pid_max: no such process
    locks = {
        "dead": (".pulumi/locks/organization/grid-c1/east/dead.json", {"pid": gone, "hostname": here}),
        "elsewhere": (".pulumi/locks/organization/grid-c1/east/other.json", {"pid": 1, "hostname": "ci-7"}),
        "other-stack": (".pulumi/locks/organization/grid-c1/west/dead.json", {"pid": gone, "hostname": here}),
    }
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for key, content in locks.values():
            conn.execute(f"INSERT INTO {PULUMI_TABLE} (key, data) VALUES (%s, %s)", (key, Json(content)))

    engine = AutomationEngine(project="grid-c1", target="local", workdir=tmp_path, backend_url=backend,
                              passphrase_file=tmp_path / "pp")
    removed = engine._clear_stale_locks("east")

    assert [str(p) for p in removed] == [locks["dead"][0]]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        left = {row[0] for row in conn.execute(f"SELECT key FROM {PULUMI_TABLE}")}
    assert left == {locks["elsewhere"][0], locks["other-stack"][0]}
