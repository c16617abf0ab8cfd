"""A sealed file state: the record, beside state.json, that planning some inputs against it changes nothing.

A plan of 10^5 nodes decodes ~90 MB of records, expands the spec and digests every host (~2.6 s) to find, most
of the time, that nothing changed. A full plan that found nothing to do leaves that finding here, bound to what it
saw: the state file's checksum, and one digest of every other input of the plan (grid.operations.sealed). The next
plan with inputs of the same digest, against the same file, is that same no-op: it reads the file's small members
only (the per-node ones are skipped at the byte offsets the state write recorded) and lists nothing. Any write of
the state changes its checksum; any change of the spec, the user's roles, the images, the admin key or grid
itself changes the inputs digest: either way the seal no longer applies and the next plan is made in full. Both
files are hints: missing, damaged or stale, they cost that plan its full time and nothing else. They hold digests,
counts and offsets only, never a value of the state.

    state.index.json  {"checksum": …, "spans": {"hosts": [start, end], "resources": [start, end]}}
                      where those members' values lie in state.json (bytes); rewritten by every state write
    state.seal.json   {"checksum": …, "inputs": …, "resources": n, "hosts": n}
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from grid.state import _osutil as osu
from grid.state import codec
from grid.state.model import FORMAT_VERSION, Envelope

INDEX_FILE = "state.index.json"
SEAL_FILE = "state.seal.json"
_MEMBER_NAMES = {section: codec.canonical_json(section) + b":" for section in codec.RECORD_SECTIONS}


@dataclass(frozen=True)
class Sealed:
    """A sealed state as a plan reads it: everything but the per-node records, and how many there are."""

    inputs: str  # the digest of the inputs the sealing plan was made from
    envelope: Envelope  # verified; its state's `resources` and `hosts` are left out (empty): never write it back
    resources: int  # resource records the file holds (all unchanged, by the seal)
    hosts: int


def write_index(workdir: Path, checksum: str, spans: dict[str, tuple[int, int]]) -> None:
    """Where the record sections of the state.json just written (`checksum`) lie; best effort."""
    _write(workdir / INDEX_FILE, {"checksum": checksum, "spans": {k: list(v) for k, v in sorted(spans.items())}})


def index_for(workdir: Path, envelope: Envelope) -> None:
    """Write the index of the state.json `envelope` was read from when no index describes it (a file an older grid
    or a migration wrote): its canonical bytes are made again, and their checksum must be the file's."""
    index = _read(workdir / INDEX_FILE)
    if index is not None and index.get("checksum") == envelope.checksum:
        return
    _, digest, spans = codec.encode_state_spans(envelope.state)
    header = codec.envelope_chunks(b"", digest, serial=envelope.serial, lineage=envelope.lineage)[0]
    if codec.envelope_checksum(digest, serial=envelope.serial, lineage=envelope.lineage) == envelope.checksum:
        write_index(workdir, envelope.checksum, {k: (len(header) + a, len(header) + b) for k, (a, b) in spans.items()})


def forget(workdir: Path) -> None:
    """No seal and no index: the state was written by a path that does not record offsets."""
    for name in (INDEX_FILE, SEAL_FILE):
        with contextlib.suppress(OSError):
            (workdir / name).unlink(missing_ok=True)


def write_seal(workdir: Path, checksum: str, inputs: str, *, resources: int, hosts: int) -> None:
    """Record that a plan of `inputs` against the state with `checksum` changes nothing; best effort (a plan
    may run where it cannot write: it then only stays slow)."""
    document = {"checksum": checksum, "inputs": inputs, "resources": resources, "hosts": hosts}
    if _read(workdir / SEAL_FILE) != document:  # a no-op run after a no-op run writes nothing
        _write(workdir / SEAL_FILE, document)


def read_sealed(workdir: Path, state_file: str) -> Sealed | None:
    """The sealed state when seal, index and state.json agree (one checksum, verified over the file's bytes);
    None when any of them is missing, stale or unusual. A damaged state.json raises as a full read does."""
    seal, index = _read(workdir / SEAL_FILE), _read(workdir / INDEX_FILE)
    if seal is None or index is None or seal.get("checksum") != index.get("checksum"):
        return None
    inputs, resources, hosts = seal.get("inputs"), seal.get("resources"), seal.get("hosts")
    spans = _spans(index.get("spans"))
    if not isinstance(inputs, str) or not _count(resources) or not _count(hosts) or spans is None:
        return None
    try:
        raw = (workdir / state_file).read_bytes()
    except FileNotFoundError:
        return None
    header, parsed = codec.verify(raw, state_file)
    if parsed is not None or header.checksum != seal["checksum"] or header.format_version != FORMAT_VERSION:
        return None  # not the file the seal saw, or not laid out as grid writes it
    (hosts_start, hosts_end), (resources_start, resources_end) = spans["hosts"], spans["resources"]
    if not (hosts_end <= resources_start and resources_end < len(raw)) or not all(
            _is_member(raw, section, start, end) for section, (start, end) in spans.items()):
        return None
    small = raw[:hosts_start] + b"{}" + raw[hosts_end:resources_start] + b"{}" + raw[resources_end:]
    try:
        envelope = Envelope.model_validate_json(small)
    except ValidationError:
        return None
    return Sealed(inputs, envelope, resources, hosts)  # type: ignore[arg-type]  # _count checked both


def _is_member(raw: bytes, section: str, start: int, end: int) -> bool:
    name = _MEMBER_NAMES[section]
    return (start >= len(name) and raw[start - len(name):start] == name and raw[start:start + 1] == b"{"
            and raw[end - 1:end] == b"}")


def _spans(value: object) -> dict[str, tuple[int, int]] | None:
    if not isinstance(value, dict) or set(value) != set(codec.RECORD_SECTIONS):
        return None
    out: dict[str, tuple[int, int]] = {}
    for section, span in value.items():
        if not (isinstance(span, list) and len(span) == 2 and all(_count(x) for x in span) and span[0] < span[1]):
            return None
        out[section] = (span[0], span[1])
    return out


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _read(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _write(path: Path, document: dict[str, Any]) -> None:
    # Not synced: after a crash the file is whole, absent, empty or of an older checksum, and each of those
    # reads as "no seal". The temp's name is one the state store sweeps when a killed writer left it.
    temp = path.with_name(f".state.seal.{os.getpid()}.{path.name}.tmp")
    with contextlib.suppress(OSError):
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, osu.FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(codec.canonical_json(document))
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
