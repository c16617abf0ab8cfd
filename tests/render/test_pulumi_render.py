"""render/pulumi.py: what each region's stack program receives, per target, and the files of its project."""

from __future__ import annotations

import json
from typing import Any

import yaml

from grid.render.pulumi import project_name, region_program_input, render_pulumi, stack_name
from grid.resources import Kind, expand
from support.paths import EXAMPLES, LOCAL_LAB
from support.specs import cluster_from

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdyaWQtdGVzdC1rZXktbm90LXJlYWwtMDAwMDAwMDAw grid"


def test_a_local_region_gets_its_own_resources_and_no_instance_types() -> None:
    cluster = cluster_from(LOCAL_LAB)
    graph = expand(cluster)
    program = region_program_input(cluster, graph, "east", authorized_key=KEY)

    assert (program["cluster"], program["region"], program["target"]) == ("lab", "east", "local")
    members = {r.address: r for r in graph.in_region("east")}
    assert [n["address"] for n in program["nodes"]] == [a for a, r in members.items() if r.kind is Kind.NODE]
    assert [f["address"] for f in program["fabrics"]] == [a for a, r in members.items() if r.kind is Kind.FABRIC]
    assert [v["address"] for v in program["volumes"]] == [a for a, r in members.items() if r.kind is Kind.VOLUME]
    assert all(n["address"].startswith("east/") and n["instance_type"] is None for n in program["nodes"])
    node = program["nodes"][0]
    assert {k: v for k, v in node.items() if k not in ("address", "instance_type")} == \
        dict(members[node["address"]].attrs)  # the node's attrs, as expanded: nothing computed again
    assert program["authorized_key"] == KEY
    assert program["image"] == cluster.spec.defaults.image
    assert program["settings"] == cluster.spec.targets.model_dump(mode="json")["local"]
    assert [p["name"] for p in program["pools"]] == [p.name for p in cluster.spec.regions[0].pools]


def test_a_cloud_region_gets_each_pools_instance_type() -> None:
    cluster = cluster_from(EXAMPLES / "targets" / "lab-aws.yaml")
    graph = expand(cluster)
    region = cluster.spec.regions[0]
    program = region_program_input(cluster, graph, region.name, authorized_key=KEY)

    wanted = {p.name: p.instance_types.get("aws") for p in region.pools}
    assert program["target"] == "aws"
    assert {p["name"]: p["instance_type"] for p in program["pools"]} == wanted
    assert all(n["instance_type"] == wanted[n["pool"]] for n in program["nodes"])
    assert None not in wanted.values()
    assert program["ssh"] == cluster.spec.defaults.ssh.model_dump(mode="json")


def test_the_project_holds_three_files_per_region_and_the_input_as_canonical_json() -> None:
    cluster = cluster_from(LOCAL_LAB)
    graph = expand(cluster)
    files = render_pulumi(cluster, graph, authorized_key=KEY)

    assert sorted(files) == sorted(f"pulumi/{region}/{name}" for region in graph.regions
                                   for name in ("Pulumi.yaml", "__main__.py", "resources.json"))
    for region in graph.regions:
        project = yaml.safe_load(files[f"pulumi/{region}/Pulumi.yaml"])
        assert project["name"] == project_name("lab") == "grid-lab"
        assert json.loads(files[f"pulumi/{region}/resources.json"]) == json.loads(json.dumps(
            region_program_input(cluster, graph, region, authorized_key=KEY)))
        assert stack_name(region) == region
    text = files["pulumi/east/resources.json"]
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"  # keys sorted: byte-stable


def test_the_existing_target_has_no_pulumi_project() -> None:
    def listed_hosts(data: dict[str, Any]) -> None:  # hosts in the spec: no inventory file to read
        data["spec"]["targets"] = {"existing": {"hosts": [
            {"name": f"dc1-gpu-000{i}", "address": f"198.18.100.1{i}", "region": "dc1", "pool": "gpu"}
            for i in range(2)]}}

    cluster = cluster_from(EXAMPLES / "targets" / "existing.yaml", listed_hosts)
    assert render_pulumi(cluster, expand(cluster), authorized_key=KEY) == {}
