"""Callers ask a store for a role (grid.state.roles); backend selection returns what Pulumi needs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from grid.state import (
    FileStateStore,
    PulumiBackend,
    State,
    StateConflict,
    StateLocation,
    StateStore,
    open_store,
    pulumi_backend,
)


def _store(location: str | None, workdir: Path) -> StateStore:
    return open_store(location, workdir=workdir, cluster="c1")


def test_the_file_store_answers_every_role(tmp_path: Path) -> None:
    store = _store(None, tmp_path)
    assert store.where == str(tmp_path / "state.json") and not store.is_shared
    assert store.backup_location == str(tmp_path / "backups")
    assert store.lock_status() is None
    with store.lock("grid up"):
        assert store.lock_status() == "live"
    assert pulumi_backend(store) == PulumiBackend(f"file://{tmp_path.resolve() / 'pulumi-backend'}")


def test_state_kept_elsewhere_leaves_pulumi_in_the_work_directory(tmp_path: Path) -> None:
    store: StateLocation = _store(f"file://{tmp_path / 'elsewhere'}", tmp_path / "work")
    assert store.where == str(tmp_path / "elsewhere" / "state.json")
    assert store.pulumi_backend().url == f"file://{(tmp_path / 'work').resolve() / 'pulumi-backend'}"


def test_importing_an_envelope_keeps_it_byte_for_byte_and_refuses_another_lineage(tmp_path: Path) -> None:
    source = FileStateStore(tmp_path / "a")
    (tmp_path / "a").mkdir()
    source.write(State(cluster="c1", outputs={"n": 1}), 0)
    first = source.pull()
    source.write(State(cluster="c1", outputs={"n": 2}), 1)
    second = source.pull()
    assert first is not None and second is not None
    dest = FileStateStore(tmp_path / "b")
    (tmp_path / "b").mkdir()
    assert dest.import_envelope(first) is False
    assert dest.import_envelope(first) is True, "the very same version is already there"
    assert dest.import_envelope(second) is False and dest.pull() == second
    assert (tmp_path / "b" / "backups" / "state.1.json").read_bytes() == first
    other = FileStateStore(tmp_path / "c")
    (tmp_path / "c").mkdir()
    other.write(State(cluster="c1"), 0)
    with pytest.raises(StateConflict, match="different state"):
        other.import_envelope(second)


def test_the_backend_env_reaches_pulumi_workers_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from grid.drivers.pulumi import ProcessStackEngine

    started: list[dict[str, Any]] = []

    class Spawned:
        def __init__(self, *args: object, env: dict[str, str], **kwargs: object) -> None:
            started.append(env)

    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setattr(subprocess, "Popen", Spawned)
    backend = PulumiBackend("postgres://grid@db/grid?table=t", {"PGPASSWORD": "s3cret"})
    engine = ProcessStackEngine(project="p", target="local", workdir=tmp_path, passphrase_file=tmp_path / "pp",
                                backend_url=backend.url, engine_env=backend.env)
    engine.warm({"GRID_RUN": "tag"})
    assert started[0]["PGPASSWORD"] == "s3cret" and started[0]["GRID_RUN"] == "tag"
    assert "s3cret" not in json.dumps(engine._request) and "s3cret" not in repr(backend)
    assert "PGPASSWORD" not in os.environ
