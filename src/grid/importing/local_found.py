"""What podman holds of one local cluster: its containers, networks and volumes, read from their labels and
`podman inspect`, as plain values (the parsing is pure: `parse_*` take inspect JSON, for tests).

Only objects labelled `grid.cluster=CLUSTER` are read; every other container, network and volume on the
machine is never looked at, let alone touched.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from grid.drivers.podman import CLUSTER_LABEL, Podman

ADDRESS_LABEL = "grid.address"
LINEAGE_LABEL = "grid.lineage"
AUTHORIZED_KEYS_ENV = "GRID_AUTHORIZED_KEYS"
FACTS_FILE = "/etc/grid/node.json"  # what grid's base role writes on every node it configures (base_facts_file)


@dataclass(frozen=True)
class FoundNetwork:
    name: str
    address: str  # grid's resource address (its label), "" when unlabelled
    lineage: str
    cidr: str
    gateway: str
    mtu: int | None


@dataclass(frozen=True)
class FoundVolume:
    name: str
    address: str
    lineage: str


@dataclass(frozen=True)
class FoundMount:
    source: str  # a volume's name
    destination: str


@dataclass(frozen=True)
class FoundContainer:
    name: str
    id: str
    address: str
    lineage: str
    hostname: str
    image: str
    status: str  # podman's: running, exited, ...
    ips: Mapping[str, str]  # network name -> IPv4 (empty while stopped: then `static_ips`)
    mounts: tuple[FoundMount, ...]
    cpus: float | None
    memory_gb: float | None
    authorized_key: str  # the admin key it was created with (GRID_AUTHORIZED_KEYS)
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Found:
    """Everything podman holds of `cluster`, by kind."""

    cluster: str
    containers: tuple[FoundContainer, ...] = ()
    networks: tuple[FoundNetwork, ...] = ()
    volumes: tuple[FoundVolume, ...] = ()

    def lineages(self) -> Counter[str]:
        """How many objects carry each owner lineage ("" : made before objects were labelled with one)."""
        owners = [*(c.lineage for c in self.containers), *(n.lineage for n in self.networks),
                  *(v.lineage for v in self.volumes)]
        return Counter(owners)

    def empty(self) -> bool:
        return not (self.containers or self.networks or self.volumes)


def find_cluster(cluster: str, podman: Podman | None = None) -> Found:
    """Read what podman holds of `cluster` (its label selects; nothing else is inspected)."""
    podman = podman or Podman()
    listing = podman.list_by_label(CLUSTER_LABEL, cluster)
    containers = _inspect(podman, "container", listing.containers)
    networks = _inspect(podman, "network", listing.networks)
    volumes = _inspect(podman, "volume", listing.volumes)
    return Found(cluster, tuple(sorted((parse_container(c) for c in containers), key=lambda c: c.name)),
                 tuple(sorted((parse_network(n) for n in networks), key=lambda n: n.name)),
                 tuple(sorted((parse_volume(v) for v in volumes), key=lambda v: v.name)))


def node_facts(podman: Podman, found: Found) -> dict[str, dict[str, Any]]:
    """Node address -> the facts grid's configuration wrote on it (FACTS_FILE: accelerator model and count),
    read from the first running container of each pool (its pool's nodes are alike); nodes without the file
    (never configured) are skipped."""
    facts: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for container in found.containers:
        pool = container.address.rsplit("/", 1)[0]
        if container.status != "running" or not container.address or pool in seen:
            continue
        proc = podman.exec(container.name, ["cat", FACTS_FILE], check=False, timeout=20)
        try:
            value = json.loads(proc.stdout) if proc.returncode == 0 else None
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            facts[container.address] = value
            seen.add(pool)
    return facts


def _inspect(podman: Podman, kind: str, names: Sequence[str]) -> list[dict[str, Any]]:
    if not names:
        return []
    proc = podman.run([kind, "inspect", *names], check=False)  # one removed meanwhile: the others still come
    items = json.loads(proc.stdout or "[]")
    return [item for item in items if isinstance(item, dict)]


def _labels(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def parse_network(data: Mapping[str, Any]) -> FoundNetwork:
    labels = _labels(data.get("labels"))
    subnets = [s for s in data.get("subnets") or [] if isinstance(s, dict)]
    first = subnets[0] if subnets else {}
    options = data.get("options") or {}
    mtu = options.get("mtu") if isinstance(options, dict) else None
    return FoundNetwork(name=str(data.get("name", "")), address=labels.get(ADDRESS_LABEL, ""),
                        lineage=labels.get(LINEAGE_LABEL, ""), cidr=str(first.get("subnet", "")),
                        gateway=str(first.get("gateway", "")), mtu=int(mtu) if mtu is not None else None)


def parse_volume(data: Mapping[str, Any]) -> FoundVolume:
    labels = _labels(data.get("Labels"))
    return FoundVolume(name=str(data.get("Name", "")), address=labels.get(ADDRESS_LABEL, ""),
                       lineage=labels.get(LINEAGE_LABEL, ""))


def parse_container(data: Mapping[str, Any]) -> FoundContainer:
    config = data.get("Config") or {}
    labels = _labels(config.get("Labels"))
    host = data.get("HostConfig") or {}
    nets = (data.get("NetworkSettings") or {}).get("Networks") or {}
    ips = {str(n): str(i.get("IPAddress")) for n, i in nets.items() if isinstance(i, dict) and i.get("IPAddress")}
    env = dict(str(e).partition("=")[::2] for e in config.get("Env") or [])
    nano = host.get("NanoCpus") or 0
    memory = host.get("Memory") or 0
    mounts = tuple(FoundMount(str(m.get("Name", "")), str(m.get("Destination", "")))
                   for m in data.get("Mounts") or [] if isinstance(m, dict) and m.get("Type") == "volume")
    return FoundContainer(
        name=str(data.get("Name", "")), id=str(data.get("Id", "")), address=labels.get(ADDRESS_LABEL, ""),
        lineage=labels.get(LINEAGE_LABEL, ""), hostname=str(config.get("Hostname", "")),
        image=str(data.get("ImageName", "")), status=str((data.get("State") or {}).get("Status", "")),
        ips=ips or static_ips(data), mounts=mounts, cpus=round(nano / 1e9, 3) if nano else None,
        memory_gb=round(memory / 1024**3, 4) if memory else None,
        authorized_key=env.get(AUTHORIZED_KEYS_ENV, ""), labels=labels)


def static_ips(data: Mapping[str, Any]) -> dict[str, str]:
    """A stopped container's fixed addresses, from the `--network NET:ip=…` it was created with."""
    found: dict[str, str] = {}
    args = [str(a) for a in (data.get("Config") or {}).get("CreateCommand") or []]
    for flag, value in itertools.pairwise(args):
        if flag == "--network" and ":ip=" in value:
            network, _, options = value.partition(":")
            found[network] = dict(o.partition("=")[::2] for o in options.split(",")).get("ip", "")
    return {n: ip for n, ip in found.items() if ip}
