"""The offsets a state write records (grid.state.seal's index): the very bytes grid always wrote, and where the
per-node members lie in them, for every path that writes state.json."""

from __future__ import annotations

import json
import math
from pathlib import Path

from grid.state import FileStateStore, codec, seal
from grid.state.model import HostRecord, ResourceRecord, State


def state_with(nodes: int, **attrs: object) -> State:
    resources = {f"r/p/node-{i}": ResourceRecord(address=f"r/p/node-{i}", kind="node", region="r",
                                                 attrs={"i": i, **attrs}) for i in range(nodes)}
    hosts = {a: HostRecord(address=a, status="configured") for a in resources}
    return State(cluster="c", resources=resources, hosts=hosts, applied_spec={"hosts": {"x": 1}, "resources": []})


def test_the_body_is_the_canonical_json_it_always_was() -> None:
    for state in (State(cluster="c"), state_with(3), state_with(2, when={1, 2}.__len__())):
        body, digest, spans = codec.encode_state_spans(state)
        assert body == codec.canonical_json(state.model_dump()) and digest == codec.checksum_of(body)
        for section, (start, end) in spans.items():
            assert json.loads(body[start:end]) == json.loads(body)[section]


def test_values_json_cannot_take_as_they_are_take_the_json_mode_path() -> None:
    state = state_with(1, ratio=math.inf)
    body, _, spans = codec.encode_state_spans(state)
    assert body == codec.canonical_json(state.model_dump(mode="json"))
    start, end = spans["resources"]
    assert json.loads(body[start:end])["r/p/node-0"]["attrs"]["ratio"] is None


def index_points_at_the_file(workdir: Path) -> None:
    raw = (workdir / "state.json").read_bytes()
    index = json.loads((workdir / seal.INDEX_FILE).read_text())
    header, _ = codec.verify(raw, "state.json")
    assert index["checksum"] == header.checksum
    document = json.loads(raw)["state"]
    for section, (start, end) in index["spans"].items():
        assert json.loads(raw[start:end]) == document[section]


def test_every_write_and_restore_records_where_the_records_lie(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    first = store.write(state_with(3), 0)
    index_points_at_the_file(tmp_path)
    store.write(state_with(5), first.serial)
    index_points_at_the_file(tmp_path)
    store.restore(first.serial, command="grid state restore")
    index_points_at_the_file(tmp_path)


def test_an_imported_file_leaves_no_index_or_seal_behind(tmp_path: Path) -> None:
    source, dest = FileStateStore(tmp_path / "a"), FileStateStore(tmp_path / "b")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = source.write(state_with(2), 0)
    source.write(state_with(3), first.serial)
    seal.write_seal(tmp_path / "b", "sha256:x", "sha256:y", resources=1, hosts=1)  # left from an earlier state
    seal.write_index(tmp_path / "b", "sha256:x", {"hosts": (1, 2), "resources": (3, 4)})
    raw = source.pull()
    assert raw is not None and dest.import_envelope(raw) is False
    assert not (tmp_path / "b" / seal.INDEX_FILE).exists() and not (tmp_path / "b" / seal.SEAL_FILE).exists()
