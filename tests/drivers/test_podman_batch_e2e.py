"""Podman.containers_inspect against real podman: one listing of a cluster's containers says of each what
container_inspect says of it alone — running, stopped, never started, limits and labels — and nothing of
containers of another cluster or of ones removed.

Needs podman and the node image (scripts/setup.sh builds it); the containers run `sleep` with no network.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest

from grid.drivers.podman import CLUSTER_LABEL, Podman

pytestmark = pytest.mark.e2e

IMAGE = os.environ.get("GRID_NODE_IMAGE", "localhost/grid-node:latest")


@pytest.fixture
def podman() -> Iterator[tuple[Podman, str, str]]:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    podman = Podman()
    if not podman.image_exists(IMAGE):
        pytest.skip(f"node image {IMAGE} is missing: run scripts/setup.sh")
    cluster, other = (f"gridtest-batch-{uuid.uuid4().hex[:8]}" for _ in range(2))
    try:
        yield podman, cluster, other
    finally:
        for name in (cluster, other):
            podman.remove_by_label(CLUSTER_LABEL, name)


def _container(podman: Podman, cluster: str, name: str, *, start: bool = True, limits: bool = False) -> str:
    args = ["run", "--detach"] if start else ["create"]
    args += ["--name", name, "--network", "none", "--label", f"{CLUSTER_LABEL}={cluster}", "--label", "grid.test=batch",
             *(["--cpus", "0.5", "--memory", "256m"] if limits else []), "--entrypoint", "sleep", IMAGE, "infinity"]
    podman.run(args)
    return name


def test_one_listing_says_what_each_inspect_says(podman: tuple[Podman, str, str]) -> None:
    pm, cluster, other = podman
    running = _container(pm, cluster, f"{cluster}-running", limits=True)
    stopped = _container(pm, cluster, f"{cluster}-stopped")
    pm.container_stop(stopped, timeout=0)
    created = _container(pm, cluster, f"{cluster}-created", start=False)
    removed = _container(pm, cluster, f"{cluster}-removed")
    pm.container_rm(removed)
    _container(pm, other, f"{other}-foreign")

    listing = pm.containers_inspect(CLUSTER_LABEL, cluster)

    assert listing is not None
    assert sorted(listing) == sorted([running, stopped, created])
    for name in (running, stopped, created):
        assert listing[name] == pm.container_inspect(name)
    assert listing[running]["running"] and listing[running]["cgroup_path"]
    assert not listing[stopped]["running"] and listing[stopped]["state"] == "exited"
    assert listing[created]["state"] == "created"
    assert pm.containers_inspect(CLUSTER_LABEL, f"{cluster}-nothing") == {}
