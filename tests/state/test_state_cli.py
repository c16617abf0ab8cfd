"""`grid state …` commands, driven through the Typer app."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from grid.state import FileStateStore, State, append_history, history_entry, workdir_for
from grid.state.lock import LOCK_FILE
from support.cli import invoke_app as grid

LAB = Path(__file__).resolve().parents[2] / "examples" / "local-lab" / "cluster.yaml"


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    target = tmp_path / "cluster.yaml"
    shutil.copy(LAB, target)
    return target


@pytest.fixture
def lab_store(spec: Path, state_factory: Callable[..., State]) -> FileStateStore:
    store = FileStateStore(workdir_for(spec, None, "lab"))
    first = append_history(state_factory(3), history_entry(1, "grid apply cluster.yaml"))
    store.write(first, 0)
    grown = state_factory(4).model_copy(update={"history": first.history})
    store.write(append_history(grown, history_entry(2, "grid apply cluster.yaml")), 1)
    return store


def test_list(spec: Path, lab_store: FileStateStore) -> None:
    ran = grid("state", "list", str(spec))
    assert ran.code == 0
    lines = ran.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].split() == ["r0/gpu/node-00000", "node", "r0", "configured"]
    rows = json.loads(grid("state", "list", str(spec), "--json").stdout)
    assert rows[0] == {"address": "r0/gpu/node-00000", "kind": "node", "region": "r0", "status": "configured"}


def test_list_without_state_is_empty(spec: Path) -> None:
    ran = grid("state", "list", str(spec))
    assert ran.code == 0 and "no state yet for cluster 'lab'" in ran.stderr
    assert json.loads(grid("state", "list", str(spec), "--json").stdout) == []
    assert not (spec.parent / ".grid").exists(), "read-only commands must not create the work directory"


def test_show(spec: Path, lab_store: FileStateStore) -> None:
    ran = grid("state", "show", str(spec), "r0/gpu/node-00001")
    assert ran.code == 0
    assert "address: r0/gpu/node-00001" in ran.stdout and "hostname: r0-gpu-00001" in ran.stdout
    assert "status: configured" in ran.stdout
    doc = json.loads(grid("state", "show", str(spec), "r0/gpu/node-00001", "--json").stdout)
    assert doc["kind"] == "node" and doc["host"]["status"] == "configured"
    missing = grid("state", "show", str(spec), "r0/gpu/node-0001")
    assert missing.code == 1 and missing.failure is not None
    assert "did you mean r0/gpu/node-00001" in missing.failure.hint


def test_history(spec: Path, lab_store: FileStateStore) -> None:
    ran = grid("state", "history", str(spec))
    assert ran.code == 0
    assert "SERIAL" in ran.stdout and "grid apply cluster.yaml" in ran.stdout
    entries = json.loads(grid("state", "history", str(spec), "--json").stdout)
    assert [e["serial"] for e in entries] == [1, 2]


def test_history_names_the_accounts_an_apply_removed(spec: Path, lab_store: FileStateStore) -> None:
    from grid.state.history import account_removals

    envelope = lab_store.read()
    assert envelope is not None
    entry = history_entry(3, "grid up cluster.yaml", changes=account_removals(["alice", "bob"]))
    lab_store.write(append_history(envelope.state, entry), envelope.serial)
    lines = grid("state", "history", str(spec)).stdout.splitlines()
    assert lines[-1].endswith("accounts removed: alice, bob"), lines
    assert "accounts removed" not in "".join(lines[:-1])


def test_pull_prints_the_verified_envelope(spec: Path, lab_store: FileStateStore) -> None:
    out = grid("state", "pull", str(spec)).stdout
    assert out.encode() == lab_store.path.read_bytes()  # byte-exact: the checksum can be re-checked
    doc = json.loads(out)
    assert doc["serial"] == 2 and doc["checksum"].startswith("sha256:")
    assert len(doc["state"]["resources"]) == 4


def test_corrupt_state_becomes_a_message_with_a_hint(spec: Path, lab_store: FileStateStore) -> None:
    lab_store.path.write_bytes(lab_store.path.read_bytes()[:100])
    ran = grid("state", "pull", str(spec))
    assert ran.code == 1 and ran.failure is not None
    assert "not valid JSON (truncated?)" in ran.failure.message
    assert "grid state restore" in ran.failure.hint


def test_restore_lists_then_restores(spec: Path, lab_store: FileStateStore) -> None:
    lab_store.path.write_bytes(lab_store.path.read_bytes()[:-10])
    listing = grid("state", "restore", str(spec))
    assert listing.code == 0
    assert "current: DAMAGED" in listing.stdout
    assert any(line.split()[:1] == ["1"] and line.endswith("ok") for line in listing.stdout.splitlines())
    ran = grid("state", "restore", str(spec), "1")
    assert ran.code == 0, ran.failure
    assert "as serial 3" in ran.stdout and "state.json.corrupt-" in ran.stdout
    envelope = FileStateStore(lab_store.workdir).read()
    assert envelope is not None and envelope.serial == 3 and len(envelope.state.resources) == 3
    assert envelope.state.history[-1].command == "grid state restore 1"
    assert not (lab_store.workdir / LOCK_FILE).exists()


def test_restore_refuses_while_locked(spec: Path, lab_store: FileStateStore) -> None:
    with lab_store.lock("grid apply cluster.yaml"):
        ran = grid("state", "restore", str(spec), "1")
    assert ran.code == 1 and ran.failure is not None and "locked by" in ran.failure.message


def test_unlock(spec: Path, lab_store: FileStateStore) -> None:
    assert "not locked" in grid("state", "unlock", str(spec)).stdout
    with lab_store.lock("grid apply cluster.yaml"):
        refused = grid("state", "unlock", str(spec))
        assert refused.code == 1 and refused.failure is not None and "--force" in refused.failure.hint
        forced = grid("state", "unlock", str(spec), "--force")
        assert forced.code == 0 and "removed the lock held by" in forced.stdout and "grid apply" in forced.stdout
        assert "may still be running" in forced.stderr
        assert not (lab_store.workdir / LOCK_FILE).exists()


def test_workdir_option(spec: Path, tmp_path: Path, state_factory: Callable[..., State]) -> None:
    (tmp_path / "w").mkdir()
    FileStateStore(tmp_path / "w").write(state_factory(2), 0)
    rows = json.loads(grid("state", "list", str(spec), "--workdir", str(tmp_path / "w"), "--json").stdout)
    assert len(rows) == 2


def test_bad_spec_prints_diagnostics(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: grid/v1\nkind: Cluster\nmetadata: {nam: x}\n")
    ran = grid("state", "list", str(bad))
    assert ran.code == 1 and "error" in ran.stderr
