"""Hypothesis strategies for specs that must be rejected: each draw is (category, file bytes).

Every mutation is invalid by construction (a wrong type where the schema has no coercion, a required
key removed, a key the schema forbids, a name with a character no name pattern allows, ...), so the
property is strict: `grid validate` and `grid plan` exit 1 with a diagnostic, whatever the draw.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import strategies as st

from support.paths import EXAMPLES

LAB_TEXT = (EXAMPLES / "local-lab" / "cluster.yaml").read_text()
BASE: dict[str, Any] = yaml.safe_load(LAB_TEXT)

Path = tuple[str | int, ...]
R0, R1 = ("spec", "regions", 0), ("spec", "regions", 1)

WRONG: dict[Path, list[Any]] = {
    ("apiVersion",): [1, [], {}, None, "grid/v2", True],
    ("kind",): [1, "Clusterr", [], None],
    ("metadata",): ["lab", 1, [], None],
    ("metadata", "name"): [1, 1.5, [], {}, None, True, ""],
    ("metadata", "labels"): ["purpose", [1], 7],
    ("spec",): ["x", 1, [], None],
    ("spec", "target"): ["mars", 1, [], None],
    ("spec", "regions"): ["east", 1, {}, None, []],
    (*R0,): ["east", 1, [], None],
    (*R0, "site"): ["x", 1, [], None],
    (*R0, "site", "power_mw"): ["lots", [], {}, None, -1, 0, float("nan"), float("inf"), 10**9],
    (*R0, "site", "pue"): ["x", 0.5, 99],
    (*R0, "site", "cooling"): ["ice", 1],
    (*R0, "fabrics"): ["compute", 1, {}],
    (*R0, "fabrics", 0, "cidr"): [1, "x", "198.18.0.1/24", "300.1.1.0/24", "198.18.0.0/33", [], None, "::1/128"],
    (*R0, "fabrics", 0, "mtu"): ["jumbo", 1, 100000, [], None, 1.5],
    (*R0, "fabrics", 0, "kind"): ["carrier-pigeon", 3],
    (*R0, "pools", 0, "count"): ["many", -1, 1.5, [], {}, None, 10**18, 2**64 + 1],
    (*R0, "pools", 0, "fabrics"): ["compute", 1, [1], ["nope"]],
    (*R0, "pools", 0, "accelerator"): ["h100", 8, []],
    (*R0, "pools", 0, "accelerator", "per_node"): [65, -1, "eight"],
    (*R0, "storage", 0, "mount"): ["shared", 1, [], "/a b", "/a;b", ""],
    (*R0, "storage", 0, "capacity_tib"): [0, -5, "big", None],
    ("spec", "links"): ["east-west", 1, [{}]],
    ("spec", "links", 0, "between"): [["east"], ["east", "mars"], "east", 1, ["east", "east", "west"]],
    ("spec", "configuration"): ["base", 1, []],
    ("spec", "configuration", "admin_user"): ["Root", "a b", 1, "x" * 40],
    ("spec", "energy", "utilization"): [0, 2, "x"],
}

REQUIRED: list[Path] = [
    ("apiVersion",), ("kind",), ("metadata",), ("metadata", "name"), ("spec",), ("spec", "regions"),
    (*R0, "name"), (*R0, "site"), (*R0, "site", "power_mw"), (*R0, "fabrics", 0, "cidr"),
    (*R0, "fabrics", 0, "name"), (*R0, "pools", 0, "name"), (*R0, "pools", 0, "count"),
    (*R0, "storage", 0, "capacity_tib"), (*R0, "storage", 0, "mount"), (*R0, "storage", 0, "name"),
    ("spec", "links", 0, "between"), ("spec", "links", 0, "bandwidth_gbps"),
    (*R0, "fabrics", 0), (*R1,),  # a fabric a pool uses; a region a link names
]

CLOSED_MAPPINGS: list[Path] = [
    (), ("metadata",), ("spec",), (*R0,), (*R0, "site"), (*R0, "fabrics", 0), (*R0, "fabrics", 0, "topology"),
    (*R0, "storage", 0), (*R0, "pools", 0), (*R0, "pools", 0, "accelerator"), (*R0, "pools", 0, "resources"),
    (*R1, "pools", 0), ("spec", "links", 0), ("spec", "configuration"), ("spec", "energy"),
    ("spec", "defaults"), ("spec", "defaults", "ssh"),
]

NAME_FIELDS: list[Path] = [
    ("metadata", "name"), (*R0, "name"), (*R1, "name"), (*R0, "fabrics", 0, "name"), (*R0, "fabrics", 1, "name"),
    (*R0, "storage", 0, "name"), (*R0, "pools", 0, "name"), (*R1, "pools", 0, "name"),
    (*R0, "pools", 0, "fabrics", 0), (*R0, "pools", 0, "roles", 0), ("spec", "configuration", "roles", 0),
    ("spec", "configuration", "admin_user"), ("spec", "links", 0, "between", 0),
]

# Each holds a character no name pattern allows, so a name containing one is invalid wherever it is.
DANGEROUS = [";", "$(id)", "`id`", "../", "..", "/", "\n", "\r\n", "'", '"', "\\", "|", "&&", ">", "<", "*", "?",
             "{{ x }}", "{%", " ", "\t", "é", "名", "\u202e", "\u200b", "%s", "${IFS}", "#", ":", "!", "=", "@",
             "A", ".", "~", "\x7f", "\U0001f600"]


def _get(data: Any, path: Path) -> Any:
    for key in path:
        data = data[key]
    return data


def _set(data: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    _get(out, path[:-1])[path[-1]] = value
    return out


def _delete(data: dict[str, Any], path: Path) -> dict[str, Any]:
    out = copy.deepcopy(data)
    parent = _get(out, path[:-1])
    del parent[path[-1]]
    return out


def dump(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


@st.composite
def wrong_type(draw: st.DrawFn) -> tuple[str, bytes]:
    path = draw(st.sampled_from(sorted(WRONG, key=str)))
    return "wrong type", dump(_set(BASE, path, draw(st.sampled_from(WRONG[path]))))


@st.composite
def missing_key(draw: st.DrawFn) -> tuple[str, bytes]:
    return "missing key", dump(_delete(BASE, draw(st.sampled_from(REQUIRED))))


@st.composite
def unknown_key(draw: st.DrawFn) -> tuple[str, bytes]:
    path = draw(st.sampled_from(CLOSED_MAPPINGS))
    key = "x-" + draw(st.text(max_size=12))
    out = copy.deepcopy(BASE)
    _get(out, path)[key] = draw(st.one_of(st.none(), st.integers(), st.text(max_size=8), st.just([1, 2])))
    return "unknown key", dump(out)


@st.composite
def huge_count(draw: st.DrawFn) -> tuple[str, bytes]:
    count = draw(st.sampled_from([1_000_000, 1_000_001, 10**7, 10**12, 10**18, 2**63, 2**64 + 1]))
    region = draw(st.sampled_from([0, 1]))
    out = _set(BASE, ("spec", "regions", region, "pools", 0, "count"), count)
    if draw(st.booleans()):  # many pools at once too
        pools = _get(out, ("spec", "regions", region, "pools"))
        pools.extend({**copy.deepcopy(pools[0]), "name": f"p{i}"} for i in range(draw(st.integers(1, 200))))
    return "huge count", dump(out)


@st.composite
def overlapping_cidrs(draw: st.DrawFn) -> tuple[str, bytes]:
    target = draw(st.sampled_from([(*R0, "fabrics", 1, "cidr"), (*R1, "fabrics", 0, "cidr")]))
    cidr = draw(st.sampled_from(["198.18.0.0/24", "198.18.0.0/16", "198.18.0.128/25", "198.16.0.0/12",
                                 "0.0.0.0/0"]))
    return "overlapping CIDRs", dump(_set(BASE, target, cidr))


@st.composite
def bad_name(draw: st.DrawFn) -> tuple[str, bytes]:
    path = draw(st.sampled_from(NAME_FIELDS))
    plain = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=8)
    name = draw(plain) + draw(st.sampled_from(DANGEROUS)) + draw(st.one_of(plain, st.text(max_size=8)))
    if draw(st.integers(0, 9)) == 0:
        name = "a" * draw(st.integers(42, 100_000))  # only too long (names 20, users 32, roles 41)
    return "bad name", dump(_set(BASE, path, name))


def _nested(depth: int, as_map: bool) -> str:
    return ("{a: " * depth + "1" + "}" * depth) if as_map else ("[" * depth + "]" * depth)


@st.composite
def deep_nesting(draw: st.DrawFn) -> tuple[str, bytes]:
    depth = draw(st.integers(65, 5_000))
    text = dump(_set(BASE, ("metadata", "labels"), "@DEEP@")).decode()
    return "deep nesting", text.replace("'@DEEP@'", _nested(depth, draw(st.booleans()))).encode()


@st.composite
def alias_bomb(draw: st.DrawFn) -> tuple[str, bytes]:
    levels, fan = draw(st.integers(2, 10)), draw(st.integers(2, 12))
    lines = ["x0: &x0 [" + ", ".join(["lol"] * fan) + "]"]
    for i in range(1, levels):
        lines.append(f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * fan) + "]")
    where = draw(st.sampled_from(["top", "labels"]))
    if where == "top":
        return "alias bomb", (LAB_TEXT + "\n".join(lines) + "\n").encode()
    bomb = "\n".join("  " + line for line in lines)
    return "alias bomb", LAB_TEXT.replace("  labels: {purpose: demo}", "  labels:\n" + bomb, 1).encode()


@st.composite
def duplicate_key(draw: st.DrawFn) -> tuple[str, bytes]:
    lines = LAB_TEXT.splitlines(keepends=True)
    candidates = [i for i, line in enumerate(lines)
                  if ":" in line and not line.lstrip().startswith(("-", "#")) and line.strip()]
    at = draw(st.sampled_from(candidates))
    return "duplicate key", "".join([*lines[:at + 1], lines[at], *lines[at + 1:]]).encode()


@st.composite
def not_a_spec(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["empty", "blank", "comments", "binary", "latin-1", "scalar", "list", "text",
                                 "truncated", "tagged", "documents", "huge", "control"]))
    body: bytes
    if kind == "empty":
        body = b""
    elif kind == "blank":
        body = draw(st.text(alphabet=" \t\n\r", max_size=50)).encode()
    elif kind == "comments":
        body = "".join(f"# {draw(st.text(max_size=20))}\n".replace("\r", "") for _ in range(3)).encode()
    elif kind == "binary":
        body = draw(st.binary(min_size=1, max_size=2_000))
        body = body if b"\x00" in body else body + b"\x00"
    elif kind == "latin-1":
        body = LAB_TEXT.replace("Ningxia", "Ningxi\u00e4").encode("latin-1")
    elif kind == "scalar":
        body = dump(draw(st.one_of(st.integers(), st.floats(), st.booleans(), st.text(min_size=1, max_size=40))))
    elif kind == "list":
        body = dump(draw(st.lists(st.integers(), max_size=5)))
    elif kind == "text":
        body = draw(st.text(min_size=1, max_size=300)).encode()
    elif kind == "truncated":
        body = LAB_TEXT[: draw(st.integers(0, LAB_TEXT.index("  regions:")))].encode()
    elif kind == "tagged":
        body = draw(st.sampled_from([b"!!python/object/apply:os.system ['id']\n", b"--- !!binary aGVsbG8=\n",
                                     b"!!set {a, b}\n", b"!custom\nname: x\n"]))
    elif kind == "documents":
        body = (LAB_TEXT + "---\n" + LAB_TEXT).encode()
    elif kind == "huge":
        body = LAB_TEXT.encode() + b"#" * (4 * 1024 * 1024)
    else:
        body = LAB_TEXT.replace("Ningxia", "Ning\x07xia").encode()
    # Whatever the draw, what remains must not be a valid spec: `text` could, in theory, be one.
    return "not a spec", body if not body.startswith(b"apiVersion: grid/v1") else b"\x00" + body


def bad_specs() -> st.SearchStrategy[tuple[str, bytes]]:
    return st.one_of(wrong_type(), missing_key(), unknown_key(), huge_count(), overlapping_cidrs(), bad_name(),
                     deep_nesting(), alias_bomb(), duplicate_key(), not_a_spec())


CATEGORIES = ("wrong type", "missing key", "unknown key", "huge count", "overlapping CIDRs", "bad name",
              "deep nesting", "alias bomb", "duplicate key", "not a spec")
