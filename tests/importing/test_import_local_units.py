"""`grid import --local`, the pure parts: podman's inspect JSON read, a spec recovered from it, which objects are
adopted, and the Pulumi deployment built for a region's stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from grid.importing.local import adopt, adopted_state, allocation_state, pick_lineage
from grid.importing.local_deployment import DYNAMIC_TYPE, PROVIDER_KEY, SECRET_SIG, stack_resources, urn
from grid.importing.local_found import Found, parse_container, parse_network, parse_volume
from grid.importing.local_spec import recover_spec
from grid.render.pulumi import region_program_input
from grid.resources import expand
from grid.spec import load_spec_text
from grid.validate import validate

LINEAGE = "62c224d3-86a5-49e5-b5f0-0bfdefcbeab9"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKl3Xz4mxfiXmdaOffKF/D9bAV6WjWy4+K23HNTQA8x/ grid-il-u"


def labels(address: str, lineage: str = LINEAGE) -> dict[str, str]:
    return {"grid.address": address, "grid.cluster": "il-u", "grid.lineage": lineage, "grid.state": "/tmp/x"}


def container(index: int, *, lineage: str = LINEAGE, running: bool = True, pool: str = "train") -> dict[str, Any]:
    ip = f"198.19.64.{index + 2}"
    return {
        "Id": f"{index:064x}", "Name": f"grid-il-u-east-{pool}-{index:04d}", "ImageName": "localhost/grid-node:latest",
        "State": {"Status": "running" if running else "exited", "Running": running},
        "Config": {"Hostname": f"east-{pool}-{index:04d}", "Labels": labels(f"east/{pool}/node-{index:04d}", lineage),
                   "Env": ["PATH=/usr/bin", f"GRID_AUTHORIZED_KEYS={KEY}"],
                   "CreateCommand": ["podman", "run", "--network", f"grid-il-u-east-mgmt:ip={ip},mac=02:67:0:0:0:2"]},
        "HostConfig": {"NanoCpus": 500000000, "Memory": 536870912},
        "Mounts": [{"Type": "volume", "Name": "grid-il-u-east-pfs", "Destination": "/shared"}],
        "NetworkSettings": {"Networks": {"grid-il-u-east-mgmt": {"IPAddress": ip if running else ""}}},
    }


NETWORK = {"name": "grid-il-u-east-mgmt", "subnets": [{"subnet": "198.19.64.0/24", "gateway": "198.19.64.1"}],
           "options": {"mtu": "1500"}, "labels": labels("east/fabric/mgmt")}
VOLUME = {"Name": "grid-il-u-east-pfs", "Labels": labels("east/storage/pfs")}
FACTS = {"east/train/node-0000": {"accelerator": "h100-sxm", "accelerators": 2, "pool": "train"}}


def found(*containers: dict[str, Any]) -> Found:
    return Found("il-u", tuple(parse_container(c) for c in containers), (parse_network(NETWORK),),
                 (parse_volume(VOLUME),))


def test_inspect_json_is_read_into_what_an_import_needs() -> None:
    node = parse_container(container(1))
    assert (node.address, node.lineage, node.hostname) == ("east/train/node-0001", LINEAGE, "east-train-0001")
    assert node.ips == {"grid-il-u-east-mgmt": "198.19.64.3"}
    assert (node.cpus, node.memory_gb, node.authorized_key) == (0.5, 0.5, KEY)
    assert [(m.source, m.destination) for m in node.mounts] == [("grid-il-u-east-pfs", "/shared")]
    network = parse_network(NETWORK)
    assert (network.address, network.cidr, network.gateway, network.mtu) == (
        "east/fabric/mgmt", "198.19.64.0/24", "198.19.64.1", 1500)


def test_a_stopped_container_keeps_the_address_it_was_created_with() -> None:
    assert parse_container(container(0, running=False)).ips == {"grid-il-u-east-mgmt": "198.19.64.2"}


def test_the_recovered_spec_validates_and_marks_its_guesses() -> None:
    text = recover_spec(found(container(0), container(1)), FACTS)
    loaded = load_spec_text(text, "recovered.yaml")
    assert not validate(loaded).has_errors
    assert loaded.cluster is not None
    region = loaded.cluster.spec.regions[0]
    pool = region.pools[0]
    assert (region.name, pool.name, pool.count, pool.fabrics, pool.storage) == ("east", "train", 2, ["mgmt"], ["pfs"])
    assert pool.accelerator is not None and (pool.accelerator.model, pool.accelerator.per_node) == ("h100-sxm", 2)
    assert (pool.resources.cpus, pool.resources.memory_gb) == (0.5, 0.5)
    assert (region.fabrics[0].cidr, region.fabrics[0].mtu) == ("198.19.64.0/24", 1500)
    assert region.storage[0].mount == "/shared"
    guessed = [line for line in text.splitlines() if "# GUESSED" in line]
    assert [line.split(":")[0].strip() for line in guessed] == ["site", "- {name", "- {name"]


def test_a_node_removed_by_hand_is_still_counted() -> None:
    document = yaml.safe_load(recover_spec(found(container(0), container(2))))
    assert document["spec"]["regions"][0]["pools"][0]["count"] == 3
    assert "accelerator" not in document["spec"]["regions"][0]["pools"][0]  # no facts: none claimed


def test_the_lineage_most_objects_carry_is_adopted_the_others_reported() -> None:
    lineage, others = pick_lineage(found(container(0), container(1), container(2, lineage="other")))
    assert lineage == LINEAGE
    assert others == ("1 object(s) of lineage other belong to another state: not adopted",)


def _graph(text: str, what: Found) -> Any:
    loaded = load_spec_text(text)
    assert loaded.cluster is not None
    return loaded.cluster, expand(loaded.cluster, allocation_state("il-u", what).allocations())


def test_adoption_keeps_addresses_and_reports_missing_and_extra(tmp_path: Path) -> None:
    what = found(container(0), container(2), container(5, pool="infer"))
    spec = yaml.safe_load(recover_spec(found(container(0), container(1), container(2))))
    _, graph = _graph(yaml.safe_dump(spec), what)
    adoption = adopt(what, graph, LINEAGE)
    assert set(adoption.ids) == {"east/fabric/mgmt", "east/storage/pfs", "east/train/node-0000",
                                 "east/train/node-0002"}
    assert adoption.missing == ("east/train/node-0001",)
    assert adoption.extra == ("container grid-il-u-east-infer-0005 (east/infer/node-0005) is not in the spec: "
                              "left alone",)
    node = next(r for r in graph if r.address == "east/train/node-0002")
    assert node.attrs["fabrics"] == {"mgmt": "198.19.64.4"}  # as podman has it, not re-allocated
    digests = {a: ("n", "c", "h") for a in adoption.containers}
    state = adopted_state("il-u", graph, adoption, host_keys={"east/train/node-0000": "ssh-ed25519 AAAA0"},
                          digests=digests, admin_public_key=KEY, spec_digest="sha256:x", applied_spec={})
    assert state.resources["east/train/node-0000"].outputs == {"container_id": f"{0:064x}",
                                                               "host_key": "ssh-ed25519 AAAA0"}
    assert state.hosts["east/train/node-0002"].status == "configured"
    assert "east/train/node-0001" not in state.resources and "east/train/node-0001" not in state.hosts


def test_foreign_lineage_objects_are_never_adopted() -> None:
    what = found(container(0), container(1, lineage="other"))
    _, graph = _graph(recover_spec(what), what)
    adoption = adopt(what, graph, LINEAGE)
    assert "east/train/node-0001" in adoption.missing and "east/train/node-0001" not in adoption.ids


def test_the_deployment_holds_what_the_program_registers_for_adopted_resources() -> None:
    what = found(container(0), container(1))
    cluster, graph = _graph(recover_spec(what), what)
    adoption = adopt(what, graph, LINEAGE)
    ids = {a: i for a, i in adoption.ids.items() if a != "east/train/node-0001"}  # as if it were missing
    data = region_program_input(cluster, graph, "east", authorized_key=KEY)
    data["owner"] = {"lineage": LINEAGE, "state": "/tmp/x"}
    outputs = {"east/train/node-0000": {"container_id": f"{0:064x}", "host_key": "ssh-ed25519 AAAA0"}}
    resources = stack_resources(data, project="grid-il-u", stack="east", providers={
        "network": "NET", "volume": "VOL", "node": "NODE"}, provider_id="pid", ids=ids, node_outputs=outputs)
    by_urn = {r["urn"]: r for r in resources}
    node = by_urn[urn("grid-il-u", "east", DYNAMIC_TYPE, "east/train/node-0000")]
    assert urn("grid-il-u", "east", DYNAMIC_TYPE, "east/train/node-0001") not in by_urn
    assert node["id"] == f"{0:064x}" and node["provider"].endswith("::pid")
    assert node["inputs"][PROVIDER_KEY] == {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270",
                                            "plaintext": json.dumps("NODE")}
    assert node["inputs"]["networks"] == [{"network": "grid-il-u-east-mgmt", "ip": "198.19.64.2"}]
    assert node["inputs"]["volumes"] == [{"volume": "grid-il-u-east-pfs", "mount": "/shared"}]
    assert (node["inputs"]["container"], node["inputs"]["authorized_key"]) == ("grid-il-u-east-train-0000", KEY)
    assert node["outputs"]["host_key"] == "ssh-ed25519 AAAA0" and node["outputs"]["running"] is True
    assert sorted(node["dependencies"]) == sorted(urn("grid-il-u", "east", DYNAMIC_TYPE, a)
                                                  for a in ("east/fabric/mgmt", "east/storage/pfs"))
    network = by_urn[urn("grid-il-u", "east", DYNAMIC_TYPE, "east/fabric/mgmt")]
    assert (network["id"], network["inputs"]["cidr"], network["inputs"]["mtu"]) == (
        "grid-il-u-east-mgmt", "198.19.64.0/24", 1500)
    root = resources[0]
    assert root["outputs"] == {"nodes": {"east/train/node-0000": outputs["east/train/node-0000"]}}
