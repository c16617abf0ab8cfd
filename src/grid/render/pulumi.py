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
    """The data a stack program receives: everything it creates, nothing it must compute."""
    members = graph.in_region(region)
    return {
        "cluster": cluster.name,
        "region": region,
        "target": cluster.spec.target,
        "fabrics": [{"address": r.address, **r.attrs} for r in members if r.kind is Kind.FABRIC],
        "volumes": [{"address": r.address, **r.attrs} for r in members if r.kind is Kind.VOLUME],
        "nodes": [{"address": r.address, **r.attrs} for r in members if r.kind is Kind.NODE],
        "settings": cluster.spec.targets.model_dump(mode="json")[cluster.spec.target],
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
