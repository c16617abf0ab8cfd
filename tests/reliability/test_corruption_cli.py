"""A damaged state file, seen through the CLI: every command that reads state exits 1 with what
happened and how to recover, and leaves every byte of the work directory as it was; `grid state
restore` brings a backup back and keeps the damaged file.

The store's detection itself (checksums, torn writes, schema, newer formats) is unit-tested in
tests/state; this is what a person typing commands sees.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from grid.state import FORMAT_VERSION, FileStateStore, ResourceRecord, State, workdir_for
from support.cli import grid, invoke
from support.paths import EXAMPLES

SPEC = EXAMPLES / "local-lab" / "cluster.yaml"


@pytest.fixture
def lab(tmp_path: Path) -> tuple[Path, Path]:
    """The lab spec and a work directory holding serials 1..3 of its state (1 and 2 as backups)."""
    spec = tmp_path / "cluster.yaml"
    shutil.copy(SPEC, spec)
    work = workdir_for(spec, None, "lab")
    store = FileStateStore(work)
    for serial in range(3):
        record = ResourceRecord(address="east/storage/pfs", kind="volume", region="east",
                                attrs={"volume": "grid-lab-east-pfs", "size": serial})
        store.write(State(cluster="lab", resources={record.address: record},
                          outputs={"note": f"version {serial + 1}"}), expected_serial=serial)
    return spec, work


def _flip_bit(raw: bytes) -> bytes:
    at = raw.index(b"version 3") + 8  # '3' -> '2': valid JSON, wrong checksum
    return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:]


def _flip_any_bit(raw: bytes) -> bytes:
    start = raw.index(b'"state":') + 8
    at = start + (len(raw) - start) // 3
    return raw[:at] + bytes([raw[at] ^ 0x20]) + raw[at + 1:]


def _hand_edit(raw: bytes) -> bytes:
    document = json.loads(raw)
    document["state"]["resources"]["east/storage/pfs"]["attrs"]["volume"] = "someone-elses-volume"
    return json.dumps(document, indent=2).encode()


def _newer(raw: bytes) -> bytes:
    return raw.replace(b'"format_version":%d' % FORMAT_VERSION, b'"format_version":7', 1)


DAMAGE: dict[str, tuple[Callable[[bytes], bytes], tuple[str, ...]]] = {
    # damage: (what it does to the bytes, words the message must contain)
    "truncated to half": (lambda raw: raw[: len(raw) // 2], ("state.json", "not valid JSON", "truncated")),
    "last byte lost": (lambda raw: raw[:-2], ("state.json", "not valid JSON")),
    "one bit flipped in a value": (_flip_bit, ("state.json", "checksum", "edited outside grid or damaged")),
    "one bit flipped in the body": (_flip_any_bit, ("state.json",)),
    "hand-edited value": (_hand_edit, ("state.json", "checksum", "edited outside grid or damaged")),
    "emptied": (lambda raw: b"", ("state.json", "not valid JSON")),
    "binary garbage": (lambda raw: bytes(range(256)) * 8, ("state.json", "not valid JSON")),
    "written by a newer grid": (_newer, ("newer grid", "upgrade grid", "untouched")),
}

RESTORE_WORDS = ("grid state restore",)
COMMANDS = (("plan",), ("plan", "--json"), ("up", "--yes"), ("destroy", "--yes"), ("drift",), ("check",),
            ("state", "list"), ("state", "history"), ("state", "pull"))


def _snapshot(work: Path) -> dict[str, bytes]:
    """Every file grid keeps about the cluster; the lock and its guard come and go, secrets may appear."""
    return {str(p.relative_to(work)): p.read_bytes() for p in sorted(work.rglob("*"))
            if p.is_file() and p.name not in ("state.lock", ".lock.guard") and "secrets" not in p.parts}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_state_stops_every_command_and_changes_nothing(lab: tuple[Path, Path], damage: str) -> None:
    spec, work = lab
    change, words = DAMAGE[damage]
    damaged = change((work / "state.json").read_bytes())
    (work / "state.json").write_bytes(damaged)
    before = _snapshot(work)
    for command in COMMANDS:
        ran = invoke(*command, str(spec))
        assert ran.code == 1, (command, ran.output)
        for word in words + (() if damage == "written by a newer grid" else RESTORE_WORDS):
            assert word in ran.stderr, (command, word, ran.stderr)
        assert "Traceback" not in ran.output and "internal error" not in ran.output, ran.output
        assert _snapshot(work) == before, f"{command} changed the work directory"
    assert (work / "state.json").read_bytes() == damaged


@pytest.mark.parametrize("command", [("plan",), ("up", "--yes")])
def test_the_console_script_says_the_same(lab: tuple[Path, Path], command: tuple[str, ...]) -> None:
    spec, work = lab
    damaged = _flip_bit((work / "state.json").read_bytes())
    (work / "state.json").write_bytes(damaged)
    ran = grid(*command, str(spec))
    assert ran.code == 1, ran.output
    assert "failed its checksum" in ran.stderr and "grid state restore" in ran.stderr, ran.stderr
    assert "Traceback" not in ran.output
    assert (work / "state.json").read_bytes() == damaged


def test_lost_state_with_backups_is_not_started_afresh(lab: tuple[Path, Path]) -> None:
    spec, work = lab
    (work / "state.json").unlink()
    before = _snapshot(work)
    for command in (("plan",), ("up", "--yes")):
        ran = invoke(*command, str(spec))
        assert ran.code == 1, ran.output
        assert "missing" in ran.stderr and "grid state restore" in ran.stderr, ran.stderr
        assert _snapshot(work) == before
    assert not (work / "state.json").exists()


def test_restore_brings_a_backup_back_and_keeps_the_damaged_file(lab: tuple[Path, Path]) -> None:
    spec, work = lab
    damaged = _flip_bit((work / "state.json").read_bytes())
    (work / "state.json").write_bytes(damaged)
    listing = invoke("state", "restore", str(spec))
    assert listing.code == 0, listing.output
    assert "DAMAGED" in listing.stdout and "failed its checksum" in listing.stdout
    assert f"grid state restore {spec} 2" in listing.stdout
    assert (work / "state.json").read_bytes() == damaged, "listing must not touch anything"
    restored = invoke("state", "restore", str(spec), "2")
    assert restored.code == 0, restored.output
    kept = list(work.glob("state.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == damaged, "the damaged file is kept, byte for byte"
    assert str(kept[0]) in restored.stdout
    envelope = FileStateStore(work).read()
    assert envelope is not None and envelope.serial == 4
    assert envelope.state.outputs["note"] == "version 2"
    plan = invoke("plan", str(spec), "--detailed-exitcode")
    assert plan.code in (0, 2), plan.output


def _single_bit_flips(raw: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """(position, bit) of every single-bit flip of raw[start:end] that still decodes."""
    from grid.state import codec
    from grid.state.errors import StateCorrupted, StateTooNew

    missed = []
    for position in range(start, end):
        for bit in range(8):
            flipped = raw[:position] + bytes([raw[position] ^ (1 << bit)]) + raw[position + 1:]
            try:
                codec.decode(flipped, "state.json")
            except (StateCorrupted, StateTooNew):
                continue
            missed.append((position, bit))
    return missed


def test_every_single_bit_flip_of_the_state_is_detected(lab: tuple[Path, Path]) -> None:
    raw = (lab[1] / "state.json").read_bytes()
    start = raw.index(b'"state":')
    assert _single_bit_flips(raw, start, len(raw)) == []


def test_every_single_bit_flip_of_the_envelope_header_is_detected(lab: tuple[Path, Path]) -> None:
    raw = (lab[1] / "state.json").read_bytes()
    assert _single_bit_flips(raw, 0, raw.index(b'"state":')) == []


def test_a_lowered_serial_is_refused_and_restore_reaches_the_recent_states(tmp_path: Path) -> None:
    """Issue 12 #7: serial 31 set to 1 by hand was accepted, and every backup after it pruned at once."""
    spec = tmp_path / "cluster.yaml"
    shutil.copy(SPEC, spec)
    work = workdir_for(spec, None, "lab")
    store = FileStateStore(work)
    for serial in range(31):
        store.write(State(cluster="lab", outputs={"note": f"version {serial + 1}"}), expected_serial=serial)
    lowered = (work / "state.json").read_bytes().replace(b'"serial":31,', b'"serial":1,', 1)
    (work / "state.json").write_bytes(lowered)
    before = _snapshot(work)
    for command in (("plan",), ("up", "--yes")):
        ran = invoke(*command, str(spec))
        assert ran.code == 1, ran.output
        assert "failed its checksum" in ran.stderr and "grid state restore" in ran.stderr, ran.stderr
        assert "internal error" not in ran.output
        assert _snapshot(work) == before
    listing = invoke("state", "restore", str(spec))
    assert listing.code == 0, listing.output
    assert f"grid state restore {spec} 30" in listing.stdout
    restored = invoke("state", "restore", str(spec), "30")
    assert restored.code == 0, restored.output
    envelope = FileStateStore(work).read()
    assert envelope is not None and envelope.serial == 31 and envelope.state.outputs["note"] == "version 30"
    assert [info.serial for info in FileStateStore(work).backups()][:3] == [30, 29, 28]
