"""Renames that keep what exists: the spec's `moved:` entries applied to the state (grid.spec.moved).

A rename re-addresses the state's records (resources, hosts, quarantine, pool slots, rolls) and the
references between them (a node's pool, fabrics and storage; a volume's pools), so the plan compares the
spec's new names with the same machines and shows no create and no delete. The names of the real objects
do not change: a container's name and its kernel hostname are fixed when podman creates it, so a renamed
node keeps both (and so its /etc/hosts line), as a renamed fabric keeps its network and a storage its
volume (`keep_recorded_names`). What follows the new name is what grid configures: Ansible groups, the
node's pool in grid's facts, Slurm partitions.

The re-addressed state is written by the apply's first state write, all records at once, with the regions
marked unfinished until their stacks have re-addressed the same resources (Pulumi aliases, rendered from
the spec's entries: grid.render.pulumi); a run killed in between leaves a state the next `grid up`
completes. Reading it again finds nothing left to move: the entries are then reported as stale.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grid.resources import Kind, Resource, ResourceGraph, node_hostname
from grid.spec.loader import SourceMap
from grid.spec.model import Cluster
from grid.spec.moved import Moved, moved_kind
from grid.state.model import ResourceRecord, State

if TYPE_CHECKING:
    from grid.plan.model import Plan  # which imports this module


@dataclass(frozen=True, slots=True)
class MovedResource:
    """One resource the plan re-addresses: same object, new address."""

    address: str  # the new address
    previous: str  # the address state recorded it at
    kind: str
    region: str


@dataclass(frozen=True)
class Moves:
    """What the spec's `moved:` entries do in a plan, and the entries that no longer match anything."""

    resources: tuple[MovedResource, ...] = ()
    warnings: tuple[str, ...] = ()  # file:line:col: an entry matching nothing (applied already)

    def previous(self, region: str) -> frozenset[str]:
        return frozenset(m.previous for m in self.resources if m.region == region)

    def to_document(self) -> dict[str, Any]:
        return {"resources": [{"address": m.address, "from": m.previous, "kind": m.kind, "region": m.region}
                              for m in self.resources], "warnings": list(self.warnings)}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Moves:
        return cls(tuple(MovedResource(str(m["address"]), str(m["from"]), str(m["kind"]), str(m["region"]))
                         for m in doc.get("resources") or []), tuple(str(w) for w in doc.get("warnings") or []))


# -- the state, re-addressed ------------------------------------------------------------------------------

def readdress(cluster: Cluster, state: State) -> State:
    """`state` with every `moved:` entry that matches its records applied; an entry whose `to` the state
    holds already (as something else) is left out (`with_moves` reports it). Pure; `state.moved_now` says
    what moved ({new address: previous address})."""
    entries = [m for m in cluster.spec.moved if _applicable(m)]
    if not entries or not state.resources:
        return state
    moved: dict[str, str] = {}
    for entry in entries:
        if _matches(state, entry.from_) and not _matches(state, entry.to):
            state = _apply(state, entry, moved)
    if not moved:
        return state
    regions = {state.resources[a].region for a in moved}
    return state.model_copy(update={"moved_now": moved, "interrupted": sorted({*state.interrupted, *regions})})


def _applicable(entry: Moved) -> bool:
    old, new = moved_kind(entry.from_), moved_kind(entry.to)
    return old == new != "region" and entry.from_.split("/", 1)[0] == entry.to.split("/", 1)[0]


def _under(address: str, prefix: str) -> bool:
    return address == prefix or (moved_kind(prefix) == "pool" and address.startswith(prefix + "/"))


def _matches(state: State, prefix: str) -> bool:
    return any(_under(a, prefix) for a in state.resources)


def _apply(state: State, entry: Moved, moved: dict[str, str]) -> State:
    kind = moved_kind(entry.from_)
    region, old_name, new_name = entry.from_.split("/", 1)[0], entry.from_.rsplit("/", 1)[-1], \
        entry.to.rsplit("/", 1)[-1]

    def new_address(address: str) -> str:
        return entry.to + address[len(entry.from_):] if _under(address, entry.from_) else address

    resources: dict[str, ResourceRecord] = {}
    for address, record in state.resources.items():
        attrs = _attrs(kind, record, region, old_name, new_name)
        renamed_to = new_address(address)
        if renamed_to != address:
            moved[renamed_to] = moved.pop(address, address)  # a→b then b→c: c's previous is still a
        if renamed_to != address or attrs is not record.attrs:
            record = record.model_copy(update={"address": renamed_to, "attrs": attrs})
        resources[renamed_to] = record
    update: dict[str, Any] = {
        "resources": resources,
        "hosts": {new_address(a): h.model_copy(update={"address": new_address(a)}) if new_address(a) != a else h
                  for a, h in state.hosts.items()},
        "quarantined": {new_address(a): q.model_copy(update={
            "address": new_address(q.address), "replacement": new_address(q.replacement) if q.replacement else ""})
            for a, q in state.quarantined.items()},
    }
    if kind == "pool":
        update["slots"] = {new_address(k): v for k, v in state.slots.items()}
        update["rolls"] = {new_address(k): (r.model_copy(update={"pool": new_name, "nodes": [
            new_address(n) for n in r.nodes]}) if new_address(k) != k else r) for k, r in state.rolls.items()}
    return state.model_copy(update=update)


def _attrs(kind: str, record: ResourceRecord, region: str, old: str, new: str) -> dict[str, Any]:
    """A record's attributes with the renamed thing's name replaced where they refer to it (the same dict
    when nothing refers to it)."""
    attrs = record.attrs
    if record.region != region:
        return attrs
    if kind == "pool":
        if record.kind == Kind.NODE.value and attrs.get("pool") == old:
            return {**attrs, "pool": new}
        if record.kind == Kind.VOLUME.value and old in (attrs.get("pools") or []):
            return {**attrs, "pools": sorted(new if p == old else p for p in attrs["pools"])}
        return attrs
    own = Kind.FABRIC.value if kind == "fabric" else Kind.VOLUME.value
    if record.kind == own and attrs.get("name") == old:
        return {**attrs, "name": new}
    if record.kind != Kind.NODE.value:
        return attrs
    if kind == "fabric":
        fabrics = attrs.get("fabrics") or {}
        return {**attrs, "fabrics": _renamed_keys(fabrics, old, new)} if old in fabrics else attrs
    out = dict(attrs)
    if old in (attrs.get("storage") or {}):
        out["storage"] = _renamed_keys(attrs["storage"], old, new)
    for key in ("mounts", "directories"):
        entries = attrs.get(key) or []
        if any(e.get("storage") == old for e in entries):
            out[key] = [{**e, "storage": new} if e.get("storage") == old else e for e in entries]
    return out if out != attrs else attrs


def _renamed_keys(values: Mapping[str, Any], old: str, new: str) -> dict[str, Any]:
    return {(new if k == old else k): v for k, v in values.items()}


# -- names that stay ---------------------------------------------------------------------------------------

_OBJECT_NAME = {Kind.NODE: "container", Kind.FABRIC: "network", Kind.VOLUME: "volume"}
"""The attribute naming a resource's real object: fixed once made, so a renamed resource keeps it."""


def keep_recorded_names(graph: ResourceGraph, state: State) -> ResourceGraph:
    """`graph` with each renamed resource's object names as state records them: its container (and the
    hostname, where grid derived it from the address: a container's hostname is fixed), network or volume.
    A resource is renamed when its recorded object name differs from the one its address gives: names are
    a function of the address otherwise, so this holds from the rename on, `moved:` entry or not."""
    if not state.resources:
        return graph
    recorded = state.resources
    kept: dict[str, Resource] = {}
    for resource in graph.resources:
        key = _OBJECT_NAME.get(resource.kind)
        record = recorded.get(resource.address) if key is not None else None
        if record is None or key is None:
            continue
        name = record.attrs.get(key)
        if not name or name == resource.attrs.get(key):
            continue
        attrs = {**resource.attrs, key: name}
        if resource.kind is Kind.NODE and record.attrs.get("hostname") and resource.attrs.get(
                "hostname") == _derived_hostname(resource):
            attrs["hostname"] = record.attrs["hostname"]
        kept[resource.address] = dataclasses.replace(resource, attrs=attrs)
    if not kept:
        return graph
    return ResourceGraph(graph.cluster, tuple(kept.get(r.address, r) for r in graph.resources))


def _derived_hostname(node: Resource) -> str:
    region, pool, _ = node.address.split("/", 2)
    return node_hostname(region, pool, int(node.attrs.get("index", -1)))


# -- the plan ----------------------------------------------------------------------------------------------

def moves_of(cluster: Cluster, state: State, source: SourceMap | None = None) -> tuple[Moves, tuple[str, ...]]:
    """(the plan's moves, errors) from a state `readdress` made: the resources it moved, an entry whose `to`
    the state holds already while its `from` is still there (an error), and entries matching nothing
    (applied already: warnings). Findings start with the entry's file:line:col when `source` is given."""
    moved = state.moved_now
    resources = tuple(MovedResource(new, str(old), state.resources[new].kind, state.resources[new].region)
                      for new, old in sorted(moved.items()) if new in state.resources)
    errors: list[str] = []
    warnings: list[str] = []
    for i, entry in enumerate(cluster.spec.moved):
        if not _applicable(entry):
            continue  # the validators said why
        if _matches(state, entry.from_):
            errors.append(_at(source, i, "to") + f"moved: {entry.to} exists in the state already, while "
                          f"{entry.from_} is still there too: grid will not merge them. Remove this entry (the "
                          f"plan then deletes {entry.from_}), or remove {entry.to} first (`grid up` without it)")
        elif not any(_under(new, entry.to) for new in moved):
            warnings.append(_at(source, i, "from") + f"moved: {entry.from_} → {entry.to} matches nothing in the "
                            "state (applied already, or never made); remove this entry from the spec")
    return Moves(resources, tuple(warnings)), tuple(errors)


def _at(source: SourceMap | None, index: int, key: str) -> str:
    if source is None:
        return ""
    where = source.locate(("spec", "moved", index, key))
    return f"{where.file}:{where.line}:{where.col}: "


def with_moves(plan: Plan, cluster: Cluster, state: State, source: SourceMap | None = None) -> Plan:
    """`plan` with its moves, their errors, and the regions they mark unfinished shown as moves instead."""
    if not cluster.spec.moved:
        return plan
    moves, errors = moves_of(cluster, state, source)
    regions = {m.region for m in moves.resources}
    return dataclasses.replace(plan, moved=moves, errors=(*plan.errors, *errors),
                               unfinished=tuple(r for r in plan.unfinished if r not in regions))
