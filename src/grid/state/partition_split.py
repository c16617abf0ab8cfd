"""A cluster's state as parts: one "cluster" part and one part per region. Pure functions.

The cluster part holds what belongs to no one region: the spec, digest and rendered tree of the last whole-cluster
run, the admin key, uninterpreted outputs, links between regions, pending work, and history across regions. A
region part holds its resources, hosts, quarantined nodes, pool slots and rolls, whether its infrastructure run
was interrupted, its own history, and the spec and digest of its last `--region` run (informational: the merged
state's run fields are the cluster part's).

merge(split(s)) == s for a state whose history is in time order (how grid appends it): history is merged by
time (`at`, ISO UTC; the parts' serials are their own) and `interrupted` in region order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from grid.state.model import HistoryEntry, State

CLUSTER_PART = "_cluster"
"""The cluster part's name: a region name is a DNS label, so it never starts with an underscore."""

RUN_FIELDS = ("spec_digest", "applied_spec", "rendered_digest")
"""Fields a run sets about itself: a whole-cluster run's go to the cluster part, a region run's to its region."""


def region_of_address(address: str) -> str:
    """The region an address is in (its first path part), or "" for what spans regions (links)."""
    parts = address.split("/")  # region/pool/node-0007, region/fabric/name, region/storage/name
    return parts[0] if len(parts) >= 3 else ""  # link/a--b, account/name


def history_region(entry: HistoryEntry) -> str:
    """The one region an entry's changes are in; "" when they span regions, or none has one."""
    regions = {region_of_address(c.address) for c in entry.changes}
    return next(iter(regions)) if len(regions) == 1 else ""


def split(state: State, *, home: str | None = None) -> dict[str, State]:
    """{part name: its state}. `home`: the region that takes the run fields and the history entries of no one
    region (a `--region` run's), instead of the cluster part."""
    parts: dict[str, dict[str, object]] = {}

    def part(region: str) -> dict[str, object]:
        name = region or CLUSTER_PART
        if name not in parts:
            parts[name] = {"resources": {}, "hosts": {}, "quarantined": {}, "slots": {}, "rolls": {},
                           "history": [], "interrupted": []}
        return parts[name]

    part("")
    if home is not None:
        part(home)
    for address, resource in state.resources.items():
        region = "" if resource.kind == "link" else resource.region
        part(region)["resources"][address] = resource  # type: ignore[index]
    for address, host in state.hosts.items():
        part(region_of_address(address))["hosts"][address] = host  # type: ignore[index]
    for address, quarantine in state.quarantined.items():
        part(region_of_address(address))["quarantined"][address] = quarantine  # type: ignore[index]
    for key, slots in state.slots.items():
        part(key.split("/", 1)[0])["slots"][key] = slots  # type: ignore[index]
    for key, roll in state.rolls.items():
        part(roll.region)["rolls"][key] = roll  # type: ignore[index]
    for region in state.interrupted:
        part(region)["interrupted"].append(region)  # type: ignore[attr-defined]
    for entry in state.history:
        region = history_region(entry) or (home or "")
        part(region)["history"].append(entry)  # type: ignore[attr-defined]
    run = {name: getattr(state, name) for name in RUN_FIELDS}
    out: dict[str, State] = {}
    for name, values in parts.items():
        if name == CLUSTER_PART:
            extra = {"admin_public_key": state.admin_public_key, "outputs": state.outputs, "pending": state.pending}
            if home is None:
                extra.update(run)
        else:
            extra = dict(run) if name == home else {}
        out[name] = State.model_construct(**{**State(cluster=state.cluster).__dict__, **values, **extra,
                                             "cluster": state.cluster})
    return out


def merge(cluster: str, parts: Mapping[str, State]) -> State:
    """The whole state from its parts (the cluster part may be missing: a new partitioned state)."""
    base = parts.get(CLUSTER_PART) or State(cluster=cluster)
    regions = sorted(name for name in parts if name != CLUSTER_PART)
    resources = dict(base.resources)
    hosts = dict(base.hosts)
    quarantined = dict(base.quarantined)
    slots = dict(base.slots)
    rolls = dict(base.rolls)
    history: list[HistoryEntry] = list(base.history)
    interrupted: list[str] = []
    for name in regions:
        p = parts[name]
        resources.update(p.resources)
        hosts.update(p.hosts)
        quarantined.update(p.quarantined)
        slots.update(p.slots)
        rolls.update(p.rolls)
        history.extend(p.history)
        interrupted.extend(p.interrupted)
    history.sort(key=lambda e: e.at)  # ISO times, stable: ties keep cluster-then-region order
    return State.model_construct(**{**base.__dict__, "cluster": cluster, "resources": resources, "hosts": hosts,
                                    "quarantined": quarantined, "slots": slots, "rolls": rolls,
                                    "history": history, "interrupted": interrupted})


def parts_touched(before: Mapping[str, State], after: Mapping[str, State]) -> list[str]:
    """The parts whose state differs between two splits (a part in one only counts as changed)."""
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))


def without(state: State, fields: Iterable[str]) -> State:
    """`state` with `fields` at their defaults: to compare a part's state but what a run may change there."""
    empty = State(cluster=state.cluster)
    return state.model_copy(update={name: getattr(empty, name) for name in fields})
