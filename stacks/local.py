"""Stack program of the local target: one podman network per fabric, one volume per storage
entry, one container per node (sshd, the cluster's key, the spec's addresses and limits)."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import Resource

from grid.image_refs import DEFAULT_NODE_IMAGE_REF, POOL_IMAGE_REPOSITORY

from .local_provider import NetworkProvider, NodeProvider, VolumeProvider


class Network(Resource):
    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(NetworkProvider(), name, props, opts)


class Volume(Resource):
    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(VolumeProvider(), name, props, opts)


class Node(Resource):
    container_id: pulumi.Output[str]
    host_key: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(NodeProvider(), name, {**props, "container_id": None, "host_key": None}, opts)


def program(data: dict[str, Any]) -> None:
    cluster = data["cluster"]
    image = (data.get("settings") or {}).get("image") or DEFAULT_NODE_IMAGE_REF
    authorized_key = data.get("authorized_key", "")
    # Labels naming the state that owns each object: another state (a second checkout) refuses to touch it.
    owner = data.get("owner") or {}
    # A node shard of a split region (grid.drivers.pulumi_shards) gets the fabrics and storage its region's own
    # stack made as `external`: their names are used, nothing is made for them here.
    networks: dict[str, tuple[Network | None, dict[str, Any]]] = {}
    for fabric in data["fabrics"]:
        if fabric.get("external"):
            networks[fabric["name"]] = (None, fabric)
            continue
        props = {"cluster": cluster, "address": fabric["address"], "network": fabric["network"],
                 "cidr": fabric["cidr"], "gateway": fabric["gateway"], "mtu": fabric["mtu"], "owner": owner}
        networks[fabric["name"]] = (Network(fabric["address"], props, pulumi.ResourceOptions(
            aliases=_aliases(data, fabric["address"]))), fabric)
    volumes: dict[str, tuple[Volume | None, dict[str, Any]]] = {}
    for volume in data["volumes"]:
        if volume.get("external"):
            volumes[volume["name"]] = (None, volume)
            continue
        props = {"cluster": cluster, "address": volume["address"], "volume": volume["volume"], "owner": owner}
        # Protection is enforced by grid's plan (it refuses to delete protected storage), not by
        # Pulumi's `protect`, so `grid destroy --allow-destroy-protected` stays one step.
        volumes[volume["name"]] = (Volume(volume["address"], props, pulumi.ResourceOptions(
            aliases=_aliases(data, volume["address"]))), volume)
    exported: dict[str, Any] = {}
    for node in data["nodes"]:
        attached = [networks[name] for name in sorted(node["fabrics"])]
        binds = node.get("mounts") or []  # storage mounted more than once, or with options or a subdir
        mounted = [volumes[name] for name in sorted({*node["storage"], *(b["storage"] for b in binds)})]
        props = {
            "cluster": cluster, "address": node["address"], "container": node["container"],
            "hostname": node["hostname"], "image": _node_image(node, image), "authorized_key": authorized_key,
            "networks": [{"network": fabric["network"], "ip": node["fabrics"][fabric["name"]]}
                         for _, fabric in attached],
            "volumes": [{"volume": volume["volume"], "mount": node["storage"][volume["name"]]}
                        for _, volume in mounted if volume["name"] in node["storage"]]
            + [{"volume": volumes[bind["storage"]][1]["volume"], "mount": bind["path"], "options": bind["options"],
                "subdir": bind["subdir"]} for bind in binds],
            "cpus": node.get("cpus"), "memory_gb": node.get("memory_gb"), "owner": owner,
        }
        created = Node(node["address"], props, pulumi.ResourceOptions(
            depends_on=[res for res, _ in [*attached, *mounted] if res is not None],
            aliases=_aliases(data, node["address"])))
        exported[node["address"]] = {"container_id": created.container_id, "host_key": created.host_key}
    pulumi.export("nodes", exported)


def _aliases(data: dict[str, Any], address: str) -> list[pulumi.Alias] | None:
    """A resource the spec renamed (`moved:`) is the one made under its previous address: an alias, so
    Pulumi re-addresses it instead of deleting one object and creating another."""
    previous = (data.get("aliases") or {}).get(address)
    return [pulumi.Alias(name=previous)] if previous else None


def _node_image(node: dict[str, Any], default: str) -> str:
    """The pool's own image (spec.images, built by grid before this program runs), else the cluster's."""
    image = str(node.get("image") or "")
    return image if image.startswith(POOL_IMAGE_REPOSITORY) else default
