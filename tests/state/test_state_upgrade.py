"""Format 3: typed fields instead of internal `outputs` keys; real files of formats 1 and 2 (written by the grid
of their time: tests/state/data/make_old_state.py) are read, upgraded in the model, and rewritten as format 3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grid.state import FORMAT_VERSION, FileStateStore, State, StateCorrupted, codec
from grid.state import _fastdecode as fast
from grid.state.model import Envelope

DATA = Path(__file__).parent / "data"
OLD_FILES = {1: DATA / "state-format1-outputs.json", 2: DATA / "state-format2.json"}


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_file_is_read_in_todays_model_and_upgraded_on_the_next_write(tmp_path: Path, version: int) -> None:
    original = OLD_FILES[version].read_bytes()
    old = json.loads(original)
    assert old["format_version"] == version and "applied_spec" in old["state"]["outputs"]
    (tmp_path / "state.json").write_bytes(original)
    store = FileStateStore(tmp_path)
    envelope = store.read()
    assert envelope is not None and (envelope.format_version, envelope.serial) == (version, 3)
    state = envelope.state
    assert state.outputs == {}, "grid's own keys left the free-form outputs"
    assert state.applied_spec == old["state"]["outputs"]["applied_spec"]
    assert state.rendered_digest == old["state"]["outputs"]["rendered_digest"]
    assert state.admin_public_key == old["state"]["outputs"].get("admin_public_key", "")
    assert state.interrupted_regions() == ["lab"] == state.interrupted
    assert len(state.resources) == 10 and len(state.hosts) == 2 and len(state.history) == 3

    written = store.write(state, 3)
    assert (written.format_version, written.serial, written.lineage) == (FORMAT_VERSION, 4, old["lineage"])
    on_disk = json.loads(store.path.read_bytes())
    assert on_disk["format_version"] == 3 and "interrupted" in on_disk["state"]
    assert on_disk["state"]["outputs"] == {}
    assert FileStateStore(tmp_path).read() == written
    # The old file stays, byte for byte, as the backup of its serial, and restores into today's model.
    assert (tmp_path / "backups" / "state.3.json").read_bytes() == original
    assert store.restore(3).envelope.state == state


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_file_is_still_verified_by_its_own_checksum_rule(tmp_path: Path, version: int) -> None:
    raw = OLD_FILES[version].read_bytes()
    assert codec.recomputed_checksum(raw) == json.loads(raw)["checksum"]
    damaged = raw.replace(b'"interrupted_regions":["lab"]', b'"interrupted_regions":["lax"]', 1)
    assert damaged != raw
    (tmp_path / "state.json").write_bytes(damaged)
    with pytest.raises(StateCorrupted, match="failed its checksum"):
        FileStateStore(tmp_path).read()


def test_an_older_file_decodes_through_the_fast_builder() -> None:
    """Upgrading costs a dict rewrite, not a slow validation: the upgraded document builds fast."""
    import pydantic_core

    from grid.state.upgrade import upgrade_envelope

    raw = OLD_FILES[2].read_bytes()
    built = fast.build_parsed(Envelope, upgrade_envelope(pydantic_core.from_json(raw)))
    assert built is not None and built == codec.decode(raw, "state.json")


def test_unknown_output_keys_and_odd_values_survive_the_upgrade_as_old_readers_saw_them() -> None:
    from grid.state.upgrade import upgrade_envelope

    document: dict[str, Any] = {"format_version": 2, "serial": 1, "lineage": "l", "checksum": "x", "state": {
        "cluster": "c", "outputs": {"note": "kept", "applied_spec": "not a dict", "interrupted_regions": "east",
                                    "admin_public_key": 7, "rendered_digest": "sha256:1"}}}
    state = upgrade_envelope(document)["state"]
    assert state["outputs"] == {"note": "kept"}
    assert (state["applied_spec"], state["interrupted"], state["admin_public_key"], state["rendered_digest"]) == (
        None, [], "", "sha256:1")
    assert document["state"]["outputs"]["applied_spec"] == "not a dict", "the input is not changed"


@pytest.mark.parametrize("applied", [None, {"kind": "Cluster", "spec": {"nested": [1, None, {"x": "é"}]}}])
def test_the_typed_fields_decode_fast_and_exactly(applied: dict[str, object] | None) -> None:
    state = State(cluster="c", applied_spec=applied, rendered_digest="sha256:2", admin_public_key="ssh-ed25519 K",
                  interrupted=["east", "west"], outputs={"note": 1})
    body, digest = codec.encode_state(state)
    raw = b"".join(codec.envelope_chunks(body, digest, serial=4, lineage="l"))
    built = fast.build(Envelope, raw)
    assert built is not None and built == Envelope.model_validate_json(raw)
    validated = Envelope.model_validate_json(raw).state
    assert built.state == state and built.state.model_fields_set == validated.model_fields_set
