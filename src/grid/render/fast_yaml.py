"""Block YAML for the inventory's plain data, byte for byte what PyYAML's emitter writes for it, ~13 times faster.

A 10,000-node inventory is ~560,000 YAML nodes: PyYAML's pure-Python emitter takes ~7 s over them, which every
`grid up` that changes one node paid while rendering (issue 20: a change costs what it changes). The inventory is
plain data — mappings with scalar keys, sequences, single-line scalars — whose block layout is regular; each
distinct scalar's text is still PyYAML's own (asked once, then remembered), so quoting and style never differ.
Anything else (a multi-line or very long scalar, a key PyYAML would write as a complex key, an object met twice,
which PyYAML writes as an anchor and alias, a type it represents otherwise) makes `dump` return None, and the
caller dumps with PyYAML as ever. tests/render/test_fast_yaml.py holds the two to the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

_SCALARS = (str, int, float, bool, type(None))
# Characters PyYAML writes plain in block context wherever they are (no indicator, space, quote or colon), and a
# first character that starts no indicator or document marker: such a string is plain unless the YAML 1.1
# resolver reads it as another type (true, 0755, 1e3, 2026-12-06, …), which `_resolves_to_str` asks.
_PLAIN = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./-]*")
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()
_LONGEST = 500  # well under the width PyYAML folds at (1000) and the length a simple key may have (128 for keys)
_LONGEST_KEY = 120


class _Unsupported(Exception):
    pass


def dump(value: Any, scalar_text: Callable[[Any], str]) -> str | None:
    """The block YAML of `value` (a non-empty mapping), as yaml.dump(value, Dumper=<indenting SafeDumper>,
    sort_keys=True, default_flow_style=False) writes it; None when it is not plain data this emitter takes.
    `scalar_text(v)`: how PyYAML writes scalar `v` as a mapping value (the caller's Dumper decides)."""
    if not isinstance(value, dict) or not value:
        return None
    memo: dict[tuple[type, Any], str] = {}
    # Strings found plain, each asked of the resolver once: the keys and most values of a host's vars repeat on
    # every host (10^4 hosts, ~20 vars each: the resolver was most of the dump's time).
    plain: set[str] = set()

    def scalar(item: Any, *, key: bool = False) -> str:
        item_type = type(item)
        if item_type is str:
            if item in plain:
                return str(item)
            if len(item) <= _LONGEST_KEY and _PLAIN.fullmatch(item) and _resolves_to_str(item):
                plain.add(item)
                return str(item)  # most of an inventory: hostnames, addresses, names, paths
        elif key:
            raise _Unsupported  # keys of other types are left to PyYAML
        elif item_type is int:
            return str(item)
        elif item_type is bool:
            return "true" if item else "false"
        elif item is None:
            return "null"
        marker = (item_type, item)
        text = memo.get(marker)
        if text is None:
            text = scalar_text(item)
            if "\n" in text or len(text) > _LONGEST or text.startswith(("!", "&", "*")):
                raise _Unsupported
            memo[marker] = text
        if key and (len(text) > _LONGEST_KEY or not item or not (item.isascii() and item.isprintable())):
            raise _Unsupported  # a long, empty or multi-line key is written "? key"
        return text

    out: list[str] = []
    seen: set[int] = set()

    def mapping(items: dict[Any, Any], indent: int, first_prefix: str | None) -> None:
        if id(items) in seen:
            raise _Unsupported  # PyYAML writes it once with an anchor, then an alias
        seen.add(id(items))
        pad = " " * indent
        try:
            keys = sorted(items)
        except TypeError:
            raise _Unsupported from None
        for position, key in enumerate(keys):
            head = first_prefix if position == 0 and first_prefix is not None else pad
            node(items[key], indent, head + scalar(key, key=True) + ":")

    def sequence(items: list[Any], indent: int, first_prefix: str | None) -> None:
        if id(items) in seen:
            raise _Unsupported
        seen.add(id(items))
        pad = " " * indent
        for position, item in enumerate(items):
            head = (first_prefix if position == 0 and first_prefix is not None else pad) + "-"
            item_type = type(item)
            if item_type is dict and item:
                mapping(item, indent + 2, head + " ")
            elif item_type is list and item:
                sequence(item, indent + 2, head + " ")
            else:
                out.append(head + " " + _leaf(item) + "\n")

    def node(item: Any, indent: int, line: str) -> None:
        """`line` ends with "key:"; the value follows on it (a scalar, an empty collection) or below it."""
        item_type = type(item)
        if item_type is dict and item:
            out.append(line + "\n")
            mapping(item, indent + 2, None)
        elif item_type is list and item:
            out.append(line + "\n")
            sequence(item, indent + 2, None)
        else:
            out.append(line + " " + _leaf(item) + "\n")

    def _leaf(item: Any) -> str:
        item_type = type(item)
        if item_type is dict:
            return "{}"
        if item_type is list:
            return "[]"
        if item_type not in _SCALARS:
            raise _Unsupported  # tuples, sets, subclasses: PyYAML's representers decide
        return scalar(item)

    try:
        mapping(value, 0, None)
    except (_Unsupported, RecursionError):
        return None
    return "".join(out)


def _resolves_to_str(text: str) -> bool:
    return bool(_RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG)  # type: ignore[no-untyped-call]
