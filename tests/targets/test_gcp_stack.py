"""The gcp stack program under Pulumi's mocks — no cloud, no engine, no plugin.

`grid render` writes the Pulumi projects of the local lab retargeted at GCP (examples/targets/lab-gcp.yaml),
the national example retargeted at GCP (a cloud region per hub, 8 MRDMA rails; scaled to one node per pool)
and the A3 Ultra example (examples/clouds/gcp-a3.yaml, also with A3 Mega's machine type: a gVNIC per rail);
each rendered `__main__.py` runs under the mocks and what it registers is checked.
"""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mocked_graph import MockedGraph, mocked_graphs
from retarget import national_gcp, scaled

from grid.resources import rail_subnets
from grid.spec import gcp_offer
from support.paths import EXAMPLES

ADMIN = "198.19.255.0/24"


def a3_mega(data: dict[str, Any]) -> None:
    data["metadata"]["name"] = "a3-mega"
    for pool in data["spec"]["regions"][0]["pools"]:
        if pool["name"] == "a3u":
            pool["instance_types"] = {"gcp": "a3-megagpu-8g"}  # GPUDirect-TCPXO: a gVNIC per rail
    data["spec"]["regions"][0]["storage"][0]["deployment_type"] = "BASIC_HDD"  # home


SPECS: dict[str, tuple[Path, tuple[Callable[[dict[str, Any]], None], ...]]] = {
    "lab-gcp": (EXAMPLES / "targets" / "lab-gcp.yaml", ()),
    "national-gcp": (EXAMPLES / "national" / "cluster.yaml", (national_gcp, scaled)),
    "a3-ultra": (EXAMPLES / "clouds" / "gcp-a3.yaml", ()),
    "a3-mega": (EXAMPLES / "clouds" / "gcp-a3.yaml", (a3_mega,)),
}


class Graph(MockedGraph):
    """Resources by GCP module and type (`compute/network`), as the tests here count them."""

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"].split(":")[1] == kind]

    def counts(self) -> Counter[str]:
        return Counter(r["type"].split(":")[1] for r in self.resources)


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Graph]:
    return mocked_graphs(tmp_path_factory, SPECS, Graph, config={"grid:adminCidrs": ADMIN})


@pytest.mark.parametrize("spec", list(SPECS))
def test_render_gives_gcp_projects_whose_outputs_have_the_apply_engines_shape(
        graphs: dict[str, Graph], spec: str) -> None:
    graph = graphs[spec]
    for region, data in graph.data.items():
        assert "from grid.stacks import gcp as stack_program" in (
            graph.rendered / "pulumi" / region / "__main__.py").read_text()
        nodes = graph.outputs[region]["nodes"]
        assert set(nodes) == {n["address"] for n in data["nodes"]}
        for node in data["nodes"]:
            out = nodes[node["address"]]
            assert out["id"] and out["host_key"] == "" and out["private_ips"] == node["fabrics"]
    for instance in graph.of("compute/instance"):
        inputs = instance["inputs"]
        assert inputs["labels"]["grid-address"] == instance["name"].replace("/", "_")
        assert all(gcp_offer.label_key(k) == k and gcp_offer.label_value(v) == v for k, v in inputs["labels"].items())
        assert "accessConfigs" not in json.dumps(inputs["networkInterfaces"])  # no external address
        assert inputs["metadata"]["ssh-keys"].startswith("root:ssh-ed25519 ")
        assert "authorized_keys" in inputs["metadataStartupScript"]
        assert len(inputs["name"]) <= 63


def test_lab_networks_firewalls_instances_and_storage(graphs: dict[str, Graph]) -> None:
    graph = graphs["lab-gcp"]
    assert graph.counts() == Counter({
        "providers": 2, "compute/network": 3, "compute/subnetwork": 3, "compute/firewall": 6,
        "compute/resourcePolicy": 2, "compute/instance": 4, "filestore/instance": 2, "compute/disk": 2})
    providers = {r["name"]: r["inputs"] for r in graph.resources if r["type"] == "pulumi:providers:gcp"}
    assert providers["east/provider"]["region"] == "europe-west4" and providers["west/provider"]["region"] == (
        "europe-west1")  # the west hub's own cloud region
    assert {r["name"]: r["inputs"]["mtu"] for r in graph.of("compute/network")} == {
        "east/fabric/compute": 8896, "east/fabric/mgmt": 1500, "west/fabric/mgmt": 1500}
    assert {r["name"]: r["inputs"]["ipCidrRange"] for r in graph.of("compute/subnetwork")} == {
        "east/fabric/compute/subnet": "198.18.0.0/24", "east/fabric/mgmt/subnet": "198.18.1.0/24",
        "west/fabric/mgmt/subnet": "198.18.2.0/24"}
    rules = {r["name"]: (r["inputs"]["sourceRanges"], r["inputs"]["allows"]) for r in graph.of("compute/firewall")}
    assert rules["east/fabric/mgmt/firewall/ssh"] == ([ADMIN], [{"protocol": "tcp", "ports": ["22"]}])
    assert rules["east/fabric/compute/firewall/cluster"] == (["198.18.0.0/24"], [{"protocol": "all"}])
    assert all(r["inputs"]["direction"] == "INGRESS" for r in graph.of("compute/firewall"))
    train = graph.named("east/train/node-0000")["inputs"]
    assert train["machineType"] == "a3-highgpu-8g" and train["zone"] == "europe-west4-a"
    assert [(n["nicType"], n["networkIp"]) for n in train["networkInterfaces"]] == [
        ("GVNIC", "198.18.1.2"), ("GVNIC", "198.18.0.2")]  # the connect fabric (mgmt) is nic0
    assert train["labels"] == {"purpose": "demo", "grid-cluster": "lab-gcp", "grid-address": "east_train_node-0000"}
    assert train["scheduling"]["onHostMaintenance"] == "TERMINATE"  # GPUs do not live-migrate
    assert train["resourcePolicies"] == "east-train-placement-id"
    assert graph.named("east/train/placement")["inputs"]["groupPlacementPolicy"] == {"collocation": "COLLOCATED"}
    infer = graph.named("west/infer/node-0001")["inputs"]
    image = infer["bootDisk"]["initializeParams"]["image"]
    assert image == "projects/debian-cloud/global/images/family/debian-12-arm64"
    assert graph.named("west/infer/placement")["inputs"]["groupPlacementPolicy"] == {"availabilityDomainCount": 2}
    assert infer["scheduling"]["availabilityDomain"] == 2  # spread: node 1 in domain 2
    assert infer["attachedDisks"] == [
        {"source": "west-infer-node-0001-volume-scratch-id", "deviceName": "grid-scratch"}]
    assert "/dev/disk/by-id/google-grid-scratch" in infer["metadataStartupScript"]
    assert {r["name"]: r["inputs"]["size"] for r in graph.of("compute/disk")} == {
        "west/infer/node-0000/volume/scratch": 1024, "west/infer/node-0001/volume/scratch": 1024}
    filestore = {r["name"]: r["inputs"] for r in graph.of("filestore/instance")}
    assert {name: (f["tier"], f["fileShares"]["capacityGb"], f["location"]) for name, f in filestore.items()} == {
        "east/storage/pfs": ("ZONAL", 66_560, "europe-west4-a"), "west/storage/data": ("BASIC_SSD", 16_384,
                                                                                       "europe-west1-b")}
    assert "198.19.250.30:/share /data nfs" in infer["metadataStartupScript"]


def test_national_gcp_puts_each_hub_in_its_cloud_region_with_8_rdma_rails(graphs: dict[str, Graph]) -> None:
    graph = graphs["national-gcp"]
    regions = {r["name"].split("/")[0]: r["inputs"]["region"] for r in graph.resources
               if r["type"] == "pulumi:providers:gcp"}
    assert len(regions) == len(graph.data) and len(set(regions.values())) > 1
    for region, data in graph.data.items():
        for fabric in (f for f in data["fabrics"] if f["kind"] == "roce"):
            network = graph.named(fabric["address"])["inputs"]
            assert network["networkProfile"].endswith(f"{regions[region]}-a-vpc-roce")  # the first zone (sorted)
            rails = [graph.named(f"{fabric['address']}/rail-{i}")["inputs"]["ipCidrRange"] for i in range(8)]
            assert rails == rail_subnets(fabric["cidr"], 8)
            for node in (n for n in data["nodes"] if fabric["name"] in n["fabrics"]):
                assert ipaddress.IPv4Address(node["fabrics"][fabric["name"]]) in ipaddress.IPv4Network(rails[0])
    kinds = {f["address"].split("/")[0] + "/" + f["name"]: f["kind"] for f in graph_fabrics(graph)}
    for node in (n for data in graph.data.values() for n in data["nodes"]):
        nics = [n["nicType"] for n in graph.named(node["address"])["inputs"]["networkInterfaces"]]
        region = node["address"].split("/")[0]
        wanted = ["GVNIC"] + [nic for fabric in node["fabrics"] if fabric != "mgmt" for nic in (
            ["MRDMA"] * 8 if kinds[f"{region}/{fabric}"] == "roce" else ["GVNIC"])]  # infiniband: a plain network
        assert nics == wanted, node["address"]


def graph_fabrics(graph: Graph) -> list[dict[str, Any]]:
    return [f for data in graph.data.values() for f in data["fabrics"]]


def test_a3_ultra_one_roce_network_eight_rails_compact_placement_and_a_reservation(graphs: dict[str, Graph]) -> None:
    graph = graphs["a3-ultra"]
    networks = {r["name"]: r["inputs"] for r in graph.of("compute/network")}
    assert set(networks) == {"ew1/fabric/mgmt", "ew1/fabric/gpu"}
    assert networks["ew1/fabric/gpu"]["networkProfile"] == (
        "projects/my-ml-project/global/networkProfiles/europe-west1-b-vpc-roce")
    assert networks["ew1/fabric/gpu"]["mtu"] == 8896
    rails = [graph.named(f"ew1/fabric/gpu/rail-{i}")["inputs"] for i in range(8)]
    assert [r["ipCidrRange"] for r in rails] == [f"10.128.{32 * i}.0/19" for i in range(8)]
    assert all(r["network"] == "ew1-fabric-gpu-id" for r in rails)
    assert not [r for r in graph.of("compute/firewall") if r["inputs"]["network"] == "ew1-fabric-gpu-id"]
    for index in range(2):
        node = graph.named(f"ew1/a3u/node-000{index}")["inputs"]
        nics = node["networkInterfaces"]
        assert [n["nicType"] for n in nics] == ["GVNIC"] + ["MRDMA"] * 8
        assert [n["subnetwork"] for n in nics[1:]] == [f"ew1-fabric-gpu-rail-{i}-id" for i in range(8)]
        assert nics[1]["networkIp"] == f"10.128.0.{2 + index}" and all("networkIp" not in n for n in nics[2:])
        assert node["reservationAffinity"] == {"type": "SPECIFIC_RESERVATION", "specificReservation": {
            "key": "compute.googleapis.com/reservation-name", "values": ["a3-ultra-reservation-1"]}}
        assert node["resourcePolicies"] == "ew1-a3u-placement-id"
        assert node["bootDisk"]["initializeParams"]["type"] == "hyperdisk-balanced"
        assert node["labels"]["workload"] == "pretraining" and node["labels"]["cost-center"] == "research"
    assert graph.named("ew1/a3u/placement")["inputs"]["groupPlacementPolicy"] == {"collocation": "COLLOCATED"}
    login = graph.named("ew1/login/node-0000")["inputs"]
    assert login["scheduling"]["provisioningModel"] == "SPOT" and "resourcePolicies" not in login
    assert "reservationAffinity" not in login
    bucket = graph.named("ew1/storage/datasets")["inputs"]
    assert bucket["uniformBucketLevelAccess"] is True and bucket["publicAccessPrevention"] == "enforced"
    filestore = {r["name"]: r["inputs"]["fileShares"]["capacityGb"] for r in graph.of("filestore/instance")}
    assert filestore == {"ew1/storage/home": 2560, "ew1/storage/data": 10_240}
    assert graph.named("ew1/storage/home")["inputs"]["networks"][0]["network"] == "grid-a3-ultra-ew1-fabric-mgmt"


def test_a3_mega_takes_a_gvnic_network_per_rail(graphs: dict[str, Graph]) -> None:
    graph = graphs["a3-mega"]
    rails = [graph.named(f"ew1/fabric/gpu/rail-{i}")["inputs"] for i in range(8)]
    assert all("networkProfile" not in r and r["mtu"] == 8896 for r in rails)
    subnets = [graph.named(f"ew1/fabric/gpu/rail-{i}/subnet")["inputs"]["ipCidrRange"] for i in range(8)]
    assert subnets == rail_subnets("10.128.0.0/16", 8)
    home = graph.named("ew1/storage/home")["inputs"]
    assert (home["tier"], home["fileShares"]["capacityGb"]) == ("BASIC_HDD", 1024)  # the spec's deployment_type
    node = graph.named("ew1/a3u/node-0000")["inputs"]
    assert [n["nicType"] for n in node["networkInterfaces"]] == ["GVNIC"] * 9
    assert [n["network"] for n in node["networkInterfaces"][1:]] == [f"ew1-fabric-gpu-rail-{i}-id" for i in range(8)]
    # each rail network admits its own fabric's traffic; SSH only on rail 0
    names = {r["name"] for r in graph.of("compute/firewall")}
    assert {f"ew1/fabric/gpu/rail-{i}/firewall/cluster" for i in range(8)} <= names
    assert "ew1/fabric/gpu/rail-0/firewall/ssh" in names and "ew1/fabric/gpu/rail-1/firewall/ssh" not in names


def test_gcp_offer_rules() -> None:
    assert gcp_offer.filestore_billed_gib("BASIC_SSD", 1024) == 2560
    assert gcp_offer.filestore_billed_gib("BASIC_HDD", 1500) == 1500
    assert gcp_offer.filestore_billed_gib("ZONAL", 1100) == 1280
    assert gcp_offer.filestore_billed_gib("ZONAL", 10_000) == 10_240
    assert gcp_offer.filestore_billed_gib("ZONAL", 65_536) == 66_560
    assert gcp_offer.filestore_billed_gib("ZONAL", 200_000) is None
    assert gcp_offer.filestore_billed_gib("NOPE", 1) is None
    assert gcp_offer.labels({"app.kubernetes.io/name": "Web.Front", "9lives": "x"}) == {
        "app_kubernetes_io_name": "web_front", "k9lives": "x"}
    long = gcp_offer.resource_name("grid-" + "x" * 80)
    assert len(long) == 63 and long == gcp_offer.resource_name("grid-" + "x" * 80) != gcp_offer.resource_name(
        "grid-" + "x" * 81)
    assert gcp_offer.rdma_nic_type("a3-ultragpu-8g") == "MRDMA" and gcp_offer.rdma_nic_type("a3-megagpu-8g") is None
    assert rail_subnets("10.0.0.0/24", 3) == ["10.0.0.0/26", "10.0.0.64/26", "10.0.0.128/26"]
    assert rail_subnets("10.0.0.0/24", 1) == ["10.0.0.0/24"]
