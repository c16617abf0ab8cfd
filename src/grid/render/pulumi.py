"""Per-region Pulumi projects: Pulumi.yaml, the program entry point and the region's resources."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from grid.render.images import cloud_image_ids
from grid.render.network import cloud_policy
from grid.render.templating import canonical_json, render
from grid.resources import Kind, ResourceGraph
from grid.spec.model import Cluster
from grid.spec.moved import previous_addresses
from grid.spec.targets import traits_of


class RegionInput(TypedDict):
    """What a region's stack program receives (`region_program_input`), and a stack engine's input
    (grid.engines.StackEngine). Rendered as pulumi/<region>/resources.json."""

    cluster: str
    region: str
    target: str
    fabrics: list[dict[str, Any]]  # {"address", and the fabric's attrs}
    volumes: list[dict[str, Any]]
    nodes: list[dict[str, Any]]  # {"address", the node's attrs, "instance_type"}
    pools: list[dict[str, Any]]  # {"name", "count", "instance_type", "fabrics", "storage", "nodes_per_rack"}
    image: str
    ssh: dict[str, Any]
    settings: dict[str, Any]  # the target's own settings (spec.targets.<target>, the region's targets.<target> over)
    labels: dict[str, str]  # metadata.labels: tags/labels of every cloud resource (a pool's `labels` over them)
    authorized_key: str
    owner: NotRequired[dict[str, str]]  # labels of the state that makes it (grid.apply.run.owner_labels)
    admin_cidrs: NotRequired[list[str]]  # clouds: access.admin_cidrs, when the spec gives them
    ingress: NotRequired[dict[str, list[dict[str, Any]]]]  # clouds: fabric -> rules, sources as CIDRs
    aliases: NotRequired[dict[str, str]]  # address -> the one it had before a `moved:` rename (Pulumi aliases)


def project_name(cluster: str) -> str:
    return f"grid-{cluster}"


def stack_name(region: str) -> str:
    return region


def region_settings(cluster: Cluster, region: str) -> dict[str, Any]:
    """spec.targets.<target>, with the region's own cloud region and zone (regions[].targets.<target>) over it."""
    target = cluster.spec.target
    settings: dict[str, Any] = cluster.spec.targets.model_dump(mode="json").get(target, {})
    spec = next((r for r in cluster.spec.regions if r.name == region), None)
    placement = getattr(spec.targets, target, None) if spec is not None else None
    if placement is not None:
        if placement.region is not None:
            settings["region"] = placement.region
        if placement.zone is not None:
            settings[traits_of(cluster).zone_setting] = placement.zone
    return settings


def region_program_input(
    cluster: Cluster, graph: ResourceGraph, region: str, *, authorized_key: str
) -> RegionInput:
    """The data a stack program receives: everything it creates, nothing it must compute.

    Cloud targets also get each node's `instance_type` and the region's `pools` (instance type,
    fabrics, storage: for placement/server groups), the spec's image and SSH user/port.
    """
    members = graph.in_region(region)
    target = cluster.spec.target
    type_key = traits_of(cluster).instance_type_key
    pools = {p.name: p for r in cluster.spec.regions if r.name == region for p in r.pools}
    images = cloud_image_ids(cluster) if traits_of(cluster).cloud else {}

    def instance_type(pool: str) -> str | None:
        spec = pools.get(pool)
        if spec is None or type_key is None:
            return None
        return spec.instance_types.get(type_key)

    data: RegionInput = {
        "cluster": cluster.name,
        "region": region,
        "target": target,
        "fabrics": [{"address": r.address, **r.attrs} for r in members if r.kind is Kind.FABRIC],
        "volumes": [{"address": r.address, **r.attrs} for r in members if r.kind is Kind.VOLUME],
        "nodes": [{"address": r.address, **r.attrs, "instance_type": instance_type(str(r.attrs["pool"]))}
                  for r in members if r.kind is Kind.NODE],
        "pools": [{"name": p.name, "count": p.count, "instance_type": instance_type(p.name),
                   "fabrics": list(p.fabrics), "storage": list(p.storage), "nodes_per_rack": p.nodes_per_rack,
                   "provisioning": p.provisioning, "reservation": p.reservation, "placement": p.placement,
                   "labels": {**cluster.metadata.labels, **p.labels},
                   **({"image": images[p.image]} if p.image in images else {})}  # its spec.images id
                  for p in pools.values()],
        "image": cluster.spec.defaults.image,
        "ssh": cluster.spec.defaults.ssh.model_dump(mode="json"),
        "settings": region_settings(cluster, region),
        "labels": dict(cluster.metadata.labels),
        "authorized_key": authorized_key,
    }
    if cluster.spec.moved and (aliases := previous_addresses((r.address for r in members), cluster.spec.moved)):
        data["aliases"] = aliases  # the stack re-addresses what it made under the previous name, keeping it
    if traits_of(cluster).cloud:  # the lab enforces the policy on the nodes (the firewall role)
        data.update(cloud_policy(cluster, graph, region))  # type: ignore[typeddict-item]
        ports = {f.name: f.ports_per_node for r in cluster.spec.regions if r.name == region for f in r.fabrics}
        for fabric in data["fabrics"]:  # RDMA NICs per node on a roce fabric (EFA, eRDMA, GPUDirect rails)
            fabric["ports_per_node"] = ports.get(str(fabric["name"]), 1)
    return data


def render_pulumi(cluster: Cluster, graph: ResourceGraph, *, authorized_key: str) -> dict[str, str]:
    files: dict[str, str] = {}
    target = cluster.spec.target
    if not traits_of(cluster).creates_infrastructure:
        return files  # e.g. machines that exist already: nothing for Pulumi to create
    for region in graph.regions:
        values = {"cluster": cluster.name, "region": region, "target": target,
                  "project": project_name(cluster.name), "stack": stack_name(region)}
        base = f"pulumi/{region}/"
        files[base + "Pulumi.yaml"] = render("pulumi/Pulumi.yaml.j2", **values)
        files[base + "__main__.py"] = render("pulumi/__main__.py.j2", **values)
        files[base + "resources.json"] = canonical_json(
            region_program_input(cluster, graph, region, authorized_key=authorized_key))
    return files
