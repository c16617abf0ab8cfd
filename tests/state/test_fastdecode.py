"""The state's fast decode builds exactly what validation builds, and leaves everything unusual to it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grid.state import FileStateStore, HistoryEntry, HostRecord, State, StateCorrupted, codec
from grid.state import _fastdecode as fast
from grid.state.model import ChangeRecord, Envelope


def envelope_bytes(state: State, serial: int = 3) -> bytes:
    body, checksum = codec.encode_state(state)
    return b"".join(codec.envelope_chunks(body, checksum, serial=serial, lineage="abc-1"))


def rich_state(state_factory: Callable[..., State]) -> State:
    state = state_factory(40, regions=2)
    hosts = dict(state.hosts)
    first = next(iter(hosts))
    hosts[first] = HostRecord(address=first, status="drifted", drift=["base : Node facts"], error="e")
    history = [HistoryEntry(serial=1, at="2026-01-01T00:00:00+00:00", command="up", user="me",
                            changes=[ChangeRecord(address=first, action="create")], outcome="partial")]
    outputs = {"applied_spec": {"nested": [1, 2.5, None, True, {"x": "é"}]}, "big": 10**30}
    return state.model_copy(update={"hosts": hosts, "history": history, "outputs": outputs})


def same_models(a: Any, b: Any) -> None:
    """Equal values, and equal in every way validation leaves a model: field order, fields-set, extras."""
    assert a == b
    assert type(a) is type(b)
    if hasattr(a, "__pydantic_fields_set__"):
        assert list(a.__dict__) == list(b.__dict__)
        assert a.model_fields_set == b.model_fields_set
        assert a.__pydantic_extra__ == b.__pydantic_extra__ and a.__pydantic_private__ == b.__pydantic_private__
        for name in a.__dict__:
            same_models(getattr(a, name), getattr(b, name))
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            same_models(a[key], b[key])
    elif isinstance(a, list):
        for x, y in zip(a, b, strict=True):
            same_models(x, y)


def test_builds_what_validation_builds(state_factory: Callable[..., State]) -> None:
    raw = envelope_bytes(rich_state(state_factory))
    built = fast.build(Envelope, raw)
    assert built is not None
    same_models(built, Envelope.model_validate_json(raw))
    assert codec.decode(raw, "state.json") == Envelope.model_validate_json(raw)


def test_shared_fields_set_never_leaks_between_records(state_factory: Callable[..., State]) -> None:
    built = fast.build(Envelope, envelope_bytes(state_factory(3)))
    assert built is not None
    first, second, *_ = built.state.hosts.values()
    changed = first.model_copy(update={"status": "failed"})
    assert changed.status == "failed" and first.status == "configured"
    assert second.model_fields_set == set(HostRecord.model_fields)
    with pytest.raises(ValueError):
        first.status = "failed"  # type: ignore[misc]  # frozen: nothing can add to the shared set


def edited(raw: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    document = json.loads(raw)
    change(document)
    return json.dumps(document).encode()


def first_host(document: dict[str, Any]) -> dict[str, Any]:
    hosts: dict[str, Any] = document["state"]["hosts"]
    return hosts[next(iter(hosts))]


def first_resource(document: dict[str, Any]) -> dict[str, Any]:
    resources: dict[str, Any] = document["state"]["resources"]
    return resources[next(iter(resources))]


UNUSUAL: dict[str, Callable[[dict[str, Any]], None]] = {
    "a missing field without a default": lambda d: first_host(d).pop("address"),
    "an unknown field": lambda d: first_host(d).update(extra=1),
    "a number for a string": lambda d: first_host(d).update(error=5),
    "a float for an int": lambda d: d.update(serial=3.0),
    "a status outside the Literal": lambda d: first_host(d).update(status="weird"),
    "a list for attrs": lambda d: first_resource(d).update(attrs=[1]),
    "a number in drift": lambda d: first_host(d).update(drift=[1]),
    "a record that is not an object": lambda d: d["state"]["hosts"].update(x=[]),
}


@pytest.mark.parametrize("case", sorted(UNUSUAL))
def test_anything_unusual_is_left_to_validation(case: str, state_factory: Callable[..., State]) -> None:
    raw = edited(envelope_bytes(rich_state(state_factory)), UNUSUAL[case])
    assert fast.build(Envelope, raw) is None
    try:
        expected: object = Envelope.model_validate_json(raw)
    except ValueError:
        expected = None
    if expected is not None:  # e.g. a missing field with a default, or a float validation accepts
        assert Envelope.model_validate_json(raw) == expected


def test_a_field_added_since_the_file_was_written_gets_its_default(state_factory: Callable[..., State]) -> None:
    """A file from before a field existed (a host's `error`, the state's `quarantined`) builds fast, equal to
    what validation makes of it, its fields-set naming only what the file held."""
    def older(d: dict[str, Any]) -> None:
        first_host(d).pop("error")
        d["state"].pop("quarantined")

    raw = edited(envelope_bytes(rich_state(state_factory)), older)
    built = fast.build(Envelope, raw)
    expected = Envelope.model_validate_json(raw)
    assert built == expected
    assert built.state.model_fields_set == expected.state.model_fields_set
    host = next(iter(built.state.hosts.values()))
    assert host.error == "" and "error" not in host.model_fields_set


def test_not_json_is_left_to_validation() -> None:
    assert fast.build(Envelope, b'{"state": ') is None


def test_a_schema_error_still_names_the_field(tmp_path: Path, state_factory: Callable[..., State]) -> None:
    raw = edited(envelope_bytes(state_factory(2)), UNUSUAL["a status outside the Literal"])
    state = json.loads(raw)["state"]
    checksum = codec.checksum_of(codec.canonical_json(state))
    body = codec.canonical_json(state)
    (tmp_path / "state.json").write_bytes(b"".join(codec.envelope_chunks(body, checksum, serial=1, lineage="l")))
    with pytest.raises(StateCorrupted, match="status"):
        FileStateStore(tmp_path).read()
