"""The Pulumi deployment (checkpoint resources) of a local region's stack, built from what exists.

A lost work directory loses the DIY Pulumi backend with it. Pulumi's own `import` resource option cannot adopt
grid's resources: they are dynamic-provider resources, whose `read` needs the serialized provider the engine
only has from the resource's inputs (an import has none). So grid writes the stack's state itself — the
resources exactly as `grid.stacks.local.program` registers them (type, name, parent, provider, inputs,
dependencies) and as `grid.stacks.local_provider` reports them (outputs: container id, host key, running) —
and hands it to `pulumi stack import`. The next preview diffs the program against it like any other run.

Pure: the serialized providers and the provider's id are passed in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from grid.image_refs import DEFAULT_NODE_IMAGE_REF, POOL_IMAGE_REPOSITORY
from grid.render.pulumi import RegionInput

STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_TYPE = "pulumi:providers:pulumi-python"
DYNAMIC_TYPE = "pulumi-python:dynamic:Resource"
PROVIDER_KEY = "__provider"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker of a secret value in a deployment
SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"


def urn(project: str, stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def secret(value: Any) -> dict[str, str]:
    """A secret in a deployment given in plaintext: `stack import` encrypts it with the stack's passphrase."""
    return {SECRET_SIG: SECRET_VALUE, "plaintext": json.dumps(value)}


def program_props(data: RegionInput) -> list[tuple[str, str, dict[str, Any], list[str]]]:
    """(provider kind, address, inputs, addresses it depends on) of each resource the local program registers
    for `data`, in its order (kind: network | volume | node). Mirrors grid.stacks.local.program."""
    cluster = data["cluster"]
    image = (data.get("settings") or {}).get("image") or DEFAULT_NODE_IMAGE_REF
    owner = data.get("owner") or {}
    out: list[tuple[str, str, dict[str, Any], list[str]]] = []
    fabrics = {f["name"]: f for f in data["fabrics"]}
    volumes = {v["name"]: v for v in data["volumes"]}
    for fabric in data["fabrics"]:
        if not fabric.get("external"):
            out.append(("network", fabric["address"], {
                "cluster": cluster, "address": fabric["address"], "network": fabric["network"],
                "cidr": fabric["cidr"], "gateway": fabric["gateway"], "mtu": fabric["mtu"], "owner": owner}, []))
    for volume in data["volumes"]:
        if not volume.get("external"):
            out.append(("volume", volume["address"], {"cluster": cluster, "address": volume["address"],
                                                      "volume": volume["volume"], "owner": owner}, []))
    for node in data["nodes"]:
        attached = [fabrics[name] for name in sorted(node["fabrics"])]
        binds = node.get("mounts") or []
        mounted = [volumes[name] for name in sorted({*node["storage"], *(b["storage"] for b in binds)})]
        props = {
            "cluster": cluster, "address": node["address"], "container": node["container"],
            "hostname": node["hostname"], "image": _node_image(node, image), "authorized_key": data["authorized_key"],
            "networks": [{"network": f["network"], "ip": node["fabrics"][f["name"]]} for f in attached],
            "volumes": [{"volume": v["volume"], "mount": node["storage"][v["name"]]}
                        for v in mounted if v["name"] in node["storage"]]
            + [{"volume": volumes[b["storage"]]["volume"], "mount": b["path"], "options": b["options"],
                "subdir": b["subdir"]} for b in binds],
            "cpus": node.get("cpus"), "memory_gb": node.get("memory_gb"), "owner": owner,
        }
        depends = [r["address"] for r in [*attached, *mounted] if not r.get("external")]
        out.append(("node", node["address"], {k: v for k, v in props.items() if v is not None}, depends))
    return out


def _node_image(node: Mapping[str, Any], default: str) -> str:
    image = str(node.get("image") or "")
    return image if image.startswith(POOL_IMAGE_REPOSITORY) else default


def stack_resources(data: RegionInput, *, project: str, stack: str, providers: Mapping[str, str],
                    provider_id: str, ids: Mapping[str, str],
                    node_outputs: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The deployment's `resources` for the region's stack: its root, the default dynamic provider and every
    resource of `data` whose address is in `ids` (its physical id: network or volume name, container id).
    `providers`: kind -> serialized provider; `node_outputs`: address -> {"container_id", "host_key"}."""
    root = urn(project, stack, STACK_TYPE, f"{project}-{stack}")
    provider_urn = urn(project, stack, PROVIDER_TYPE, "default")
    nodes = {a: {"container_id": o["container_id"], "host_key": o["host_key"]} for a, o in node_outputs.items()
             if a in ids}
    resources: list[dict[str, Any]] = [
        {"urn": root, "custom": False, "type": STACK_TYPE, "outputs": {"nodes": nodes}},
        {"urn": provider_urn, "custom": True, "id": provider_id, "type": PROVIDER_TYPE},
    ]
    for kind, address, props, depends in program_props(data):
        if address not in ids:
            continue  # missing: the next run creates it, as the plan shows
        inputs = {PROVIDER_KEY: secret(providers[kind]), **props}
        outputs = dict(inputs)
        if kind == "node":
            outputs.update({"container_id": ids[address], "host_key": node_outputs[address]["host_key"],
                            "running": True})
        deps = [urn(project, stack, DYNAMIC_TYPE, d) for d in depends if d in ids]
        resources.append({
            "urn": urn(project, stack, DYNAMIC_TYPE, address), "custom": True, "id": ids[address],
            "type": DYNAMIC_TYPE, "inputs": inputs, "outputs": outputs, "parent": root,
            **({"dependencies": deps} if deps else {}),
            "provider": f"{provider_urn}::{provider_id}",
            "propertyDependencies": {key: [] for key in inputs},
        })
    return resources
