"""The bytes of a state file: canonical JSON, checksum and verification. Pure functions.

Canonical JSON is json.dumps(sort_keys=True, separators=(",", ":")), so any tool can recompute:
    state digest = "sha256:" + sha256(canonical JSON of `state`)
    checksum     = "sha256:" + sha256(canonical JSON of {"format_version": 3, "lineage": …, "serial": …,
                                                        "state": <state digest>})
Formats 2 and 3 seal serial and lineage with the state: a lowered serial or a swapped lineage fails the
checksum like an edited value does (backups are chosen and pruned by serial). Format 1 files (checksum = the
state digest alone) and format 2 files are still read — each verified by its own rule, then upgraded to
today's model (grid.state.upgrade) — and written as format 3 the next time the state is saved.

grid writes the whole envelope canonically, with `state` as its last key:
    {"checksum":"sha256:…","format_version":3,"lineage":"…","serial":7,"state":<canonical state>}
so a file grid wrote is verified by hashing the raw bytes between the header and the final
brace — no re-serialisation of 10^5 records. Any other layout (e.g. pretty-printed by hand)
takes the slow path: parse, re-canonicalise, hash. Both paths compute the same checksum.
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import pydantic_core
from pydantic import ValidationError

from grid.state import _fastdecode
from grid.state._osutil import gc_paused
from grid.state.errors import RESTORE_HINT, StateCorrupted, StateTooNew
from grid.state.model import FORMAT_VERSION, Envelope, State
from grid.state.upgrade import needs_upgrade, upgrade_envelope

_HEADER = re.compile(
    rb'\{"checksum":"(sha256:[0-9a-f]{64})","format_version":([1-9]\d{0,8}),'
    rb'"lineage":"([0-9a-zA-Z-]*)","serial":(0|[1-9]\d{0,17}),"state":'
)  # numbers as canonical JSON writes them (no leading zeros): the checksum is over their values
_SERIAL = re.compile(rb'"serial"\s*:\s*(\d{1,18})')


@dataclass(frozen=True)
class Header:
    format_version: int
    serial: int
    lineage: str
    checksum: str


def canonical_json(value: Any) -> bytes:
    # allow_nan=False: NaN/Infinity are not JSON; other readers of the file would choke on them.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def checksum_of(canonical: bytes) -> str:
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def encode_state(state: State) -> tuple[bytes, str]:
    """Canonical JSON of `state` and its digest: the expensive half of a write, serial-independent."""
    body, digest, _ = encode_state_spans(state)
    return body, digest


RECORD_SECTIONS = ("hosts", "resources")
"""The state's per-node members: a sealed plan (grid.state.seal) reads the file without them."""


def encode_state_spans(state: State) -> tuple[bytes, str, dict[str, tuple[int, int]]]:
    """encode_state, and where each of RECORD_SECTIONS' values lies in the body (start, end byte offsets).

    The body is canonical JSON made member by member: `{"k":v,...}` with sorted keys is exactly what
    canonical_json gives for the whole object, so the bytes and the digest are the same as ever."""
    with gc_paused():
        try:
            # Python mode is ~30% cheaper to dump; for our str/int/dict/list fields it yields the same
            # JSON. Values json cannot take as they are (sets, datetimes, NaN in `attrs`) raise here,
            # and then pydantic's JSON mode converts them.
            return _members_body(state.model_dump())
        except (TypeError, ValueError):
            return _members_body(state.model_dump(mode="json"))


def _members_body(document: dict[str, Any]) -> tuple[bytes, str, dict[str, tuple[int, int]]]:
    pieces: list[bytes] = []
    spans: dict[str, tuple[int, int]] = {}
    offset = 1  # the opening brace
    for key in sorted(document):
        name = canonical_json(key) + b":"
        value = canonical_json(document[key])
        if pieces:
            offset += 1  # the comma before this member
        if key in RECORD_SECTIONS:
            spans[key] = (offset + len(name), offset + len(name) + len(value))
        pieces.append(name + value)
        offset += len(name) + len(value)
    body = b"{" + b",".join(pieces) + b"}"
    return body, checksum_of(body), spans


def envelope_checksum(state_digest: str, *, serial: object, lineage: object,
                      format_version: object = FORMAT_VERSION) -> str:
    """The checksum of an envelope: its header fields and its state's digest, hashed together.

    Format 1 checksummed the state alone; any other value here is the format 2 (and 3) rule.
    """
    if format_version == 1:
        return state_digest
    return checksum_of(canonical_json({"format_version": format_version, "lineage": lineage,
                                       "serial": serial, "state": state_digest}))


def envelope_chunks(body: bytes, state_digest: str, *, serial: int, lineage: str) -> tuple[bytes, ...]:
    """The file as chunks (header, state, closing brace) so the large body is never copied."""
    checksum = envelope_checksum(state_digest, serial=serial, lineage=lineage)
    header = canonical_json(
        {"checksum": checksum, "format_version": FORMAT_VERSION, "lineage": lineage, "serial": serial})
    return header[:-1] + b',"state":', body, b"}\n"


def verify(raw: bytes, name: str) -> tuple[Header, dict[str, Any] | None]:
    """Check format version and checksum; return the header and, on the slow path, the parsed document."""
    match = _HEADER.match(raw)
    end = len(raw) - (2 if raw.endswith(b"}\n") else 1)
    if match and raw[end:end + 1] == b"}":
        header = Header(int(match[2]), int(match[4]), match[3].decode(), match[1].decode())
        _check_version(header.format_version, name)
        # memoryview: hash the state slice in place instead of copying tens of megabytes
        digest = "sha256:" + hashlib.sha256(memoryview(raw)[match.end():end]).hexdigest()
        sealed = envelope_checksum(digest, serial=header.serial, lineage=header.lineage,
                                   format_version=header.format_version)
        if sealed == header.checksum:
            return header, None
    return _verify_parsed(raw, name)


FREEZE_RECORDS = 10_000
"""From this many resource records on, a decoded state is moved out of the cyclic GC's reach."""


def decode(raw: bytes, name: str) -> Envelope:
    """Verified bytes → Envelope; raises StateCorrupted / StateTooNew.

    A file grid wrote (the checksum verified on its raw bytes) is built by `_fastdecode`: the same
    models validation makes, in well under half the memory; anything unusual is validated as ever.
    A large state lives as long as the command, so its objects are frozen out of the cyclic GC
    (gc.freeze): no later collection, nor the one at interpreter exit, rescans 10^6 objects.
    """
    header, document = verify(raw, name)
    try:
        with gc_paused():
            if needs_upgrade(header.format_version):
                envelope = _upgraded(raw, document)
            elif document is None:
                fast = _fastdecode.build(Envelope, raw)
                # else one pass in pydantic-core
                envelope = fast if fast is not None else Envelope.model_validate_json(raw)
            else:
                envelope = Envelope.model_validate(document)
            if len(envelope.state.resources) >= FREEZE_RECORDS:
                _share_host_digests(envelope.state)
                gc.freeze()
            return envelope
    except ValidationError as exc:
        message = f"{name} does not match the state schema: {_summary(exc)}"
        raise StateCorrupted(message, RESTORE_HINT) from None


def _share_host_digests(state: State) -> None:
    """One string object per distinct cluster-wide and hosts-table digest of the host records: the parser
    caches no string longer than 64 characters, so each record had its own copy of the same two values
    (~24 MB at 10^5 hosts). Equal strings replace equal strings in place, as interning does: no value changes."""
    shared: dict[str, str] = {}
    share = shared.setdefault
    for record in state.hosts.values():
        values = record.__dict__
        cluster, table = values.get("cluster_digest"), values.get("hosts_digest")
        if type(cluster) is str and type(table) is str:
            values["cluster_digest"], values["hosts_digest"] = share(cluster, cluster), share(table, table)


def _upgraded(raw: bytes, document: dict[str, Any] | None) -> Envelope:
    """An older format's envelope in today's model (grid.state.upgrade), built as fast as a current one."""
    if document is None:
        fast = _fastdecode.build_parsed(Envelope, upgrade_envelope(pydantic_core.from_json(raw)))
        if fast is not None:
            return fast  # type: ignore[no-any-return]
        document = json.loads(raw)  # the fast build consumed its copy
    assert document is not None
    return Envelope.model_validate(upgrade_envelope(document))


def recomputed_checksum(raw: bytes) -> str:
    """The checksum of an envelope recomputed from its parsed content, by the rule of its own format: what an
    independent tool would compute (a copy is verified with it, not with the checksum it carries)."""
    document = json.loads(raw)
    digest = checksum_of(canonical_json(document["state"]))
    return envelope_checksum(digest, serial=document.get("serial"), lineage=document.get("lineage"),
                             format_version=document.get("format_version", 1))


def peek_serial(raw: bytes) -> int | None:
    """Best-effort serial of a damaged file, so a restore never reuses its number."""
    match = _SERIAL.search(raw[:4096])
    return int(match[1]) if match else None


def _verify_parsed(raw: bytes, name: str) -> tuple[Header, dict[str, Any]]:
    try:
        with gc_paused():
            document = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise StateCorrupted(f"{name} is not valid JSON (truncated?)", RESTORE_HINT) from None
    if not isinstance(document, dict):
        raise StateCorrupted(f"{name} is not a state envelope (a JSON object was expected)", RESTORE_HINT)
    version = document.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool):
        _check_version(version, name)
    expected = document.get("checksum")
    if not isinstance(expected, str) or "state" not in document:
        raise StateCorrupted(f"{name} lacks its checksum or state", RESTORE_HINT)
    serial, lineage = document.get("serial"), document.get("lineage")
    try:
        with gc_paused():
            digest = checksum_of(canonical_json(document["state"]))
        # No format_version: a hand-made file of format 1, whose checksum covers the state alone.
        actual = envelope_checksum(digest, serial=serial, lineage=lineage,
                                   format_version=document.get("format_version", 1))
    except ValueError:  # NaN/Infinity smuggled in: grid never writes those
        actual = "sha256:<not canonical JSON>"
    if actual != expected:
        raise StateCorrupted(
            f"{name} failed its checksum (expected {expected}, content hashes to {actual}): "
            "it was edited outside grid or damaged", RESTORE_HINT)
    header = Header(version if isinstance(version, int) else 1, serial if isinstance(serial, int) else 0,
                    lineage if isinstance(lineage, str) else "", expected)
    return header, document


def _check_version(version: int, name: str) -> None:
    if version > FORMAT_VERSION:
        raise StateTooNew(f"{name} was written by a newer grid (format {version}; this grid reads "
                          f"format {FORMAT_VERSION})", "upgrade grid — the file is left untouched")
    if version < 1:
        raise StateCorrupted(f"{name} has an impossible format version {version}", RESTORE_HINT)


def _summary(exc: ValidationError, limit: int = 3) -> str:
    errors = exc.errors(include_url=False)
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in errors[:limit]]
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return "; ".join(parts) + more
