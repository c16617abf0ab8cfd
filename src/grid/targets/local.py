"""The local target's cheap reality check: one podman listing of each kind for the whole cluster."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from grid.drivers.podman import Podman
from grid.plan import LiveResource
from grid.state.model import State


def probe(cluster: str, state: State) -> dict[str, LiveResource]:
    """Missing or stopped containers, missing networks and volumes, by resource address."""
    podman = Podman()
    selector = f"label=grid.cluster={cluster}"
    with ThreadPoolExecutor(max_workers=3) as pool:  # three independent podman calls: at once
        ps, nets, vols = (pool.submit(podman.run, [*argv, "--filter", selector, "--format", form]) for argv, form in (
            (["ps", "--all"], "json"), (["network", "ls"], "{{.Name}}"), (["volume", "ls"], "{{.Name}}")))
        listing = json.loads(ps.result().stdout or "[]")
        networks, volumes = set(nets.result().stdout.split()), set(vols.result().stdout.split())
    containers = {name: str(entry.get("State", "")) for entry in listing for name in entry.get("Names", [])}
    live: dict[str, LiveResource] = {}
    for address, record in state.resources.items():
        if record.kind == "node":
            status = containers.get(str(record.attrs.get("container")))
            if status is None:
                live[address] = LiveResource(exists=False, detail="container is missing")
            elif status.strip() != "running":
                live[address] = LiveResource(exists=True, healthy=False, detail=f"container is {status.strip()}")
        elif record.kind == "fabric" and record.attrs.get("network") not in networks:
            live[address] = LiveResource(exists=False, detail="network is missing")
        elif record.kind == "volume" and record.attrs.get("volume") not in volumes:
            live[address] = LiveResource(exists=False, detail="volume is missing")
    return live
