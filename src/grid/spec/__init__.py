"""Load a cluster spec: YAML text → `Cluster` + source map + diagnostics."""

from __future__ import annotations

import difflib
import hashlib
import json
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from grid.diagnostics import Diagnostic, Diagnostics, Path, error
from grid.spec.loader import Loaded, SourceMap, load_file, load_text
from grid.spec.model import API_VERSION, Cluster

__all__ = ["API_VERSION", "Cluster", "LoadedSpec", "SourceMap", "load_spec", "load_spec_text", "spec_digest"]


@dataclass(frozen=True)
class LoadedSpec:
    cluster: Cluster | None
    source: SourceMap
    diagnostics: Diagnostics

    @property
    def ok(self) -> bool:
        return self.cluster is not None and not self.diagnostics.has_errors


def load_spec(path: str) -> LoadedSpec:
    return _from_loaded(load_file(path))


def load_spec_text(text: str | bytes, file: str = "<spec>") -> LoadedSpec:
    return _from_loaded(load_text(text, file))


def spec_digest(cluster: Cluster) -> str:
    """Digest of the normalised spec (defaults filled in), stable across formatting changes."""
    canonical = json.dumps(cluster.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _from_loaded(loaded: Loaded) -> LoadedSpec:
    found = list(loaded.diagnostics)
    if found:
        return LoadedSpec(None, loaded.source, Diagnostics.of(found))
    if not isinstance(loaded.data, dict):
        found.append(error("the spec must be a mapping with apiVersion, kind, metadata and spec",
                           hint=f"start the file with 'apiVersion: {API_VERSION}'", code="schema")
                     .at(loaded.source.locate(())))
        return LoadedSpec(None, loaded.source, Diagnostics.of(found))
    version = loaded.data.get("apiVersion")
    if isinstance(version, str) and version.startswith("grid/") and version != API_VERSION:
        found.append(error(f"apiVersion '{version}' is not supported by this grid",
                           path=("apiVersion",), hint=f"this grid reads '{API_VERSION}'; upgrade grid or the spec",
                           code="schema").at(loaded.source.locate(("apiVersion",))))
        return LoadedSpec(None, loaded.source, Diagnostics.of(found))
    try:
        cluster = Cluster.model_validate(loaded.data)
    except ValidationError as exc:
        for item in exc.errors(include_url=False):
            found.append(_schema_diagnostic(item, loaded.data, loaded.source))
        return LoadedSpec(None, loaded.source, Diagnostics.of(found))
    return LoadedSpec(cluster, loaded.source, Diagnostics.of(found))


def _data_path(loc: tuple[Any, ...], data: object) -> Path:
    """Drop the parts of a pydantic location that name union members rather than data keys."""
    path: list[str | int] = []
    current: object = data
    for part in loc:
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            path.append(part)
            current = current[part]  # type: ignore[index]  # narrowed just above
        elif isinstance(current, dict | list):
            # A missing key, or a key that is being rejected: it is the last meaningful part.
            if isinstance(part, str) and not part[:1].isupper() and "[" not in part and part not in (
                    "constrained-str", "int", "str", "float", "bool"):
                path.append(part)
            break
    return tuple(path)


def _model_at(path: Path) -> type[BaseModel] | None:
    """The model class that describes the mapping at `path` (for did-you-mean hints)."""
    annotation: Any = Cluster
    for part in path:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if not isinstance(part, str) or part not in annotation.model_fields:
                return None
            annotation = annotation.model_fields[part].annotation
        elif typing.get_origin(annotation) in (list, tuple, dict):
            args = typing.get_args(annotation)
            annotation = args[-1] if args else None
        else:
            return None
    annotation = _unwrap(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        models = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        return models[0] if models else annotation
    if origin is typing.Annotated:
        return typing.get_args(annotation)[0]
    return annotation


def _schema_diagnostic(item: Any, data: object, source: SourceMap) -> Diagnostic:
    kind = item["type"]
    path = _data_path(tuple(item["loc"]), data)
    where = "/".join(str(p) for p in path) or "the document"
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        model = _model_at(path[:-1])
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else (
            f"allowed keys here: {', '.join(allowed)}" if allowed else "remove it")
        return error(f"unknown key '{key}'", path, hint=hint, code="schema").at(source.locate(path, key=True))
    if kind == "missing":
        field = str(path[-1]) if path else "?"
        parent = path[:-1]
        return error(f"missing required key '{field}'", path, code="schema",
                     hint=f"add '{field}:' under {'/'.join(str(p) for p in parent) or 'the top level'}"
                     ).at(source.locate(parent, key=True))
    message = str(item["msg"])
    hint = ""
    if kind == "value_error":  # our own validators: their message is the whole story
        message = message.removeprefix("Value error, ")
    if kind == "literal_error":
        expected = item.get("ctx", {}).get("expected", "")
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",") if c.strip()]
        value = item.get("input")
        close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.5) if value is not None else []
        hint = f"did you mean '{close[0]}'?" if close else f"use one of: {', '.join(choices)}"
    elif kind == "string_pattern_mismatch":
        hint = _pattern_hint(path)
    elif kind in ("int_parsing", "int_type", "float_parsing", "float_type", "bool_parsing", "bool_type"):
        hint = "write a plain number without quotes or units" if "bool" not in kind else "write true or false"
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        hint = "this must be a mapping of keys to values"
    elif kind in ("list_type", "tuple_type"):
        hint = "this must be a list (YAML '- item' lines or [a, b])"
    return error(f"{where}: {message}", path, hint=hint, code="schema").at(source.locate(path))


def _pattern_hint(path: Path) -> str:
    last = next((p for p in reversed(path) if isinstance(p, str)), "")
    if last in ("name", "fabrics", "storage", "between", "pool", "region") or not last:
        return "names are DNS labels: lowercase letters, digits and '-', starting with a letter, at most 20 characters"
    if last == "mount":
        return "an absolute path of letters, digits, '.', '_' and '-' (no spaces or shell characters)"
    if "sysctl" in path:  # a value's path ends in its key
        return ("sysctl keys look like net.core.rmem_max; values are numbers or plain text (letters, digits, "
                "spaces and . _ : / % -)")
    return "only letters, digits and a few punctuation characters are allowed here"
