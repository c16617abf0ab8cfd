"""FileStateStore: atomic writes, integrity checks, serials, backups and restore."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from grid.state import (
    BackupNotFound,
    FileStateStore,
    State,
    StateConflict,
    StateCorrupted,
    StateMissing,
    StateStore,
    StateTooNew,
)

Factory = Callable[..., State]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_missing_state_reads_as_none(store: FileStateStore) -> None:
    assert store.read() is None


def test_implements_the_protocol(store: FileStateStore) -> None:
    typed: StateStore = store  # checked by mypy: FileStateStore satisfies StateStore
    assert typed.backups() == []


def test_write_then_read_round_trips(store: FileStateStore, state_factory: Factory) -> None:
    state = state_factory(5)
    written = store.write(state, expected_serial=0)
    assert written.serial == 1
    assert len(written.lineage) == 36
    again = FileStateStore(store.workdir).read()
    assert again is not None
    assert again.state == state
    assert (again.serial, again.lineage, again.checksum) == (1, written.lineage, written.checksum)
    assert _mode(store.path) == 0o600


def test_serial_increments_and_lineage_stays(store: FileStateStore, state_factory: Factory) -> None:
    first = store.write(state_factory(1), 0)
    second = store.write(state_factory(2), 1)
    assert second.serial == 2
    assert second.lineage == first.lineage


def test_checksum_is_sha256_of_canonical_header_and_state_digest(
        store: FileStateStore, state_factory: Factory) -> None:
    """Any tool can recompute the checksum from the spec'd canonical form (formats 2 and 3: serial and
    lineage are sealed with the state's own digest)."""
    store.write(state_factory(3), 0)
    document = json.loads(store.path.read_bytes())

    def canonical(value: object) -> bytes:
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()

    state_digest = "sha256:" + hashlib.sha256(canonical(document["state"])).hexdigest()
    sealed = {"format_version": 3, "lineage": document["lineage"], "serial": 1, "state": state_digest}
    assert document["checksum"] == "sha256:" + hashlib.sha256(canonical(sealed)).hexdigest()
    assert set(document) == {"format_version", "serial", "lineage", "checksum", "state"}
    assert document["format_version"] == 3


def test_crash_during_rename_leaves_old_file_intact(
        store: FileStateStore, state_factory: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    store.write(state_factory(2), 0)
    before = store.path.read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        store.write(state_factory(7), 1)
    monkeypatch.undo()
    assert store.path.read_bytes() == before
    assert not [p for p in store.workdir.iterdir() if p.name.endswith(".tmp")], "temp file left behind"
    envelope = FileStateStore(store.workdir).read()
    assert envelope is not None and envelope.serial == 1 and len(envelope.state.resources) == 2


def test_flipped_byte_is_detected(store: FileStateStore, state_factory: Factory) -> None:
    store.write(state_factory(3), 0)
    raw = bytearray(store.path.read_bytes())
    at = raw.index(b"node-00001")  # inside the state, still valid JSON afterwards
    raw[at + 5] ^= 0x01
    store.path.write_bytes(bytes(raw))
    with pytest.raises(StateCorrupted, match="checksum") as caught:
        FileStateStore(store.workdir).read()
    assert "expected sha256:" in caught.value.message and "hashes to sha256:" in caught.value.message
    assert "grid state restore" in caught.value.hint


def test_truncated_file_is_detected(store: FileStateStore, state_factory: Factory) -> None:
    store.write(state_factory(3), 0)
    raw = store.path.read_bytes()
    store.path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(StateCorrupted, match=r"not valid JSON \(truncated\?\)") as caught:
        FileStateStore(store.workdir).read()
    assert "grid state restore" in caught.value.hint


@pytest.mark.parametrize("content", [b"", b"\xff\xfe garbage", b"[1, 2]", b'{"serial": 1}'])
def test_garbage_is_corrupt(store: FileStateStore, content: bytes) -> None:
    store.path.write_bytes(content)
    with pytest.raises(StateCorrupted):
        store.read()


def test_hand_edited_value_is_detected(store: FileStateStore, state_factory: Factory) -> None:
    store.write(state_factory(3), 0)
    document = json.loads(store.path.read_bytes())
    document["state"]["resources"]["r0/gpu/node-00001"]["attrs"]["cpus"] = 128
    store.path.write_text(json.dumps(document, indent=2))  # valid JSON, different layout and value
    with pytest.raises(StateCorrupted, match="checksum"):
        FileStateStore(store.workdir).read()


def test_reformatted_but_unchanged_file_is_accepted(store: FileStateStore, state_factory: Factory) -> None:
    """Pretty-printing changes no value, so the checksum (over canonical JSON) still holds."""
    state = state_factory(3)
    store.write(state, 0)
    store.path.write_text(json.dumps(json.loads(store.path.read_bytes()), indent=4))
    envelope = FileStateStore(store.workdir).read()
    assert envelope is not None and envelope.state == state


def test_schema_mismatch_with_valid_checksum_is_reported(store: FileStateStore) -> None:
    bad_state = {"cluster": "lab", "resources": {"x": {"address": "x"}}}
    canonical = json.dumps(bad_state, sort_keys=True, separators=(",", ":")).encode()
    document = {"format_version": 1, "serial": 1, "lineage": "l", "state": bad_state,
                "checksum": "sha256:" + hashlib.sha256(canonical).hexdigest()}
    store.path.write_text(json.dumps(document))
    with pytest.raises(StateCorrupted, match=r"does not match the state schema: state\.resources\.x\.kind"):
        store.read()


def test_newer_format_is_refused_and_left_untouched(store: FileStateStore, state_factory: Factory) -> None:
    store.write(state_factory(1), 0)
    store.write(state_factory(1), 1)
    document = json.loads(store.path.read_bytes())
    document["format_version"] = 99
    document["state"]["shiny_new_field"] = True
    store.path.write_text(json.dumps(document))
    before = (store.path.read_bytes(), store.path.stat().st_mtime_ns)
    with pytest.raises(StateTooNew, match=r"newer grid \(format 99") as caught:
        FileStateStore(store.workdir).read()
    assert "left untouched" in caught.value.hint
    with pytest.raises(StateTooNew):
        FileStateStore(store.workdir).write(state_factory(1), 2)
    with pytest.raises(StateTooNew):
        FileStateStore(store.workdir).restore(1)  # a newer grid's file is not ours to set aside
    assert (store.path.read_bytes(), store.path.stat().st_mtime_ns) == before


def test_stale_expected_serial_is_refused(store: FileStateStore, state_factory: Factory) -> None:
    store.write(state_factory(1), 0)
    other = FileStateStore(store.workdir)
    other.write(state_factory(2), 1)  # someone else wrote serial 2
    with pytest.raises(StateConflict, match="serial 2 on disk, 1 expected") as caught:
        store.write(state_factory(3), 1)
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    with pytest.raises(StateConflict):
        FileStateStore(store.workdir).write(state_factory(3), 0)  # first-write race


def test_write_refuses_to_overwrite_a_corrupt_file(store: FileStateStore, state_factory: Factory) -> None:
    store.write(state_factory(1), 0)
    damaged = store.path.read_bytes()[:-20]
    store.path.write_bytes(damaged)
    with pytest.raises(StateCorrupted):
        store.write(state_factory(2), 1)  # the same store instance: the cached header must not be trusted
    assert store.path.read_bytes() == damaged


def test_backups_are_pruned_to_n(tmp_path: Path, state_factory: Factory) -> None:
    store = FileStateStore(tmp_path, keep=3)
    for serial in range(6):
        store.write(state_factory(serial + 1), serial)
    infos = store.backups()
    assert [b.serial for b in infos] == [5, 4, 3]
    assert all(b.ok for b in infos)
    assert all(_mode(b.path) == 0o600 for b in infos)
    # each backup is the version that carried its serial
    old = FileStateStore(tmp_path).restore(4)
    assert len(old.envelope.state.resources) == 4


def test_backups_report_damage(store: FileStateStore, state_factory: Factory) -> None:
    for serial in range(3):
        store.write(state_factory(serial + 1), serial)
    damaged = store.backup_dir / "state.1.json"
    damaged.write_bytes(damaged.read_bytes()[:50])
    status = {b.serial: b.problem for b in store.backups()}
    assert status[2] == ""
    assert "not valid JSON" in status[1]


def test_restore_makes_a_backup_current_under_a_new_serial(
        store: FileStateStore, state_factory: Factory) -> None:
    first = store.write(state_factory(1), 0)
    store.write(state_factory(2), 1)
    store.write(state_factory(3), 2)
    restored = store.restore(1, command="grid state restore 1")
    assert restored.envelope.serial == 4 and restored.from_serial == 1 and restored.kept_corrupt is None
    assert restored.envelope.lineage == first.lineage
    current = FileStateStore(store.workdir).read()
    assert current is not None and current.serial == 4
    assert list(current.state.resources) == list(first.state.resources)
    assert current.state.history[-1].command == "grid state restore 1"
    assert {b.serial for b in store.backups()} == {1, 2, 3}  # serial 3 became a backup as usual
    store.write(state_factory(9), 4)  # and life goes on


def test_restore_after_corruption_keeps_the_damaged_file(
        store: FileStateStore, state_factory: Factory) -> None:
    store.write(state_factory(1), 0)
    store.write(state_factory(2), 1)
    store.path.write_bytes(store.path.read_bytes()[:-100])
    damaged = store.path.read_bytes()
    restored = FileStateStore(store.workdir).restore(1)
    assert restored.envelope.serial == 3  # above the damaged file's serial 2
    assert restored.kept_corrupt is not None and restored.kept_corrupt.read_bytes() == damaged
    assert restored.kept_corrupt.name.startswith("state.json.corrupt-")
    current = FileStateStore(store.workdir).read()
    assert current is not None and len(current.state.resources) == 1


def test_restore_refuses_missing_or_damaged_backups(store: FileStateStore, state_factory: Factory) -> None:
    store.write(state_factory(1), 0)
    store.write(state_factory(2), 1)
    with pytest.raises(BackupNotFound, match=r"serial 7 \(available: 1\)"):
        store.restore(7)
    backup = store.backup_dir / "state.1.json"
    backup.write_bytes(backup.read_bytes().replace(b"node-00000", b"node-00009"))
    with pytest.raises(StateCorrupted, match="checksum"):
        store.restore(1)


def test_lost_state_with_backups_is_not_silently_restarted(
        store: FileStateStore, state_factory: Factory) -> None:
    store.write(state_factory(1), 0)
    store.write(state_factory(2), 1)
    store.path.unlink()
    with pytest.raises(StateMissing, match="latest serial 1") as caught:
        FileStateStore(store.workdir).read()
    assert "grid state restore SPEC 1" in caught.value.hint
    with pytest.raises(StateMissing):
        FileStateStore(store.workdir).write(state_factory(5), 0)
    restored = FileStateStore(store.workdir).restore(1)
    assert restored.envelope.serial == 2


def test_nan_in_attrs_is_written_as_strict_json(store: FileStateStore) -> None:
    state = State(cluster="lab", outputs={"ratio": float("nan"), "tags": {"b", "a"}})
    store.write(state, 0)
    json.loads(store.path.read_bytes(), parse_constant=lambda name: pytest.fail(f"non-JSON constant {name}"))
    envelope = FileStateStore(store.workdir).read()
    assert envelope is not None and envelope.state.outputs["ratio"] is None
