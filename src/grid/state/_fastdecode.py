"""Build state models from parsed JSON as pydantic validation would, at a fraction of its memory.

`Envelope.model_validate_json` on 10^5 node records costs ~0.7 GB: every record gets its own copy of
its dicts and its own `__pydantic_fields_set__` (a set of 216 to 728 bytes). For a file whose checksum has
just been verified, `decode` instead parses once with pydantic-core's JSON parser (`from_json`, the
very parser `model_validate_json` uses, so every `Any` value is the same) and builds each model here:

- every field is checked as strict validation would (exact str / int, Literal members, list[str],
  nested models), and the record must hold the model's fields — what grid writes; a field it lacks whose
  default is an empty list or dict or an immutable value (a file written before the field existed) gets that
  default, as validation would give it;
- the parsed dicts become the models' values (validation would copy them into equal ones), and all
  instances of a class share one fields-set, equal to the one validation would give each (all fields).
  Models are frozen, and pydantic copies the set before changing it (model_copy), so sharing is safe.

Anything else — a missing field, a type validation would coerce, a model with validators, aliases,
constraints or field types not listed here — returns None, and the caller validates the usual way
(which then also produces the usual error message). So the result is always what validation gives.
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Any

import pydantic_core
from pydantic import BaseModel

_FAIL = object()
_setattr = object.__setattr__
_PLAIN_CONFIG = frozenset({"frozen", "extra", "title"})
"""Model settings that do not change what validation makes of JSON (str_strip_whitespace etc. would)."""


class _Unsupported(Exception):
    """A model this module cannot build exactly as validation would."""


def build(model: type[BaseModel], raw: bytes) -> Any | None:
    """`model` from JSON bytes as `model.model_validate_json(raw)` would build it, or None."""
    try:
        builder = _builder(model)
    except _Unsupported:
        return None
    try:
        data = pydantic_core.from_json(raw)
    except ValueError:
        return None
    value = builder(data)
    return None if value is _FAIL else value


def build_parsed(model: type[BaseModel], data: Any) -> Any | None:
    """`model` from a value pydantic-core's JSON parser produced (`from_json`), as `build` makes it, or None.

    `data` is consumed: its containers may be filled with models even when None is returned."""
    try:
        builder = _builder(model)
    except _Unsupported:
        return None
    value = builder(data)
    return None if value is _FAIL else value


Check = typing.Callable[[Any], Any]  # value -> built value, or _FAIL


@functools.cache
def _builder(model: type[BaseModel]) -> Check:
    decorators = model.__pydantic_decorators__
    if (decorators.validators or decorators.field_validators or decorators.root_validators
            or decorators.model_validators or model.__pydantic_post_init__ or model.__private_attributes__
            or model.__pydantic_root_model__ or not set(model.model_config) <= _PLAIN_CONFIG
            or model.model_config.get("extra") not in (None, "forbid", "ignore")):
        raise _Unsupported(model.__name__)
    names = tuple(model.model_fields)
    keys = frozenset(names)
    strs: list[str] = []
    ints: list[str] = []
    others: list[tuple[str, Check]] = []
    for name, info in model.model_fields.items():
        if info.alias not in (None, name) or info.validation_alias not in (None, name) or info.metadata:
            raise _Unsupported(f"{model.__name__}.{name}")
        annotation = info.annotation
        if annotation is str:
            strs.append(name)
        elif annotation is int:
            ints.append(name)
        else:
            others.append((name, _check(annotation)))
    fields_set = set(names)  # shared by every instance built here: see the module docstring
    defaults = {name: _default_of(info) for name, info in model.model_fields.items()}
    fillable = frozenset(name for name, default in defaults.items() if default is not _FAIL)

    build_one = _compiled(model, names, strs, ints, others, fields_set,
                          lambda data: _built_with_defaults(data, frozenset(keys - data.keys())))

    def _built_with_defaults(data: dict[str, Any], missing: frozenset[str]) -> Any:
        if not missing <= fillable or not data.keys() <= keys:
            return _FAIL
        for name in missing:
            default = defaults[name]
            data[name] = default() if callable(default) else default
        instance = build_one(data)
        if instance is not _FAIL:
            _setattr(instance, "__pydantic_fields_set__", set(names) - missing)  # as validation records it
        return instance

    return build_one


def _compiled(model: type[BaseModel], names: tuple[str, ...], strs: list[str], ints: list[str],
              others: list[tuple[str, Check]], fields_set: set[str], other_keys: Check) -> Check:
    """The builder of one model as straight-line code, its field checks unrolled: the loops and the per-record
    dict comprehension over the field names cost ~1 µs a record (0.25 s at 10^5 nodes).

    What it checks is the loop's: exact str / int fields, then the other fields' checks in declaration order;
    a record without exactly the model's keys goes to `other_keys`. Field names are Python identifiers
    (pydantic requires it), so the generated text holds no value of the state."""
    index = {name: i for i, name in enumerate(names)}
    namespace: dict[str, Any] = {"_FAIL": _FAIL, "_setattr": _setattr, "new": model.__new__, "model": model,
                                 "keys": frozenset(names), "fields_set": fields_set, "other_keys": other_keys}
    lines = ["def build_one(data):", "    if type(data) is not dict:", "        return _FAIL",
             "    if data.keys() != keys:", "        return other_keys(data)"]
    lines += [f"    v{index[name]} = data[{name!r}]" for name in names]
    lines += [f"    if type(v{index[name]}) is not str:\n        return _FAIL" for name in strs]
    lines += [f"    if type(v{index[name]}) is not int:\n        return _FAIL" for name in ints]
    for name, check in others:
        i = index[name]
        if check is _same:
            continue
        if check is _any_dict:  # the most common check, inlined
            lines.append(f"    if type(v{i}) is not dict:\n        return _FAIL")
            continue
        namespace[f"check{i}"] = check
        lines.append(f"    v{i} = check{i}(v{i})\n    if v{i} is _FAIL:\n        return _FAIL")
    values = ", ".join(f"{name!r}: v{index[name]}" for name in names)  # declaration order, as validation
    lines += ["    instance = new(model)", f"    _setattr(instance, '__dict__', {{{values}}})",
              "    _setattr(instance, '__pydantic_fields_set__', fields_set)",
              "    _setattr(instance, '__pydantic_extra__', None)",
              "    _setattr(instance, '__pydantic_private__', None)", "    return instance"]
    exec("\n".join(lines), namespace)  # the text was made above from field names only
    return namespace["build_one"]  # type: ignore[no-any-return]


def _default_of(info: Any) -> Any:
    """A missing field's value maker (list, dict) or immutable default; _FAIL when it has neither."""
    if info.default_factory in (list, dict):
        return info.default_factory
    if info.default_factory is None and info.default is not pydantic_core.PydanticUndefined and (
            info.default is None or type(info.default) in (str, int, bool)):
        return info.default
    return _FAIL


def _check(annotation: Any) -> Check:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return _same
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _builder(annotation)
    if origin is typing.Literal and args and all(type(a) is str for a in args):
        allowed = frozenset(args)
        return lambda value: value if type(value) is str and value in allowed else _FAIL
    if origin is list and args == (str,):
        return _str_list
    if origin is list and args == (int,):
        return _int_list
    if origin is dict and args == (str, Any):
        return _any_dict
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        present = _check(next(a for a in args if a is not type(None)))  # X | None: null, or what X takes
        return lambda value: None if value is None else present(value)
    if origin is list and len(args) == 1:
        item = _check(args[0])
        return lambda value: _each_of_list(value, item)
    if origin is dict and len(args) == 2 and args[0] is str:
        item = _check(args[1])
        return lambda value: _each_of_dict(value, item)
    raise _Unsupported(str(annotation))  # other unions, floats, ...: validation may coerce


def _same(value: Any) -> Any:
    return value


def _any_dict(value: Any) -> Any:
    return value if type(value) is dict else _FAIL


def _str_list(value: Any) -> Any:
    if type(value) is not list:
        return _FAIL
    for item in value:
        if type(item) is not str:
            return _FAIL
    return value


def _int_list(value: Any) -> Any:
    if type(value) is not list:
        return _FAIL
    for item in value:
        if type(item) is not int:
            return _FAIL
    return value


# Containers of models are filled in place: the parsed JSON is ours alone, and on _FAIL it is dropped.

def _each_of_list(value: Any, item: Check) -> Any:
    if type(value) is not list:
        return _FAIL
    for i, v in enumerate(value):
        built = item(v)
        if built is _FAIL:
            return _FAIL
        value[i] = built
    return value


def _each_of_dict(value: Any, item: Check) -> Any:
    if type(value) is not dict:
        return _FAIL
    for key, v in value.items():
        built = item(v)
        if built is _FAIL:
            return _FAIL
        value[key] = built  # an existing key: the dict does not resize while iterated
    return value
