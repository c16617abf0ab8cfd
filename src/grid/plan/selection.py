"""Aiming at part of a cluster (`--target ADDR`, `--exclude ADDR`): which addresses a run may touch.

Like OpenTofu's -target/-exclude: the selection is what the targets match (everything when none are given)
minus what the excludes match. Patterns are fnmatch globs on addresses as plans print them (`east/*`,
`*/train/node-00*`, `link/east--west`); a pattern without a glob that names a part of an address path (`east`,
`east/train`) selects everything under it. A selected resource that needs another to exist (a new node, its
region's fabrics and storage) pulls that one in; what cannot be pulled in (it is excluded) and what a selection
would break (deleting a fabric its unselected nodes are still attached to) is refused with the reason.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from grid.errors import GridError
from grid.resources import Kind, fabric_address, volume_address


@dataclass(frozen=True)
class Selection:
    """The patterns of a partial run and what they selected."""

    targets: tuple[str, ...]
    excludes: tuple[str, ...]
    addresses: tuple[str, ...]  # selected, sorted (pulled-in dependencies included)
    total: int  # addresses the patterns were matched against
    pulled: Mapping[str, str] | None = None  # dependency address -> the selected address that needs it
    left_out: tuple[str, ...] = ()  # work outside the selection the change calls for (other hosts' tables)

    def __contains__(self, address: object) -> bool:
        return address in self._set

    @functools.cached_property
    def _set(self) -> frozenset[str]:  # once: plans ask for every address (10^5 nodes)
        return frozenset(self.addresses)

    def flags(self) -> str:
        """The patterns as they were given on the command line."""
        return " ".join([*(f"--target {t}" for t in self.targets), *(f"--exclude {e}" for e in self.excludes)])

    def headline(self) -> str:
        return f"Partial plan: {self.flags()} ({len(self.addresses)} of {self.total} resources)"

    def to_document(self) -> dict[str, Any]:
        return {"targets": list(self.targets), "excludes": list(self.excludes), "addresses": list(self.addresses),
                "total": self.total, "pulled": dict(self.pulled or {}), "left_out": list(self.left_out)}

    @classmethod
    def from_document(cls, raw: Mapping[str, Any]) -> Selection:
        return cls(tuple(raw.get("targets") or ()), tuple(raw.get("excludes") or ()),
                   tuple(raw.get("addresses") or ()), int(raw.get("total") or 0), dict(raw.get("pulled") or {}),
                   tuple(raw.get("left_out") or ()))


def matches(address: str, pattern: str) -> bool:
    """`pattern` (a glob) names `address`, or a path prefix of it (`east/train` names `east/train/node-0000`)."""
    return fnmatch.fnmatchcase(address, pattern) or fnmatch.fnmatchcase(address, pattern.rstrip("/") + "/*")


def _matched(patterns: Iterable[str], universe: Collection[str], flag: str) -> set[str]:
    out: set[str] = set()
    for pattern in patterns:
        found = {a for a in universe if matches(a, pattern)}
        if not found:
            raise GridError(f"{flag} {pattern}: matches no resource of the cluster",
                            "addresses look like region/pool/node-0000, region/fabric/NAME, region/storage/NAME "
                            "or link/A--B; `grid plan --show-unchanged` lists them all")
        out |= found
    return out


def matched(targets: Iterable[str], excludes: Iterable[str], universe: Collection[str]) -> set[str]:
    """What the targets match in `universe` (all of it without targets) minus what the excludes match; raises
    GridError naming a pattern that matches nothing."""
    targets = tuple(targets)
    chosen = _matched(targets, universe, "--target") if targets else set(universe)
    return chosen - _matched(excludes, universe, "--exclude")


def dependencies(kind: str, region: str, attrs: Mapping[str, Any]) -> list[str]:
    """The addresses a resource needs to exist: a node, the fabrics it is attached to and the storage it mounts."""
    if kind != Kind.NODE.value:
        return []
    fabrics = attrs.get("fabrics") or {}
    storage = attrs.get("storage") or {}
    return [*(fabric_address(region, f) for f in fabrics), *(volume_address(region, s) for s in storage)]


@dataclass(frozen=True)
class Resolved:
    """A selection's addresses before it becomes a Selection: what matched, and what was pulled in for what."""

    selected: frozenset[str]
    pulled: dict[str, str]


def resolve(targets: Iterable[str], excludes: Iterable[str], *, universe: Collection[str],
            wanted: Mapping[str, tuple[str, str, Mapping[str, Any]]],
            recorded: Mapping[str, tuple[str, str, Mapping[str, Any]]], removed: Collection[str]) -> Resolved:
    """The addresses a run may touch.

    `universe`: every address the patterns are matched against; `wanted`: the resources the run wants to exist
    (address -> kind, region, attributes); `recorded`: those that exist now (the state); `removed`: recorded
    addresses the run deletes or makes anew when selected. Raises GridError naming a pattern that matches nothing,
    or the address a selection cannot be applied for and why.
    """
    excluded = _matched(excludes, universe, "--exclude")
    selected = matched(targets, excludes, universe)
    pulled: dict[str, str] = {}
    queue = sorted(selected)
    while queue:  # a new node needs its fabrics and storage made first
        address = queue.pop(0)
        if address not in wanted or (address in recorded and address not in removed):
            continue
        kind, region, attrs = wanted[address]
        for needed in dependencies(kind, region, attrs):
            if needed in selected or needed not in wanted or (needed in recorded and needed not in removed):
                continue
            if needed in excluded:
                raise GridError(f"{address}: it needs {needed}, which does not exist yet and is excluded "
                                f"(--exclude)", f"drop the --exclude that matches {needed}, or exclude {address} "
                                "too")
            selected.add(needed)
            pulled[needed] = address
            queue.append(needed)
    _refuse_broken_dependents(selected, wanted, recorded, removed)
    return Resolved(frozenset(selected), pulled)


def _refuse_broken_dependents(selected: Collection[str], wanted: Mapping[str, tuple[str, str, Mapping[str, Any]]],
                              recorded: Mapping[str, tuple[str, str, Mapping[str, Any]]],
                              removed: Collection[str]) -> None:
    """A fabric or volume the run removes while a node left as it is still uses it: refused, naming both."""
    going = {a for a in selected if a in removed and recorded[a][0] != Kind.NODE.value}
    if not going:
        return
    for address, (kind, region, attrs) in sorted(recorded.items()):
        if address in selected:
            continue
        # An unselected node stays as recorded; a selected one is judged by what the run makes of it.
        for needed in dependencies(kind, region, attrs):
            if needed in going:
                verb = "deleting" if needed not in wanted else "replacing"
                raise GridError(f"{needed}: {verb} it needs {address} gone or selected too (it is attached to it)",
                                f"add --target {address} (or a pattern matching its pool), or leave {needed} out")
