"""Pulumi dynamic providers for the local target: podman networks, volumes and node containers.

They run in Pulumi's provider process (`python -m pulumi.dynamic`), which imports this
module from the installed grid package. `read` reports what really exists, so
`pulumi refresh` and previews with refresh see drift (a removed or stopped container).

The provider process starts in grid.stacks.provider_host, whose watchdog ends it (and its podman
calls) when the Pulumi engine that started it is killed.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from grid.drivers.podman import ContainerState, Podman, PodmanError
from grid.killpoints import kill_point
from grid.plan.contract import ALLOWANCE_ENV, Allowance

from . import local_reads

# Inputs whose change needs a new object; everything else is updated in place.
NETWORK_REPLACES = ("network", "cidr", "gateway", "mtu")
VOLUME_REPLACES = ("volume",)
NODE_REPLACES = ("container", "hostname", "image", "fabrics", "storage", "networks", "volumes")
NODE_IN_PLACE = ("cpus", "memory_gb")
# Not compared at all: outputs, what `read` found, and inputs used at creation only. The admin key seeds the
# first login; from then on it is configuration (Ansible keeps authorized_keys), so a key change never
# replaces a node. The owner labels name the state that made an object; they stay what they were made with.
IGNORED = ("host_key", "container_id", "running", "detached", "authorized_key", "owner")

# A container podman is removing (or has given up on) cannot be started again: `read` reports it gone,
# so Pulumi creates the node anew (create removes what is left of it first).
GONE_STATES = ("removing", "dead")


def _labels(props: dict[str, Any]) -> dict[str, str]:
    owner = props.get("owner") or {}
    return {"grid.cluster": props["cluster"], "grid.address": props["address"],
            **{f"grid.{key}": str(value) for key, value in sorted(owner.items()) if value}}


def _refuse_foreign(kind: str, name: str, labels: dict[str, str], props: dict[str, Any]) -> None:
    """An object of this name exists: make it anew, or take it over, only when this state owns it."""
    theirs, ours = labels.get("grid.lineage", ""), str((props.get("owner") or {}).get("lineage") or "")
    if theirs and ours and theirs != ours:
        where = labels.get("grid.state", "")
        raise RuntimeError(f"{props['address']}: {kind} {name} belongs to another grid state (lineage {theirs}"
                           f"{', state at ' + where if where else ''}); grid will not replace or take it over")


def _guard(address: str, op: str, detail: str = "") -> None:
    """Refuse a step the running plan did not show (grid.plan.contract), before anything is touched."""
    path = os.environ.get(ALLOWANCE_ENV)
    if not path:
        return  # preview, refresh, destroy: nothing to hold against
    allowed = Allowance.from_dict(json.loads(Path(path).read_text()))
    if reason := allowed.refusal(address, op, detail):
        raise RuntimeError(reason)


def _diff(olds: dict[str, Any], news: dict[str, Any], replaces: tuple[str, ...]) -> DiffResult:
    keys = [k for k in sorted(set(olds) | set(news)) if not k.startswith("__") and olds.get(k) != news.get(k)
            and k not in IGNORED]
    replaced = [k for k in keys if k in replaces]
    if replaced:
        _guard(str(news.get("address") or olds.get("address")), "replace", "changed: " + ", ".join(replaced))
    return DiffResult(changes=bool(keys), replaces=replaced, delete_before_replace=True)


class NetworkProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        with local_reads.changing():
            return self._create(props)

    def _create(self, props: dict[str, Any]) -> CreateResult:
        podman = Podman()
        existing = podman.network_inspect(props["network"])
        if existing is not None:
            _refuse_foreign("network", props["network"], existing["labels"], props)
        else:
            podman.network_create(props["network"], subnet=props["cidr"], gateway=props["gateway"] or None,
                                  mtu=int(props["mtu"]), labels=_labels(props))
        kill_point("provider.network.created")
        return CreateResult(id_=props["network"], outs=dict(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if not local_reads.exists(Podman(), "network", id_, props.get("cluster")):
            return ReadResult(id_="", outs={})
        return ReadResult(id_=id_, outs=dict(props))

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return _diff(olds, news, NETWORK_REPLACES)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=dict(news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        _guard(str(props.get("address")), "delete")
        with local_reads.changing():
            Podman().network_rm(id_)


class VolumeProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        with local_reads.changing():
            return self._create(props)

    def _create(self, props: dict[str, Any]) -> CreateResult:
        podman = Podman()
        labels = podman.volume_labels(props["volume"])
        if labels is not None:
            _refuse_foreign("volume", props["volume"], labels, props)
        else:
            podman.volume_create(props["volume"], labels=_labels(props))
        kill_point("provider.volume.created")
        return CreateResult(id_=props["volume"], outs=dict(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if not local_reads.exists(Podman(), "volume", id_, props.get("cluster")):
            return ReadResult(id_="", outs={})
        return ReadResult(id_=id_, outs=dict(props))

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return _diff(olds, news, VOLUME_REPLACES)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=dict(news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        _guard(str(props.get("address")), "delete")
        with local_reads.changing():
            Podman().volume_rm(id_)


CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_limits(cgroup_path: str, root: Path = CGROUP_ROOT) -> tuple[float | None, float | None] | None:
    """(cpus, memory in GiB) a container's cgroup enforces now (None: no limit), cgroup v2 or v1;
    None when they cannot be read. `podman inspect` keeps the limits the container was created with."""

    def read(*parts: str) -> str | None:
        try:
            return root.joinpath(*parts).read_text().strip()
        except OSError:
            return None

    relative = cgroup_path.lstrip("/")
    if not relative:
        return None
    cpu_max, memory_max = read(relative, "cpu.max"), read(relative, "memory.max")  # v2
    if cpu_max is not None and memory_max is not None:
        quota, _, period = cpu_max.partition(" ")
        cpus = None if quota == "max" else int(quota) / int(period or 100000)
        return cpus, None if memory_max == "max" else int(memory_max) / 1024**3
    quota_us, period_us = read("cpu", relative, "cpu.cfs_quota_us"), read("cpu", relative, "cpu.cfs_period_us")
    limit = read("memory", relative, "memory.limit_in_bytes")  # v1
    if quota_us is None or period_us is None or limit is None:
        return None
    cpus = None if int(quota_us) < 0 else int(quota_us) / int(period_us)
    return cpus, None if int(limit) >= 2**62 else int(limit) / 1024**3


def _limits(props: dict[str, Any], info: ContainerState) -> dict[str, Any]:
    """The CPU and memory limits the container really has, where they differ from what `props` asks:
    so refresh sees a limit changed by hand, or by an update whose run was killed before Pulumi saved it.
    A limit that matches (up to the kernel's rounding) keeps the spec's own number."""
    found = cgroup_limits(info["cgroup_path"])
    if found is None:
        return {}
    real_cpus, real_memory = found
    changed: dict[str, Any] = {}
    cpus, memory_gb = props.get("cpus"), props.get("memory_gb")
    wanted_cpus = float(cpus) if cpus else None
    if (real_cpus is None or wanted_cpus is None or abs(real_cpus - wanted_cpus) > 0.001) and real_cpus != wanted_cpus:
        changed["cpus"] = None if real_cpus is None else round(real_cpus, 3)
    wanted_mb = int(float(memory_gb) * 1024) if memory_gb else None
    real_mb = None if real_memory is None else round(real_memory * 1024)
    if real_mb != wanted_mb:
        changed["memory_gb"] = None if real_mb is None else real_mb / 1024
    return changed


def _bind(podman: Podman, volume: dict[str, Any]) -> tuple[str, str, list[str]]:
    """(volume or its subdir's host directory, mount point, options) of one of a node's storage mounts."""
    source = str(volume["volume"])
    if volume.get("subdir"):
        source = podman.volume_directory(source, str(volume["subdir"]))
    return source, str(volume["mount"]), list(volume.get("options") or [])


def _name_taken(stderr: str) -> bool:
    """podman's words for a container name held by another container: "is already in use" (a live or stopped
    one) or "is in use: container already exists" (one a killed `podman rm` left half-removed)."""
    return "already in use" in stderr or "container already exists" in stderr


class NodeProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        with local_reads.changing():
            return self._create(props)

    def _create(self, props: dict[str, Any]) -> CreateResult:
        podman = Podman()
        name = props["container"]
        kill_point("provider.node.create")
        run = functools.partial(
            podman.container_run, name, props["image"], hostname=props["hostname"],
            networks=[(n["network"], n["ip"]) for n in props["networks"]],
            volumes=[_bind(podman, v) for v in props["volumes"]],
            labels=_labels(props), cpus=props.get("cpus"),
            memory_mb=int(props["memory_gb"] * 1024) if props.get("memory_gb") else None,
            authorized_key=props["authorized_key"],
        )
        # A leftover of an interrupted run of this state goes (--replace), and so does one podman cannot
        # inspect (a `podman rm` killed half-way leaves a name taken by a container it does not know); a live
        # container of another state (a second checkout) is refused.
        try:
            try:
                container_id = run()
            except PodmanError as exc:
                if not _name_taken(exc.stderr):
                    raise
                found = podman.container_inspect(name)
                if found is not None:
                    _refuse_foreign("container", name, found["labels"], props)
                container_id = run(replace=True)
        except PodmanError as exc:
            if "device or resource busy" not in exc.stderr:
                raise
            podman.container_rm(name)  # retried while a killed podman's cleanup still holds a mount
            container_id = run()
        kill_point("provider.node.started")
        host_key = podman.host_public_key(name)
        return CreateResult(id_=container_id, outs={**props, "container_id": container_id,
                                                    "host_key": host_key, "running": True})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        info = local_reads.container(Podman(), props.get("container") or id_, props.get("cluster"))
        if info is None or info["id"] != id_ or info["state"] in GONE_STATES:
            return ReadResult(id_="", outs={})
        running = info["running"]
        # A running node taken off one of its networks (`podman network disconnect`): an update attaches it
        # again, with its address. (A stopped node has no addresses to compare: starting it restores them.)
        detached = sorted(n["network"] for n in props.get("networks") or [] if n["network"] not in info["ips"]
                          ) if running else []
        return ReadResult(id_=id_, outs={**props, "running": running, "detached": detached,
                                         **_limits(props, info)})

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result = _diff(olds, news, NODE_REPLACES)
        if olds.get("running") is False or olds.get("detached"):
            # A stopped or detached node: an update starts or re-attaches it (drift repair, container kept).
            return DiffResult(changes=True, replaces=result.replaces, delete_before_replace=True)
        return result

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        with local_reads.changing():
            return self._update(id_, olds, news)

    def _update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        kill_point("provider.node.update")  # Pulumi has recorded the update as pending; nothing changed yet
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
        for network in news.get("networks") or []:
            if network["network"] in (olds.get("detached") or []):
                podman.network_connect(name, network["network"], network.get("ip"))
        return UpdateResult(outs={**news, "container_id": id_, "host_key": olds.get("host_key", ""),
                                  "running": True, "detached": []})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        _guard(str(props.get("address")), "delete")
        with local_reads.changing():
            Podman().container_rm(props.get("container") or id_)
