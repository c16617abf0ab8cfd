"""Older state files in today's model. Pure functions over the parsed (and verified) document.

Formats 1 and 2 kept what grid remembers of its own runs as keys of `state.outputs`; format 3 has typed
fields for them. A file is upgraded as it is read — its checksum is verified on the bytes as stored, by the
rule of its own format — and written as format 3 the next time the state is saved (its old bytes stay as that
serial's backup). Keys of `outputs` grid did not write stay there, as they were.
"""

from __future__ import annotations

from typing import Any

from grid.state.model import FORMAT_VERSION

_INTERNAL_KEYS = ("applied_spec", "rendered_digest", "admin_public_key", "interrupted_regions")
"""The keys of `state.outputs` formats 1 and 2 used (their readers: workspace, apply, identity, engine)."""


def needs_upgrade(format_version: int) -> bool:
    return format_version < FORMAT_VERSION


def upgrade_envelope(document: dict[str, Any]) -> dict[str, Any]:
    """An envelope document of format 1 or 2 with its `state` in format 3's shape (format_version kept: it
    says what is stored). Values the old readers ignored (a key of the wrong type) become the field's default,
    as those readers treated them. Anything that is not a state object is left for validation to refuse."""
    state = document.get("state")
    if not isinstance(state, dict) or not isinstance(state.get("outputs", {}), dict):
        return document
    outputs = dict(state.get("outputs", {}))
    applied, digest, key, interrupted = (outputs.pop(name, None) for name in _INTERNAL_KEYS)
    upgraded = {**state, "outputs": outputs,
                "applied_spec": applied if isinstance(applied, dict) else None,
                "rendered_digest": digest if isinstance(digest, str) else "",
                "admin_public_key": key if isinstance(key, str) else "",
                "interrupted": [str(r) for r in interrupted] if isinstance(interrupted, list) else []}
    return {**document, "format_version": document.get("format_version", 1), "state": upgraded}
