"""Target `local`: podman containers, networks and volumes made by Pulumi's dynamic providers (grid.stacks.local).

Its cheap reality check is one podman listing of each kind for the whole cluster.

Besides what is missing, stopped or off its networks, the listing says who owns what: every object grid
makes is labelled with the lineage of the state that made it (grid.apply.run.owner_labels). An object
with this cluster's name that another state owns — a second checkout of the spec, a work directory
thought lost — is reported as foreign, and the plan refuses to touch it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from grid.drivers import podman_listing
from grid.drivers.images import build_images
from grid.drivers.podman import Podman
from grid.plan import LiveResource
from grid.render.images import ImageBuild
from grid.resources import Kind, ResourceGraph, fabric_address, physical_name
from grid.spec.model import Cluster
from grid.spec.targets import TARGET_TRAITS
from grid.state.model import State
from grid.targets.base import ImageBuilt, TargetBase


@dataclass(frozen=True)
class LocalTarget(TargetBase):
    def probe(self, cluster: Cluster, state: State, graph: ResourceGraph, *,
              lineage: str) -> dict[str, LiveResource] | None:
        """Also before anything exists here: objects of the same names that another state owns must be found
        before this one makes its own over them."""
        return probe(cluster.name, state, graph, lineage=lineage)

    def pool_images(self, cluster: Cluster, builds: Mapping[str, ImageBuild]) -> Mapping[str, str]:
        """Each recipe's podman reference: its tag carries the recipe hash, so a changed recipe is a new image."""
        del cluster
        return {name: build.ref for name, build in builds.items()}

    def build_images(self, builds: Sequence[ImageBuild], report: ImageBuilt) -> None:
        build_images(builds, report=report)


TARGET = LocalTarget(TARGET_TRAITS["local"])

_LISTINGS = podman_listing.LISTINGS
_KIND_OBJECT = {Kind.NODE.value: "container", Kind.FABRIC.value: "network", Kind.VOLUME.value: "volume"}


def probe(cluster: str, state: State, graph: ResourceGraph | None = None, *,
          lineage: str = "") -> dict[str, LiveResource]:
    """By resource address: missing or stopped containers, nodes off a network, missing networks and
    volumes (of what state records), and objects another state owns (of what state or `graph` names).
    `lineage`: this state's ("" before its first write: then every labelled object is someone else's)."""
    podman = Podman()
    # Started at `grid up`'s entry and trusted under its lock (grid.drivers.podman_listing): else listed now.
    listings = podman_listing.take(cluster, podman.timeout)
    if listings is None:
        selector = f"label=grid.cluster={cluster}"
        with ThreadPoolExecutor(max_workers=3) as pool:  # three independent podman calls: at once
            futures = [pool.submit(podman.run, [*argv, "--filter", selector, "--format", "json"])
                       for argv, _ in _LISTINGS]
            listings = [json.loads(f.result().stdout or "[]") for f in futures]
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for (_, kind), listing in zip(_LISTINGS, listings, strict=True):
        for entry in listing:
            for name in _names(entry):
                objects[(kind, name)] = entry
    live: dict[str, LiveResource] = {}
    for address, record in state.resources.items():
        recorded_kind = _KIND_OBJECT.get(record.kind)
        if recorded_kind is None:
            continue
        kind = recorded_kind
        name = str(record.attrs.get(kind) or "")
        found = objects.get((kind, name))
        if found is None:
            live[address] = LiveResource(exists=False, detail=f"{kind} is missing")
        elif kind == "container":
            status = str(found.get("State", "")).strip()
            if status != "running":
                live[address] = LiveResource(exists=True, healthy=False, detail=f"container is {status}")
            elif missing := _networks_missing(cluster, record.region, record.attrs, found, state):
                live[address] = LiveResource(exists=True, healthy=False,
                                             detail="container is off network " + ", ".join(missing))
    interrupted = set(state.interrupted_regions())
    wanted = {r.address: r for r in graph if r.kind.value in _KIND_OBJECT} if graph is not None else {}
    for address in sorted({*wanted, *state.resources}):
        resource = wanted.get(address)
        kind_value = resource.kind.value if resource is not None else state.resources[address].kind
        wanted_kind = _KIND_OBJECT.get(kind_value)
        if wanted_kind is None:
            continue
        kind = wanted_kind
        found = objects.get((kind, physical_name(cluster, address)))
        if found is None:
            continue
        owner = _foreign_owner(_labels(found), lineage, recorded=address in state.resources,
                               unsure=address.split("/", 1)[0] in interrupted)
        if owner:
            live[address] = LiveResource(exists=True, detail=f"{kind} {physical_name(cluster, address)}",
                                         foreign=owner)
    return live


def _names(entry: Mapping[str, Any]) -> list[str]:
    names = entry.get("Names")
    if isinstance(names, list):
        return [str(n) for n in names]
    name = entry.get("name", entry.get("Name"))
    return [str(name)] if name else []


def _labels(entry: Mapping[str, Any]) -> dict[str, str]:
    labels = entry.get("Labels", entry.get("labels"))
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def _networks_missing(cluster: str, region: str, attrs: Mapping[str, Any], entry: Mapping[str, Any],
                      state: State) -> list[str]:
    """The fabrics' networks a running node should be on and is not (`podman network disconnect`). A fabric
    state records keeps the network it was made with (a renamed one's name is its previous address's)."""
    attached = entry.get("Networks")
    fabrics = attrs.get("fabrics")
    if not isinstance(attached, list) or not isinstance(fabrics, dict):
        return []

    def network(name: str) -> str:
        address = fabric_address(region, name)
        record = state.resources.get(address)
        recorded = record.attrs.get("network") if record is not None else None
        return str(recorded) if recorded else physical_name(cluster, address)

    wanted = (network(str(name)) for name in fabrics)
    return sorted(n for n in wanted if n not in attached)


def _foreign_owner(labels: Mapping[str, str], lineage: str, *, recorded: bool, unsure: bool) -> str:
    """Who owns an object, when it is not this state: "" when it is ours (or may be)."""
    theirs = labels.get("grid.lineage", "")
    if theirs:
        if theirs == lineage:
            return ""
        where = labels.get("grid.state", "")
        return f"lineage {theirs}" + (f", state at {where}" if where else "")
    # Made before objects were labelled with their owner: ours when our state records it, or when a run of
    # ours that did not finish may have made it.
    if recorded or unsure:
        return ""
    return "a state without a lineage label (made by an older grid, or by hand)"
