"""Slurm hostlist expressions (`lab-train-[0000-0002,0005]`): node lists that stay one short line per pool."""

from __future__ import annotations

import re
from collections.abc import Iterable

_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def hostlist(names: Iterable[str]) -> str:
    """`names` as a comma-separated hostlist, ranges folded per prefix and digit width, in first-seen order.
    Slurm keeps leading zeros of a range (`[0000-0002]` expands to 0000, 0001, 0002)."""
    groups: dict[tuple[str, int], list[int]] = {}
    plain: list[str] = []
    order: list[tuple[str, int] | str] = []
    for name in names:
        match = _NUMBERED.match(name)
        if match is None:
            plain.append(name)
            order.append(name)
            continue
        key = (match.group(1), len(match.group(2)))
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(int(match.group(2)))
    parts: list[str] = []
    for item in order:
        if isinstance(item, str):
            parts.append(item)
            continue
        prefix, width = item
        numbers = sorted(set(groups[item]))
        if len(numbers) == 1:
            parts.append(f"{prefix}{numbers[0]:0{width}d}")
            continue
        parts.append(f"{prefix}[{','.join(_ranges(numbers, width))}]")
    return ",".join(parts)


def _ranges(numbers: list[int], width: int) -> list[str]:
    out: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        out.append(f"{start:0{width}d}" if start == previous else f"{start:0{width}d}-{previous:0{width}d}")
        if number is not None:
            start = previous = number
    return out


def expand_hostlist(text: str) -> list[str]:
    """The names a hostlist expression stands for, in Slurm's order (what `scontrol show hostnames` prints):
    `r[1-2]-n[01-02]` is r1-n01, r1-n02, r2-n01, r2-n02; a range keeps the width of its lower bound
    (`x[098-101]`: x098 ... x101; `a[8-11]`: a8 ... a11). Empty text is no names."""
    names: list[str] = []
    for part in _top_level(text.strip()):
        names.extend(_expand_one(part))
    return names


def _top_level(text: str) -> list[str]:
    """`text` split at the commas outside brackets."""
    parts: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part for part in parts if part]


def _expand_one(name: str) -> list[str]:
    opening = name.find("[")
    if opening < 0:
        return [name]
    closing = name.find("]", opening)
    if closing < 0:
        raise ValueError(f"hostlist {name!r}: '[' without ']'")
    prefix, body, rest = name[:opening], name[opening + 1:closing], name[closing + 1:]
    tails = _expand_one(rest) if rest else [""]
    out: list[str] = []
    for item in body.split(","):
        low, _, high = item.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f"hostlist {name!r}: {item!r} is not a number or a range of numbers")
        width = len(low)
        for number in range(int(low), int(high or low) + 1):
            out.extend(f"{prefix}{number:0{width}d}{tail}" for tail in tails)
    return out
