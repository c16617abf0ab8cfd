"""Pulumi dynamic providers for the local target: podman networks, volumes and node containers.

They run in Pulumi's provider process (`python -m pulumi.dynamic`), which imports this
module from the installed grid package. `read` reports what really exists, so
`pulumi refresh` and previews with refresh see drift (a removed or stopped container).

Pulumi starts provider processes in process groups of their own and stops them only when it
exits normally: a provider whose engine was killed would wait forever, and could still be
finishing a podman call when the next run starts. So, in the provider process, a watchdog
thread ends the provider's process group (the provider and its podman calls) as soon as the
engine's address stops accepting connections.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from typing import Any

from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from grid.killpoints import kill_point
from grid.drivers.podman import Podman

# Inputs whose change needs a new object; everything else is updated in place.
NETWORK_REPLACES = ("network", "cidr", "gateway", "mtu")
VOLUME_REPLACES = ("volume",)
NODE_REPLACES = ("container", "hostname", "image", "fabrics", "storage", "networks", "volumes", "authorized_key")
NODE_IN_PLACE = ("cpus", "memory_gb")


def _labels(props: dict[str, Any]) -> dict[str, str]:
    return {"grid.cluster": props["cluster"], "grid.address": props["address"]}


def _diff(olds: dict[str, Any], news: dict[str, Any], replaces: tuple[str, ...]) -> DiffResult:
    keys = [k for k in sorted(set(olds) | set(news)) if not k.startswith("__") and olds.get(k) != news.get(k)
            and k not in ("host_key", "container_id", "running")]
    return DiffResult(changes=bool(keys), replaces=[k for k in keys if k in replaces],
                      delete_before_replace=True)


class NetworkProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        podman = Podman()
        if not podman.network_exists(props["network"]):
            podman.network_create(props["network"], subnet=props["cidr"], gateway=props["gateway"] or None,
                                  mtu=int(props["mtu"]), labels=_labels(props))
        kill_point("provider.network.created")
        return CreateResult(id_=props["network"], outs=dict(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if not Podman().network_exists(id_):
            return ReadResult(id_="", outs={})
        return ReadResult(id_=id_, outs=dict(props))

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return _diff(olds, news, NETWORK_REPLACES)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=dict(news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        Podman().network_rm(id_)


class VolumeProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        podman = Podman()
        if not podman.volume_exists(props["volume"]):
            podman.volume_create(props["volume"], labels=_labels(props))
        kill_point("provider.volume.created")
        return CreateResult(id_=props["volume"], outs=dict(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if not Podman().volume_exists(id_):
            return ReadResult(id_="", outs={})
        return ReadResult(id_=id_, outs=dict(props))

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return _diff(olds, news, VOLUME_REPLACES)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=dict(news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        Podman().volume_rm(id_)


class NodeProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        podman = Podman()
        name = props["container"]
        kill_point("provider.node.create")
        if podman.container_inspect(name) is not None:
            podman.container_rm(name)  # a leftover of an interrupted run: start clean
        container_id = podman.container_run(
            name, props["image"], hostname=props["hostname"],
            networks=[(n["network"], n["ip"]) for n in props["networks"]],
            volumes=[(v["volume"], v["mount"]) for v in props["volumes"]],
            labels=_labels(props), cpus=props.get("cpus"),
            memory_mb=int(props["memory_gb"] * 1024) if props.get("memory_gb") else None,
            authorized_key=props["authorized_key"],
        )
        kill_point("provider.node.started")
        host_key = podman.host_public_key(name)
        return CreateResult(id_=container_id, outs={**props, "container_id": container_id,
                                                    "host_key": host_key, "running": True})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        info = Podman().container_inspect(props.get("container") or id_)
        if info is None or info["id"] != id_:
            return ReadResult(id_="", outs={})
        running = info["running"]
        return ReadResult(id_=id_, outs={**props, "running": running})

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result = _diff(olds, news, NODE_REPLACES)
        if olds.get("running") is False:
            # A stopped node: an update starts it again (drift repair without losing the container).
            return DiffResult(changes=True, replaces=result.replaces, delete_before_replace=True)
        return result

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        podman = Podman()
        name = news["container"]
        if olds.get("cpus") != news.get("cpus") or olds.get("memory_gb") != news.get("memory_gb"):
            limits = []
            if news.get("cpus"):
                limits += ["--cpus", f"{news['cpus']:g}"]
            if news.get("memory_gb"):
                limits += ["--memory", f"{int(news['memory_gb'] * 1024)}m"]
            if limits:
                podman.run(["update", *limits, name])
        if olds.get("running") is False:
            podman.container_start(name)
        return UpdateResult(outs={**news, "container_id": id_, "host_key": olds.get("host_key", ""),
                                  "running": True})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        Podman().container_rm(props.get("container") or id_)


# -- the orphan watchdog ------------------------------------------------------------------------------

WATCH_INTERVAL_SECONDS = 0.5


def engine_address(argv: list[str]) -> tuple[str, int] | None:
    """The engine's gRPC address Pulumi passes a provider as its first argument ("127.0.0.1:40123")."""
    if len(argv) < 2:
        return None
    host, _, port = argv[1].rpartition(":")
    return (host, int(port)) if host and port.isdigit() else None


def engine_alive(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=2.0):
            return True
    except ConnectionRefusedError:
        return False
    except OSError:
        return True  # slow or unusual: not proof that the engine is gone


def _watch(address: tuple[str, int]) -> None:
    while engine_alive(address):
        threading.Event().wait(WATCH_INTERVAL_SECONDS)
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _start_watchdog() -> None:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if getattr(spec, "name", "") != "pulumi.dynamic.__main__":
        return  # imported by a stack program or a test, not serving as the provider
    address = engine_address(sys.argv)
    if address is not None:
        threading.Thread(target=_watch, args=(address,), name="grid-engine-watch", daemon=True).start()


_start_watchdog()
