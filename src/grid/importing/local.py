"""Adopting a local cluster's podman objects into a state (`grid import --local CLUSTER`): which objects match
the spec's resources, and the records that make the next `grid plan` empty.

The spec is the one the operator still has (`--spec`) or one recovered from the objects (grid.importing.
local_spec). Its resources are expanded with the nodes' addresses as podman has them, so every node keeps its IPs.
A resource is adopted when podman has its object under grid's name with the owner lineage being adopted (the
local target's guard then accepts it as this state's); a missing one is left for the next `grid up` to create,
an object the spec does not name is reported and left alone.

Host records say `configured` with the spec's input digests: grid configured these hosts (the containers carry
its labels and its key) and import changes nothing on them, so the next plan has nothing to configure; `grid
drift` runs the playbook in check mode and shows any host whose configuration is not what the spec says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from grid.importing.local_found import Found, FoundContainer
from grid.importing.local_spec import object_address
from grid.resources import Kind, ResourceGraph
from grid.state.model import HostRecord, ResourceRecord, State

ADOPTED_KINDS = (Kind.NODE, Kind.FABRIC, Kind.VOLUME)


@dataclass(frozen=True)
class Adoption:
    """Which of the spec's resources podman has (address -> physical id) and what it has that is not adopted."""

    ids: Mapping[str, str]  # adopted address -> network name, volume name or container id
    containers: Mapping[str, FoundContainer]  # adopted node address -> its container
    missing: tuple[str, ...]  # the spec's addresses podman has no object for (the next plan creates them)
    extra: tuple[str, ...]  # lines: objects of the cluster not adopted, and why


def pick_lineage(found: Found) -> tuple[str, tuple[str, ...]]:
    """The owner lineage to adopt (the one most objects carry) and a line per other lineage found."""
    counts = found.lineages()
    if not counts:
        return "", ()
    lineage = max(counts, key=lambda value: (counts[value], value != "", value))
    others = tuple(f"{n} object(s) of lineage {value or '(none)'} belong to another state: not adopted"
                   for value, n in sorted(counts.items()) if value != lineage)
    return lineage, others


def allocations(found: Found) -> dict[str, dict[str, str]]:
    """Node address -> {fabric name: IPv4} as podman has them: the spec is expanded with these addresses."""
    fabric_of = {n.name: object_address(n.address) for n in found.networks}
    out: dict[str, dict[str, str]] = {}
    for container in found.containers:
        fabrics = {where[2]: ip for net, ip in container.ips.items() if (where := fabric_of.get(net))}
        if container.address and fabrics:
            out[container.address] = fabrics
    return out


def allocation_state(cluster: str, found: Found) -> State:
    """A state holding only the nodes' addresses, for grid.workspace.graph_for to keep them."""
    return State(cluster=cluster, resources={
        address: ResourceRecord(address=address, kind=Kind.NODE.value, region=address.split("/", 1)[0],
                                attrs={"fabrics": fabrics})
        for address, fabrics in allocations(found).items()})


def adopt(found: Found, graph: ResourceGraph, lineage: str) -> Adoption:
    containers = {c.name: c for c in found.containers if c.lineage == lineage}
    networks = {n.name for n in found.networks if n.lineage == lineage}
    volumes = {v.name for v in found.volumes if v.lineage == lineage}
    ids: dict[str, str] = {}
    adopted: dict[str, FoundContainer] = {}
    missing: list[str] = []
    used: set[str] = set()
    for resource in graph:
        if resource.kind not in ADOPTED_KINDS:
            continue
        attrs = resource.attrs
        if resource.kind is Kind.NODE and (container := containers.get(str(attrs["container"]))):
            ids[resource.address], adopted[resource.address] = container.id, container
            used.add(container.name)
        elif resource.kind is Kind.FABRIC and str(attrs["network"]) in networks:
            ids[resource.address] = str(attrs["network"])
            used.add(str(attrs["network"]))
        elif resource.kind is Kind.VOLUME and str(attrs["volume"]) in volumes:
            ids[resource.address] = str(attrs["volume"])
            used.add(str(attrs["volume"]))
        else:
            missing.append(resource.address)
    extra = [f"{kind} {name} ({address or 'no address label'}) is not in the spec: left alone"
             for kind, name, address, owner in _objects(found) if owner == lineage and name not in used]
    return Adoption(ids, adopted, tuple(sorted(missing)), tuple(extra))


def _objects(found: Found) -> list[tuple[str, str, str, str]]:
    return ([("container", c.name, c.address, c.lineage) for c in found.containers]
            + [("network", n.name, n.address, n.lineage) for n in found.networks]
            + [("volume", v.name, v.address, v.lineage) for v in found.volumes])


def adopted_state(cluster: str, graph: ResourceGraph, adoption: Adoption, *, host_keys: Mapping[str, str],
                  digests: Mapping[str, tuple[str, str, str]], admin_public_key: str, spec_digest: str,
                  applied_spec: dict[str, object]) -> State:
    """The state of what was adopted: resource records as an apply of the spec would have left them, hosts
    configured with the spec's digests, host keys as the containers have them."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    resources: dict[str, ResourceRecord] = {}
    hosts: dict[str, HostRecord] = {}
    for resource in graph:
        if resource.address not in adoption.ids:
            continue
        outputs: dict[str, object] = {}
        if resource.kind is Kind.NODE:
            outputs = {"container_id": adoption.ids[resource.address],
                       "host_key": host_keys.get(resource.address, "")}
            node, cluster_digest, hosts_digest = digests[resource.address]
            hosts[resource.address] = HostRecord(address=resource.address, status="configured", node_digest=node,
                                                 cluster_digest=cluster_digest, hosts_digest=hosts_digest,
                                                 updated_at=now)
        resources[resource.address] = ResourceRecord(address=resource.address, kind=resource.kind.value,
                                                     region=resource.region, attrs=dict(resource.attrs),
                                                     outputs=outputs)
    return State(cluster=cluster, spec_digest=spec_digest, resources=resources, hosts=hosts,
                 applied_spec=applied_spec, admin_public_key=admin_public_key)
