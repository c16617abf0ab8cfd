"""Per-region Pulumi projects: Pulumi.yaml, the program entry point and the region's resources."""

from __future__ import annotations

from typing import Any

from grid.render.templating import canonical_json, render
from grid.resources import Kind, ResourceGraph
from grid.spec.model import Cluster


def project_name(cluster: str) -> str:
    return f"grid-{cluster}"


def stack_name(region: str) -> str:
    return region


def region_program_input(
    cluster: Cluster, graph: ResourceGraph, region: str, *, authorized_key: str
) -> dict[str, Any]:
    """The data a stack program receives: everything it creates, nothing it must compute.

    Cloud targets also get each node's `instance_type` and the region's `pools` (instance type,
    fabrics, storage: for placement/server groups), the spec's image and SSH user/port.
    """
    members = graph.in_region(region)
    target = cluster.spec.target
    pools = {p.name: p for r in cluster.spec.regions if r.name == region for p in r.pools}

    def instance_type(pool: str) -> str | None:
        spec = pools.get(pool)
        if spec is None or target not in ("aws", "openstack"):
            return None
        return spec.instance_types.get("aws" if target == "aws" else "openstack")

    return {
        "cluster": cluster.name,
        "region": region,
        "target": target,
        "fabrics": [{"address": r.address, **r.attrs} for r in members if r.kind is Kind.FABRIC],
        "volumes": [{"address": r.address, **r.attrs} for r in members if r.kind is Kind.VOLUME],
        "nodes": [{"address": r.address, **r.attrs, "instance_type": instance_type(str(r.attrs["pool"]))}
                  for r in members if r.kind is Kind.NODE],
        "pools": [{"name": p.name, "count": p.count, "instance_type": instance_type(p.name),
                   "fabrics": list(p.fabrics), "storage": list(p.storage), "nodes_per_rack": p.nodes_per_rack}
                  for p in pools.values()],
        "image": cluster.spec.defaults.image,
        "ssh": cluster.spec.defaults.ssh.model_dump(mode="json"),
        "settings": cluster.spec.targets.model_dump(mode="json")[target],
        "authorized_key": authorized_key,
    }


def render_pulumi(cluster: Cluster, graph: ResourceGraph, *, authorized_key: str) -> dict[str, str]:
    files: dict[str, str] = {}
    target = cluster.spec.target
    if target == "existing":
        return files  # existing hosts: nothing for Pulumi to create
    for region in graph.regions:
        values = {"cluster": cluster.name, "region": region, "target": target,
                  "project": project_name(cluster.name), "stack": stack_name(region)}
        base = f"pulumi/{region}/"
        files[base + "Pulumi.yaml"] = render("pulumi/Pulumi.yaml.j2", **values)
        files[base + "__main__.py"] = render("pulumi/__main__.py.j2", **values)
        files[base + "resources.json"] = canonical_json(
            region_program_input(cluster, graph, region, authorized_key=authorized_key))
    return files
