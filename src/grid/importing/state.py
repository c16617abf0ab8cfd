"""The state `grid import` records: what `grid up` of target existing would record for the spec written.

Every resource of the spec's expansion is recorded with exactly the attributes the next plan computes (so it
plans no change), nodes with the host key pinned as grid.targets.existing pins it. No host configuration
records: grid runs no playbook on imported hosts (`configuration.manage: false`, grid.importing.writer).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from grid.resources import Kind, connect_ip, expand, pool_fabrics, recorded_connect_ip
from grid.spec import spec_digest
from grid.spec.model import Cluster
from grid.state.model import ResourceRecord, State
from grid.targets.existing import existing_nodes

if TYPE_CHECKING:
    from grid.importing.layout import FoundHost


def imported_state(cluster: Cluster, hosts: Mapping[str, FoundHost], admin_public_key: str) -> State:
    """`hosts`: by host name (the spec's targets.existing.hosts[].name); nodes of other hosts are left out."""
    graph = expand(cluster, {}, fixed_hosts=existing_nodes(cluster))
    resources: dict[str, ResourceRecord] = {}
    for resource in graph:
        outputs: dict[str, object] = {}
        if resource.kind is Kind.NODE:
            host = hosts.get(str(resource.attrs["hostname"]))
            if host is None:
                continue  # a host of the spec not read now (--merge): its record is kept as it is
            ip = connect_ip(resource)
            outputs = {"id": f"{ip}:{host.candidate.port}", "host_key": host.host_key, "private_ips": {"connect": ip}}
        resources[resource.address] = ResourceRecord(
            address=resource.address, kind=resource.kind.value,
            region="" if resource.kind is Kind.LINK else resource.region, attrs=dict(resource.attrs),
            outputs=outputs)
    return State(cluster=cluster.metadata.name, spec_digest=spec_digest(cluster), resources=resources,
                 applied_spec=cluster.model_dump(mode="json"), admin_public_key=admin_public_key)


def pins_of(state: State, cluster: Cluster | None = None) -> dict[tuple[str, int], str]:
    """{(address, port): pinned host key} of the nodes a state records (the port from the node's id)."""
    pools = pool_fabrics(cluster) if cluster is not None else {}
    out: dict[tuple[str, int], str] = {}
    for address, record in state.resources.items():
        key = record.outputs.get("host_key")
        if record.kind != Kind.NODE.value or not key:
            continue
        ip = recorded_connect_ip(address, record.region, record.attrs, pools)
        port = str(record.outputs.get("id", "")).rpartition(":")[2]
        out[(ip, int(port) if port.isdigit() else 22)] = str(key)
    return out
