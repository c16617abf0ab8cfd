"""The aws stack builds what a GPU user of AWS asks for, under Pulumi's mocks (no cloud, no engine, no plugin).

examples/clouds/aws-p5.yaml (ParallelCluster-like: p5.48xlarge with 32 EFA ports, a capacity reservation, spot, a
cluster placement group, FSx for Lustre) is rendered and its program run: every p5 gets one EFA and 31 EFA-only
interfaces, one per network card, at launch. National retargeted with hubs in different AWS (and Keystone)
regions registers one provider per hub with its own region.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from retarget import national_aws, scaled, write_spec
from stack_mocks import run_isolated

from support.cli import grid
from support.paths import EXAMPLES

P5 = EXAMPLES / "clouds" / "aws-p5.yaml"


def render(tmp: Path, source: Path, *edits: Any) -> tuple[Path, dict[str, dict[str, Any]]]:
    spec, _ = write_spec(tmp, source, *edits)
    done = grid("render", str(spec), "-o", str(tmp / "rendered"))
    assert done.code == 0, done.output
    pulumi = tmp / "rendered" / "pulumi"
    return pulumi, {p.name: json.loads((p / "resources.json").read_text()) for p in pulumi.iterdir()}


@pytest.fixture(scope="module")
def p5(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pulumi, data = render(tmp_path_factory.mktemp("p5"), P5)
    result = run_isolated(projects=[str(pulumi / "use1")], timeout=300)
    result["data"] = data["use1"]
    return result


def of(result: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in result["resources"] if r["type"].endswith(":" + kind)]


def named(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in result["resources"] if r["name"] == name)


def test_every_p5_gets_one_efa_and_an_efa_only_interface_per_further_network_card(p5: dict[str, Any]) -> None:
    gpus = [n for n in p5["data"]["nodes"] if n["pool"] in ("train", "burst")]
    assert len(gpus) == 10
    for node in gpus:
        address, nic = node["address"], node["address"].replace("/", "-") + "-nic-"
        efa = named(p5, f"{address}/nic/efa")["inputs"]
        assert (efa["interfaceType"], efa["privateIps"]) == ("efa", [node["fabrics"]["efa"]])
        only = [named(p5, f"{address}/nic/efa/card-{card}")["inputs"] for card in range(1, 32)]
        assert {(i["interfaceType"], "privateIps" in i) for i in only} == {("efa-only", False)}
        assert {i["subnetId"] for i in only} == {efa["subnetId"]}
        instance = named(p5, address)["inputs"]
        launch = [(i["networkCardIndex"], i["deviceIndex"], i["networkInterfaceId"])
                  for i in instance["networkInterfaces"]]
        assert launch == [(0, 0, nic + "mgmt-id"), (0, 1, nic + "efa-id"),
                          *((card, 0, f"{nic}efa-card-{card}-id") for card in range(1, 32))]
        assert "primaryNetworkInterface" not in instance
    attached = {r["inputs"]["networkInterfaceId"] for r in of(p5, "NetworkInterfaceAttachment")}
    assert not attached  # EFAs cannot be attached to a running instance: all of them come at launch
    head = named(p5, "use1/head/node-0000")["inputs"]
    assert head["primaryNetworkInterface"]["networkInterfaceId"] == "use1-head-node-0000-nic-mgmt-id"
    assert len(of(p5, "NetworkInterface")) == 1 + 10 * 33


def test_efa_interfaces_share_a_group_that_lets_all_their_traffic_in_and_out(p5: dict[str, Any]) -> None:
    nodes, efa = (named(p5, f"use1/{name}")["inputs"] for name in ("security-group", "efa-security-group"))
    for direction in ("ingress", "egress"):
        assert [(r["protocol"], r["fromPort"], r["toPort"], r.get("self")) for r in efa[direction]] == [
            ("-1", 0, 0, True)]
        assert not any(r.get("self") for r in nodes[direction])  # the nodes' group keeps the spec's policy
    ssh = [r for r in nodes["ingress"] if r["protocol"] == "tcp"]
    assert [r["cidrBlocks"] for r in ssh] == [["203.0.113.0/24"]]
    both = ["use1-security-group-id", "use1-efa-security-group-id"]
    assert named(p5, "use1/train/node-0000/nic/efa")["inputs"]["securityGroups"] == both
    assert named(p5, "use1/train/node-0000/nic/efa/card-31")["inputs"]["securityGroups"] == both
    assert named(p5, "use1/train/node-0000/nic/mgmt")["inputs"]["securityGroups"] == both[:1]


def test_pools_are_bought_and_placed_as_the_spec_says(p5: dict[str, Any]) -> None:
    for node in p5["data"]["nodes"]:
        instance = named(p5, node["address"])["inputs"]
        reservation = instance.get("capacityReservationSpecification")
        market = instance.get("instanceMarketOptions")
        if node["pool"] == "train":
            assert reservation == {"capacityReservationTarget": {"capacityReservationId": "cr-0123456789abcdef0"}}
            assert market is None and "placementGroup" not in instance  # placement: none
        elif node["pool"] == "burst":
            assert market == {"marketType": "spot"} and reservation is None
            assert instance["placementGroup"] == "grid-aws-p5-use1-burst"
        else:
            assert market is None and reservation is None and "placementGroup" not in instance
    (group,) = of(p5, "PlacementGroup")
    assert (group["name"], group["inputs"]["strategy"]) == ("use1/burst/placement", "cluster")
    zones = {r["inputs"]["availabilityZone"] for r in of(p5, "Subnet") + of(p5, "Instance")}
    assert zones == {"us-east-1a"}  # the region's own zone (regions[].targets.aws.zone)


def test_fsx_lustre_has_the_specs_deployment_type_throughput_and_a_size_fsx_sells(p5: dict[str, Any]) -> None:
    (lustre,) = of(p5, "LustreFileSystem")
    inputs = lustre["inputs"]
    assert (inputs["deploymentType"], inputs["perUnitStorageThroughput"], inputs["storageCapacity"]) == (
        "PERSISTENT_2", 500, 4800)
    assert [e["name"] for e in of(p5, "efs/fileSystem:FileSystem")] == ["use1/storage/home"]
    boot = named(p5, "use1/train/node-0000")["inputs"]["userData"]
    assert "use1-storage-fsx-id.fsx.example@tcp:/abcdef" in boot


def test_tags_carry_the_labels_pools_their_own(p5: dict[str, Any]) -> None:
    cluster = {"project": "llm-pretraining", "cost-center": "research"}
    for resource in p5["resources"]:
        tags = resource["inputs"].get("tags")
        if tags is None:
            continue
        pool = resource["name"].split("/")[1] if resource["name"].count("/") >= 2 else ""
        want = {**cluster, **({"queue": pool} if pool in ("train", "burst") else {})}
        assert {k: tags.get(k) for k in want} == want, resource["name"]
        assert tags["grid:address"] == resource["name"] and tags["grid:cluster"] == "aws-p5"
    assert named(p5, "use1/train/node-0000")["inputs"]["volumeTags"]["queue"] == "train"


# -- one cloud region per hub ---------------------------------------------------------------------------

def two_hubs(cloud: str, first: dict[str, str], second: dict[str, str]) -> Any:
    def edit(data: dict[str, Any]) -> None:
        regions = data["spec"]["regions"]
        regions[0]["targets"] = {cloud: first}
        regions[1]["targets"] = {cloud: second}
    return edit


def first_two(tmp_path: Path) -> list[str]:
    return [r["name"] for r in yaml.safe_load((tmp_path / "cluster.yaml").read_text())["spec"]["regions"][:2]]


def providers(result: dict[str, Any], cloud: str) -> dict[str, str]:
    return {p["name"]: p["inputs"]["region"] for p in result["resources"] if p["type"] == f"pulumi:providers:{cloud}"}


def through_own_provider(result: dict[str, Any]) -> None:
    """Every resource of a hub is made through that hub's provider (a provider reference is `urn::id`)."""
    for resource in result["resources"]:
        if not resource["type"].startswith("pulumi:providers:"):
            hub = resource["name"].split("/")[0]
            assert resource["provider"].split("::")[-2] == f"{hub}/provider", resource["name"]


def test_hubs_in_different_aws_regions_get_a_provider_each(tmp_path: Path) -> None:
    edit = two_hubs("aws", {"region": "ap-northeast-1"}, {"region": "eu-west-1", "zone": "eu-west-1b"})
    pulumi, data = render(tmp_path, EXAMPLES / "national" / "cluster.yaml", national_aws, scaled, edit)
    first, second = first_two(tmp_path)
    result = run_isolated(projects=[str(pulumi / first), str(pulumi / second)], timeout=300)
    assert providers(result, "aws") == {f"{first}/provider": "ap-northeast-1", f"{second}/provider": "eu-west-1"}
    assert data[second]["settings"]["availability_zone"] == "eu-west-1b"
    zones = {s["inputs"]["availabilityZone"] for s in of(result, "Subnet") if s["name"].startswith(second + "/")}
    assert zones == {"eu-west-1b"}
    through_own_provider(result)


def test_hubs_in_different_keystone_regions_get_a_provider_each(tmp_path: Path) -> None:
    edit = two_hubs("openstack", {"region": "RegionOne"}, {"region": "RegionTwo"})
    pulumi, _ = render(tmp_path, EXAMPLES / "national" / "cluster.yaml", scaled, edit)
    first, second = first_two(tmp_path)
    result = run_isolated(projects=[str(pulumi / first), str(pulumi / second)], timeout=300)
    assert providers(result, "openstack") == {f"{first}/provider": "RegionOne", f"{second}/provider": "RegionTwo"}
    through_own_provider(result)


def test_the_p5_example_validates_without_a_finding() -> None:
    done = grid("validate", str(P5))
    assert done.code == 0 and "valid (0 warning(s))" in done.stdout, done.output
