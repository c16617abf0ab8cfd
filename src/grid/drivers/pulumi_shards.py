"""A big region's Pulumi stack, split: one stack for its fabrics and storage, node stacks of SHARD_NODES each.

grid speaks of regions; the split stays inside the Pulumi driver. One Pulumi stack pays per resource on every
run (the DIY backend rewrites the whole checkpoint as each step completes; refresh reads every resource), and the
cost per resource grows with the stack (bench/pulumi_stack.py, docs/scale.md). Above SHARD_ABOVE_NODES nodes a
region's stack is therefore split:

- the region's own stack (named like the region) holds its fabrics and storage; it runs first;
- node shards `<region>.<pool>.<k>` hold the pool's nodes whose index is in [k*SHARD_NODES, (k+1)*SHARD_NODES),
  all run at once after it (SHARD_PARALLEL at a time); their outputs and change counts are merged.

A node's shard follows from its pool and its index, which never change, so a growing or shrinking pool never moves
a node between stacks. The layout of an existing region is never changed: a region whose stack was made whole
stays whole (moving its nodes would recreate them), and a sharded region stays sharded below the threshold;
`Layout.note` says so. Only targets whose programs accept fabrics and storage made by another stack
(`"external": true`) are split: SHARDABLE_TARGETS.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grid.engines import RegionInput

__all__ = ["SHARDABLE_TARGETS", "SHARD_ABOVE_NODES", "SHARD_NODES", "SHARD_PARALLEL", "Layout", "empty", "layout",
           "merge_changes", "merge_outputs", "region_of", "shard_stack"]

# Measured (bench/pulumi_stack.py, 2 cores, docs/scale.md "Pulumi engine"): one stack of 1,000 trivial dynamic
# resources took 79 s for a no-op `up` with refresh (79 ms per resource, against 27 ms at 50) and 267 s to
# create; the per-resource cost rises with the stack. Stacks of ≤ 500 nodes keep a region's no-op under the
# 60 s we accept per run on this machine; a region above 500 nodes is split into stacks of 250.
SHARD_ABOVE_NODES = 500
SHARD_NODES = 250
# Node shards run at once: each is a worker with its `pulumi` engine and provider process, about one core busy.
SHARD_PARALLEL = max(2, os.cpu_count() or 2)
SHARDABLE_TARGETS = frozenset({"local"})
SEPARATOR = "."  # a Pulumi stack name may hold dots; a region name may not (grid.spec: [a-z0-9-])


def shard_stack(region: str, pool: str, part: int) -> str:
    return f"{region}{SEPARATOR}{pool}{SEPARATOR}{part}"


def region_of(stack: str) -> str:
    """The region a stack belongs to: itself, or the region of a node shard."""
    return stack.split(SEPARATOR, 1)[0]


@dataclass(frozen=True)
class Layout:
    """How a region's resources are spread over stacks: `stacks` in the order they run — the region's own
    first, then its node shards (run at once) — each with its program input; `gone`: node shards that exist
    but hold no node any more (destroyed after the others ran); `note`: why the layout is not the one the
    threshold alone would choose, for the user."""

    region: str
    stacks: tuple[tuple[str, RegionInput], ...]
    gone: tuple[str, ...] = ()
    note: str | None = None

    @property
    def sharded(self) -> bool:
        return len(self.stacks) > 1 or bool(self.gone)


def layout(region: str, data: RegionInput, existing: Collection[str] | None) -> Layout:
    """The region's layout. `existing`: the project's stacks in the backend, None when they cannot be listed
    (then the region is never split: an unknown layout is never changed)."""
    nodes = len(data["nodes"])
    want = data["target"] in SHARDABLE_TARGETS and nodes > SHARD_ABOVE_NODES
    shards = sorted(s for s in existing or () if s != region and region_of(s) == region)
    whole = region in (existing or ()) and not shards
    note = None
    if existing is None:
        if want:
            note = (f"region {region}: {nodes} nodes in one Pulumi stack (above {SHARD_ABOVE_NODES}, where grid "
                    "splits a region's stack) — this backend's stacks cannot be listed, so the layout is kept")
        return Layout(region, ((region, data),), note=note)
    if want and whole:
        note = (f"region {region}: {nodes} nodes in one Pulumi stack (above {SHARD_ABOVE_NODES}, where grid splits "
                "a new region's stack); kept whole: moving its nodes to other stacks would recreate them")
    if not shards and (whole or not want):
        return Layout(region, ((region, data),), note=note)
    if shards and not want:
        note = (f"region {region}: {nodes} nodes, at or below {SHARD_ABOVE_NODES}, stays split over "
                f"{len(shards)} node stacks: its nodes never move between stacks")
    parts = _split(region, data)
    return Layout(region, ((region, _without_nodes(data)), *parts.items()),
                  gone=tuple(s for s in shards if s not in parts), note=note)


def _split(region: str, data: RegionInput) -> dict[str, RegionInput]:
    """Node shards by (pool, index // SHARD_NODES), each with the region's fabrics and storage as made elsewhere."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for node in data["nodes"]:
        stack = shard_stack(region, str(node["pool"]), int(node["index"]) // SHARD_NODES)
        groups.setdefault(stack, []).append(node)
    shared = _without_nodes(data)
    shared["fabrics"] = [{**fabric, "external": True} for fabric in data["fabrics"]]
    shared["volumes"] = [{**volume, "external": True} for volume in data["volumes"]]
    out: dict[str, RegionInput] = {}
    for stack in sorted(groups):
        part = copy.copy(shared)
        part["nodes"] = groups[stack]
        out[stack] = part
    return out


def empty(data: RegionInput) -> RegionInput:
    """The region's input without nodes: what its own stack holds once split, and a gone shard's last input."""
    return _without_nodes(data)


def _without_nodes(data: RegionInput) -> RegionInput:
    trimmed = copy.copy(data)
    trimmed["nodes"] = []
    return trimmed


def merge_outputs(results: Collection[Mapping[str, Any]]) -> dict[str, Any]:
    """Stacks' outputs as one: mappings under one key are joined (the nodes of every shard), anything else is
    the first stack's (the region's own)."""
    merged: dict[str, Any] = {}
    for outputs in results:
        for key, value in outputs.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key, {}), Mapping):
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged.setdefault(key, value)
    return merged


def merge_changes(counts: Collection[Mapping[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for one in counts:
        for op, count in one.items():
            merged[op] = merged.get(op, 0) + count
    return merged


def run_all(jobs: Collection[Callable[[], Any]]) -> list[Any]:
    """Run `jobs` SHARD_PARALLEL at a time; their results in order; every job runs even when one fails, then the
    first failure is raised."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, min(SHARD_PARALLEL, len(jobs)))) as pool:
        futures = [pool.submit(job) for job in jobs]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]  # type: ignore[misc]
    return [f.result() for f in futures]
