"""Validators of the spec's `moved:` list (grid.spec.moved): each entry renames one thing into another of its
kind within its region, and the entries together say one rename per thing, with no cycle.

What the state holds is checked when a plan is made (grid.plan.moved): a `to` grid made already as something
else, an entry that matches nothing any more (applied already: a warning suggesting its removal).
"""

from __future__ import annotations

from collections.abc import Iterator

from grid.diagnostics import Diagnostic, Path, error
from grid.spec.model import Cluster
from grid.spec.moved import Moved, moved_kind
from grid.spec.targets import traits_of
from grid.validate.base import Validator

MOVED: Path = ("spec", "moved")


def spec_addresses(cluster: Cluster) -> set[str]:
    """Every address a `moved:` entry may name that the spec has: regions, pools, storage, fabrics."""
    out: set[str] = set()
    for region in cluster.spec.regions:
        out.add(region.name)
        out.update(f"{region.name}/{pool.name}" for pool in region.pools)
        out.update(f"{region.name}/storage/{storage.name}" for storage in region.storage)
        out.update(f"{region.name}/fabric/{fabric.name}" for fabric in region.fabrics)
    return out


def moved_entries(cluster: Cluster) -> Iterator[Diagnostic]:
    """Each entry on its own: a kind grid can rename, the same kind on both sides, within one region, `from`
    gone from the spec and `to` in it."""
    if not cluster.spec.moved:
        return
    traits = traits_of(cluster)
    if traits.cloud:
        yield error(f"moved: renames are applied on the local and existing targets, not on {cluster.spec.target}",
                    MOVED, code="moved.target",
                    hint="keep the old names on this target for now, or let the plan replace what is renamed "
                         "(remove the moved: list)")
        return
    present = spec_addresses(cluster)
    for i, entry in enumerate(cluster.spec.moved):
        yield from _entry(i, entry, present)


def _entry(i: int, entry: Moved, present: set[str]) -> Iterator[Diagnostic]:
    at = (*MOVED, i)
    old, new = moved_kind(entry.from_), moved_kind(entry.to)
    if "region" in (old, new):
        yield error(f"moved: renaming a region ({entry.from_} → {entry.to}) is not supported", (*at, "from"),
                    code="moved.region",
                    detail="each region is its own Pulumi stack and state partition; a renamed region would "
                           "move every resource to another stack",
                    hint="keep the region's name (it names nothing on the nodes but their addresses), or "
                         "build the new region beside it and remove the old one once its work has moved")
        return
    if old != new:
        yield error(f"moved: {entry.from_} is a {old} and {entry.to} a {new}; a rename keeps the kind",
                    (*at, "to"), code="moved.kind",
                    hint=f"name a {old} in `to` (like {_example(old, entry.from_)})")
        return
    if entry.from_.split("/", 1)[0] != entry.to.split("/", 1)[0]:
        yield error(f"moved: {entry.from_} → {entry.to} changes region", (*at, "to"), code="moved.region",
                    detail="each region is its own Pulumi stack; grid renames within a region only",
                    hint="keep the region; to move the work, add the new one in the other region and remove "
                         "the old one")
    if entry.from_ == entry.to:
        yield error(f"moved: {entry.from_} is moved to itself", (*at, "to"), code="moved.same",
                    hint="remove this entry")
        return
    if entry.from_ in present:
        yield error(f"moved: the spec still has {old} {entry.from_}", (*at, "from"), code="moved.from-present",
                    detail="after a rename the old name is gone from the spec; with both, grid could not tell "
                           "which one the existing machines are",
                    hint=f"rename it to {entry.to.rsplit('/', 1)[-1]} in the spec, or remove this entry")
    if entry.to not in present:
        yield error(f"moved: the spec has no {new} {entry.to}", (*at, "to"), code="moved.to-missing",
                    hint=f"`to` names the {new} as the spec calls it now")


def _example(kind: str, address: str) -> str:
    region = address.split("/", 1)[0]
    return {"pool": f"{region}/train", "storage": f"{region}/storage/data",
            "fabric": f"{region}/fabric/mgmt"}.get(kind, region)


def moved_together(cluster: Cluster) -> Iterator[Diagnostic]:
    """The entries together: one rename per `from` and per `to`, and no address both renamed and renamed to
    (a cycle a→b, b→a; or a chain a→b, b→c, which is one rename a→c)."""
    entries = cluster.spec.moved
    seen_from: dict[str, int] = {}
    seen_to: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if entry.from_ in seen_from:
            yield error(f"moved: {entry.from_} is renamed twice (entries {seen_from[entry.from_] + 1} and {i + 1})",
                        (*MOVED, i, "from"), code="moved.duplicate", hint="keep one entry per old name")
        else:
            seen_from[entry.from_] = i
        if entry.to in seen_to:
            yield error(f"moved: two entries rename to {entry.to} (entries {seen_to[entry.to] + 1} and {i + 1})",
                        (*MOVED, i, "to"), code="moved.duplicate",
                        hint="two things cannot become one; keep one of them")
        else:
            seen_to[entry.to] = i
    step = {e.from_: e.to for e in entries}
    reported: set[str] = set()
    for i, entry in enumerate(entries):
        if entry.to not in seen_from or entry.from_ in reported:
            continue
        loop = [entry.from_]
        at = entry.to
        while at in step and at not in loop:
            loop.append(at)
            at = step[at]
        if at == entry.from_:
            reported.update(loop)
            yield error("moved: the entries form a cycle: " + " → ".join([*loop, entry.from_]),
                        (*MOVED, i, "to"), code="moved.cycle",
                        hint="renames happen at once: give each thing its final name in one entry and remove "
                             "the others")
        else:
            yield error(f"moved: {entry.to} is renamed again by entry {seen_from[entry.to] + 1}",
                        (*MOVED, i, "to"), code="moved.chain",
                        hint=f"say it once: from {entry.from_} to {_last(step, entry.to)}")


def _last(step: dict[str, str], address: str) -> str:
    seen = {address}
    while address in step and step[address] not in seen:
        address = step[address]
        seen.add(address)
    return address


VALIDATORS: list[Validator] = [moved_entries, moved_together]
