"""Serial and lineage are part of what the checksum vouches for (format 2); format 1 files still read.

A lowered serial used to verify: the next backups then ranked below the old ones and were pruned at once,
and `restore` could no longer reach recent states. Now the edit is refused like any other, and backups are
kept by the time they were written, so even a format 1 file edited by hand loses no recent version.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from grid.state import FORMAT_VERSION, FileStateStore, State, StateCorrupted, codec
from grid.state.codec import decode

FORMAT1_FILE = Path(__file__).parent / "data" / "state-format1.json"  # written by grid before format 2


def _write_versions(store: FileStateStore, count: int) -> None:
    for serial in range(count):
        store.write(State(cluster="lab", outputs={"note": f"version {serial + 1}"}), expected_serial=serial)


def _note(envelope: object) -> str:
    return str(envelope.state.outputs["note"])  # type: ignore[attr-defined]


@pytest.mark.parametrize("edit", [
    (b'"serial":31,', b'"serial":1,'),
    (b'"serial":31,', b'"serial":3100,'),
    (b'"lineage":"', b'"lineage":"0'),
])
def test_an_edited_serial_or_lineage_fails_the_checksum(tmp_path: Path, edit: tuple[bytes, bytes]) -> None:
    store = FileStateStore(tmp_path)
    _write_versions(store, 31)
    raw = store.path.read_bytes()
    assert edit[0] in raw
    store.path.write_bytes(raw.replace(edit[0], edit[1], 1))
    with pytest.raises(StateCorrupted, match="failed its checksum") as caught:
        FileStateStore(tmp_path).read()
    assert "grid state restore" in caught.value.hint
    with pytest.raises(StateCorrupted):
        FileStateStore(tmp_path).write(State(cluster="lab"), expected_serial=1)


def test_a_pretty_printed_lowered_serial_fails_too(tmp_path: Path) -> None:
    """The slow path (any layout) seals the header as the fast path does."""
    store = FileStateStore(tmp_path)
    _write_versions(store, 3)
    document = json.loads(store.path.read_bytes())
    store.path.write_text(json.dumps(document, indent=2))
    assert FileStateStore(tmp_path).read() is not None  # the layout alone changes nothing
    document["serial"] = 1
    store.path.write_text(json.dumps(document, indent=2))
    with pytest.raises(StateCorrupted, match="failed its checksum"):
        FileStateStore(tmp_path).read()


def test_posing_as_format_1_does_not_skip_the_header_check(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    _write_versions(store, 5)
    raw = store.path.read_bytes().replace(b'"serial":5,', b'"serial":1,', 1)
    store.path.write_bytes(raw.replace(b'"format_version":%d' % FORMAT_VERSION, b'"format_version":1', 1))
    with pytest.raises(StateCorrupted, match="failed its checksum"):
        FileStateStore(tmp_path).read()


def test_a_format_1_file_is_read_and_upgraded_on_the_next_write(tmp_path: Path) -> None:
    shutil.copy(FORMAT1_FILE, tmp_path / "state.json")
    original = json.loads(FORMAT1_FILE.read_bytes())
    assert original["format_version"] == 1
    store = FileStateStore(tmp_path)
    envelope = store.read()
    assert envelope is not None
    assert (envelope.format_version, envelope.serial, envelope.lineage) == (1, 3, original["lineage"])
    assert len(envelope.state.resources) == 3 and len(envelope.state.history) == 3

    written = store.write(envelope.state.model_copy(update={"spec_digest": "sha256:" + "d" * 64}), 3)
    assert (written.format_version, written.serial, written.lineage) == (FORMAT_VERSION, 4, original["lineage"])
    on_disk = json.loads(store.path.read_bytes())
    assert on_disk["format_version"] == FORMAT_VERSION
    assert FileStateStore(tmp_path).read() == written
    # The format 1 file is kept, as written, as the backup of serial 3, and restores.
    assert (tmp_path / "backups" / "state.3.json").read_bytes() == FORMAT1_FILE.read_bytes()
    restored = store.restore(3)
    assert restored.envelope.serial == 5 and restored.envelope.state == envelope.state
    assert decode(store.path.read_bytes(), "state.json").format_version == FORMAT_VERSION


def test_backups_are_kept_by_time_written_not_by_serial(tmp_path: Path) -> None:
    """A format 1 file whose serial was lowered by hand verifies (its checksum did not cover the serial):
    the versions written after it are still kept, and none overwrites an older backup."""
    store = FileStateStore(tmp_path, keep=5)
    _write_versions(store, 10)  # state.json serial 10, backups 5..9
    old_backups = {p.name: p.read_bytes() for p in store.backup_dir.iterdir()}
    lowered = _as_format_1(store.path.read_bytes(), serial=1)
    store.path.write_bytes(lowered)
    assert FileStateStore(tmp_path, keep=5).read().serial == 1  # type: ignore[union-attr]

    store = FileStateStore(tmp_path, keep=5)
    serial = 1
    for n in range(3):
        serial = store.write(State(cluster="lab", outputs={"note": f"after the edit {n + 1}"}), serial).serial
    assert serial == 12, "new serials go above every backup (10, 11, 12), so none is overwritten"
    kept = [info.serial for info in store.backups()]
    assert kept == [11, 10, 1, 9, 8], "the most recently written five, newest first"
    assert all(old_backups[f"state.{s}.json"] == store._backup_path(s).read_bytes() for s in (8, 9))
    assert _note(store.restore(11).envelope) == "after the edit 2"
    assert _note(FileStateStore(tmp_path).read()) == "after the edit 2"


def test_equal_write_times_fall_back_to_the_serial(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path, keep=3)
    _write_versions(store, 6)
    for path in store.backup_dir.iterdir():
        os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    assert [info.serial for info in store.backups()] == [5, 4, 3]
    store.write(State(cluster="lab", outputs={"note": "version 7"}), 6)
    assert [info.serial for info in store.backups()] == [6, 5, 4]


def _as_format_1(raw: bytes, *, serial: int) -> bytes:
    """What grid before format 2 would have written for this state, with `serial` put in by hand."""
    document = json.loads(raw)
    body = codec.canonical_json(document["state"])
    header = codec.canonical_json({"checksum": codec.checksum_of(body), "format_version": 1,
                                   "lineage": document["lineage"], "serial": serial})
    return header[:-1] + b',"state":' + body + b"}\n"
