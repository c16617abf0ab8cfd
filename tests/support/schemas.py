"""Validate documents against docs/schemas/*.schema.json: with `jsonschema` when installed, else a small
structural check (required keys, const/enum, JSON types, nested objects, arrays and $refs)."""

from __future__ import annotations

import json
from typing import Any

from .paths import SCHEMAS

_TYPES: dict[str, tuple[type, ...]] = {"object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
                                       "integer": (int,), "number": (int, float), "null": (type(None),)}


def schema(name: str) -> dict[str, Any]:
    return dict(json.loads((SCHEMAS / f"{name}.schema.json").read_text()))


def validate(doc: Any, name: str) -> None:
    """Raise AssertionError (or jsonschema.ValidationError) when `doc` does not match schema `name`."""
    root = schema(name)
    try:
        import jsonschema
    except ImportError:
        _check(doc, root, root, "$")
        return
    jsonschema.Draft202012Validator.check_schema(root)
    jsonschema.Draft202012Validator(root).validate(doc)


def _check(value: Any, node: dict[str, Any], root: dict[str, Any], where: str) -> None:
    if "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    if "const" in node:
        assert value == node["const"], f"{where}: {value!r} != {node['const']!r}"
    if "enum" in node:
        assert value in node["enum"], f"{where}: {value!r} not in {node['enum']}"
    kinds = node.get("type")
    if kinds:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        ok = any(isinstance(value, _TYPES[k]) and not (k in ("integer", "number") and isinstance(value, bool))
                 for k in kinds)
        assert ok, f"{where}: {type(value).__name__} is not {kinds}"
    if isinstance(value, dict):
        for key in node.get("required", []):
            assert key in value, f"{where}: missing {key!r}"
        for key, sub in node.get("properties", {}).items():
            if key in value:
                _check(value[key], sub, root, f"{where}.{key}")
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                if key not in node.get("properties", {}):
                    _check(item, extra, root, f"{where}.{key}")
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(value):
            _check(item, node["items"], root, f"{where}[{i}]")
