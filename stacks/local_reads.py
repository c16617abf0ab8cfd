"""One podman listing shared by the local provider's reads in one Pulumi operation.

A refresh reads every node, network and volume of a stack; one podman process each made the refresh
of a 64-node cluster's stacks ~3 times slower than 16 nodes' on a loaded machine.
Here the first read of a kind lists the cluster's objects of that kind by the `grid.cluster` label
(containers: a listing and one inspect of all of them) and later reads take their answer from it.

Why it cannot serve stale data:
- it is on only in the dynamic provider's own process (grid.stacks.provider_host turns it on), which
  Pulumi starts for one operation and ends with it; grid and tests calling a provider get single reads;
- a listing is used for SNAPSHOT_SECONDS at most;
- any create, update or delete in the process drops every listing, and while one runs reads go on their own;
- a name not in the listing (absent, or without the label) is asked about on its own, as before.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from grid.drivers.podman import CLUSTER_LABEL, ContainerState, Podman, PodmanError

BATCH_ENV = "GRID_PROVIDER_BATCH_READS"  # set by grid.stacks.provider_host
SNAPSHOT_SECONDS = 10.0

T = TypeVar("T")
_lock = threading.Lock()
_changes_in_flight = 0  # creates, updates and deletes running in this process
_snapshots: dict[tuple[str, str], tuple[float, Any]] = {}  # (kind, cluster) -> (taken at, listing)


def enabled() -> bool:
    return os.environ.get(BATCH_ENV) == "1"


@contextmanager
def changing() -> Iterator[None]:
    """Around a create, update or delete: no listing taken before or during it is used after it."""
    global _changes_in_flight
    with _lock:
        _changes_in_flight += 1
        _snapshots.clear()
    try:
        yield
    finally:
        with _lock:
            _changes_in_flight -= 1
            _snapshots.clear()


def _snapshot(kind: str, cluster: str, take: Callable[[], T | None]) -> T | None:
    """The listing of `kind` for `cluster`: a fresh one of this process, else taken now (one thread takes it,
    the others wait for it). None when podman could not list: the caller reads on its own."""
    with _lock:
        if _changes_in_flight:
            return None  # a listing now would be out of date at once: read on its own
        held = _snapshots.get((kind, cluster))
        if held is not None and time.monotonic() - held[0] < SNAPSHOT_SECONDS:
            return held[1]  # type: ignore[no-any-return]
        started = time.monotonic()
        try:
            value = take()
        except PodmanError:
            value = None
        if value is not None:
            _snapshots[(kind, cluster)] = (started, value)
        return value


def container(podman: Podman, name: str, cluster: str | None) -> ContainerState | None:
    """What `podman.container_inspect(name)` says."""
    if enabled() and cluster:
        listing = _snapshot("container", cluster, lambda: podman.containers_inspect(CLUSTER_LABEL, cluster))
        if listing is not None and name in listing:
            return listing[name]
    return podman.container_inspect(name)


def exists(podman: Podman, kind: str, name: str, cluster: str | None) -> bool:
    """What `podman.network_exists(name)` / `volume_exists(name)` says (`kind`: "network" or "volume")."""
    if enabled() and cluster:
        listing = _snapshot(kind, cluster, lambda: podman.names_labelled(kind, CLUSTER_LABEL, cluster))
        if listing is not None and name in listing:
            return True
    return podman.network_exists(name) if kind == "network" else podman.volume_exists(name)
