"""The alicloud stack program, run under Pulumi's mocks — no cloud, no engine, no plugin.

`grid render` writes the Pulumi projects of the lab retargeted at Alibaba Cloud (examples/targets/
lab-alicloud.yaml), of national retargeted (one cloud region per hub) and of the GPU example
(examples/clouds/alicloud-gpu.yaml); each rendered `__main__.py` runs under the mocks and what it registers is
checked: providers per cloud region, VPC and vSwitches, security group rules, instances (types, images,
addresses, tags, capacity), eRDMA interfaces, deployment sets, NAS/CPFS, OSS, ESSDs and the stack outputs.
"""

from __future__ import annotations

from collections import Counter

import pytest
import yaml
from mocked_graph import MockedGraph, mocked_graphs
from retarget import national_alicloud, scaled

from support.paths import EXAMPLES

ADMIN = "198.19.255.0/24"
SPECS = {
    "lab": (EXAMPLES / "targets" / "lab-alicloud.yaml", ()),
    "gpu": (EXAMPLES / "clouds" / "alicloud-gpu.yaml", ()),
    "national": (EXAMPLES / "national" / "cluster.yaml", (national_alicloud, scaled)),
}


Graph = MockedGraph


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Graph]:
    return mocked_graphs(tmp_path_factory, SPECS, config={"grid:adminCidrs": ADMIN})


def test_render_gives_a_project_per_region_that_runs_the_alicloud_program(graphs: dict[str, Graph]) -> None:
    for graph in graphs.values():
        for region, data in graph.data.items():
            main = (graph.rendered / "pulumi" / region / "__main__.py").read_text()
            assert "from grid.stacks import alicloud as stack_program" in main
            assert data["target"] == "alicloud" and all(n["instance_type"] for n in data["nodes"])
        assert set(graph.outputs) == set(graph.data)


def test_each_hub_gets_a_provider_in_its_own_cloud_region(graphs: dict[str, Graph]) -> None:
    lab = {r["name"]: r["inputs"]["region"] for r in graphs["lab"].of("alicloud")}
    assert lab == {"east/provider": "cn-wulanchabu", "west/provider": "cn-shanghai"}
    national = {r["inputs"]["region"] for r in graphs["national"].of("alicloud")}
    assert len(national) == min(6, len(graphs["national"].data)) > 1
    # east names its zone; west has none, so the program takes the first zone that sells vSwitches
    assert graphs["lab"].inputs("east/fabric/compute")["zoneId"] == "cn-wulanchabu-c"
    assert graphs["lab"].inputs("west/fabric/mgmt")["zoneId"] == "cn-mock-a"


def test_a_vpc_covers_the_fabrics_and_a_vswitch_carries_each(graphs: dict[str, Graph]) -> None:
    lab = graphs["lab"]
    assert lab.inputs("east/vpc")["cidrBlock"] == "198.18.0.0/23"
    assert {s["name"]: s["inputs"]["cidrBlock"] for s in lab.of("Switch")} == {
        "east/fabric/compute": "198.18.0.0/24", "east/fabric/mgmt": "198.18.1.0/24",
        "west/fabric/mgmt": "198.18.2.0/24"}


def test_the_security_group_allows_ssh_from_admins_and_the_fabrics_and_nothing_else(
        graphs: dict[str, Graph]) -> None:
    lab = graphs["lab"]
    assert lab.inputs("east/security-group")["innerAccessPolicy"] == "Drop"
    rules = {(r["inputs"]["type"], r["inputs"]["ipProtocol"], r["inputs"]["portRange"], r["inputs"]["cidrIp"],
              r["inputs"]["policy"]) for r in lab.of("SecurityGroupRule") if r["name"].startswith("east/")}
    assert rules == {
        ("ingress", "tcp", "22/22", ADMIN, "accept"),
        ("ingress", "all", "-1/-1", "198.18.0.0/24", "accept"), ("ingress", "all", "-1/-1", "198.18.1.0/24", "accept"),
        ("egress", "all", "-1/-1", "198.18.0.0/24", "accept"), ("egress", "all", "-1/-1", "198.18.1.0/24", "accept"),
        ("egress", "all", "-1/-1", "0.0.0.0/0", "drop")}
    deny = lab.inputs("east/security-group/egress/deny")
    assert deny["priority"] > max(r["inputs"]["priority"] for r in lab.of("SecurityGroupRule")
                                  if r["inputs"]["policy"] == "accept")


def test_instances_have_the_pools_types_the_spec_addresses_and_the_tags(graphs: dict[str, Graph]) -> None:
    lab = graphs["lab"]
    instances = {r["name"]: r["inputs"] for r in lab.of("Instance")}
    assert sorted(instances) == sorted(n["address"] for d in lab.data.values() for n in d["nodes"])
    for data in lab.data.values():
        for node in data["nodes"]:
            made = instances[node["address"]]
            assert made["instanceType"] == node["instance_type"]
            assert made["imageId"] == "debian_12_6_x64_20G_alibase_20240819.vhd"
            assert made["internetMaxBandwidthOut"] == 0 and made["instanceChargeType"] == "PostPaid"
            assert made["hostName"] == node["hostname"]
            first = "mgmt"  # the connect fabric: the primary interface
            assert made["privateIp"] == node["fabrics"][first]
            assert made["tags"]["purpose"] == "demo" and made["tags"]["grid:address"] == node["address"]
            assert made["userData"].startswith("#cloud-config\n")
            assert yaml.safe_load(made["userData"])["ssh_authorized_keys"] == [data["authorized_key"].strip()]
            assert made["systemDiskEncrypted"] is True
    east = instances["east/train/node-0000"]
    assert east["enableJumboFrame"] is True and "enableJumboFrame" not in instances["west/infer/node-0000"]
    assert lab.inputs("west/infer/placement")["strategy"] == "Availability"
    assert lab.inputs("east/train/placement")["strategy"] == "LowLatency"


def test_lab_storage_is_cpfs_nas_and_an_essd_per_node(graphs: dict[str, Graph]) -> None:
    lab = graphs["lab"]
    pfs = lab.inputs("east/storage/pfs")
    assert (pfs["fileSystemType"], pfs["protocolType"], pfs["storageType"], pfs["capacity"]) == (
        "cpfs", "cpfs", "advance_100", 66_000)  # 64 TiB, rounded up to CPFS's 1200 GiB steps
    data = lab.inputs("west/storage/data")
    assert (data["fileSystemType"], data["protocolType"], data["storageType"]) == ("standard", "NFS", "Performance")
    assert lab.inputs("west/storage/data/mount-target")["networkType"] == "Vpc"
    disks = {r["name"]: r["inputs"] for r in lab.of("EcsDisk")}
    assert set(disks) == {"west/infer/node-0000/volume/scratch", "west/infer/node-0001/volume/scratch"}
    assert all(d["size"] == 1024 and d["category"] == "cloud_essd" and d["encrypted"] for d in disks.values())
    assert len(lab.of("EcsDiskAttachment")) == 2
    west = lab.inputs("west/infer/node-0000")["userData"]
    assert "cn-mock.nas.aliyuncs.com:/" in west and "/data" in west and "nvme-Alibaba_Cloud" in west
    assert ".cpfs.aliyuncs.com:/share" in lab.inputs("east/train/node-0000")["userData"]


def test_the_gpu_cluster_registers_erdma_instances_in_a_deployment_set(graphs: dict[str, Graph]) -> None:
    gpu = graphs["gpu"]
    (placement,) = gpu.of("EcsDeploymentSet")
    assert placement["name"] == "wlcb/h20/placement" and placement["inputs"]["strategy"] == "LowLatency"
    h20 = [r["inputs"] for r in gpu.of("Instance") if "/h20/" in r["inputs"]["tags"]["grid:address"]]
    assert len(h20) == 4
    for made in h20:
        assert made["instanceType"] == "ecs.ebmgn8v.48xlarge"
        assert made["deploymentSetId"] == "wlcb-h20-placement-id"
        assert (made["privatePoolOptionsMatchCriteria"], made["privatePoolOptionsId"]) == (
            "Target", "eap-bp1aliexample0001")
        assert made["tags"]["tier"] == "training" and made["tags"]["project"] == "llm-pretrain"
    nics = Counter((r["name"].split("/nic/")[0], r["inputs"]["networkInterfaceTrafficMode"]) for r in gpu.of(
        "EcsNetworkInterface"))
    assert nics == {(f"wlcb/h20/node-000{i}", "HighPerformance"): 2 for i in range(4)}
    cards = {r["name"]: r["inputs"].get("networkCardIndex") for r in gpu.of("EcsNetworkInterfaceAttachment")}
    assert cards["wlcb/h20/node-0000/nic/rdma/attachment"] == 0
    assert cards["wlcb/h20/node-0000/nic/rdma/port-1/attachment"] == 1
    assert gpu.inputs("wlcb/h20/node-0000/nic/rdma")["primaryIpAddress"] == "198.18.16.2"
    assert "primaryIpAddress" not in gpu.inputs("wlcb/h20/node-0000/nic/rdma/port-1")
    login = gpu.inputs("wlcb/login/node-0000")
    assert login["spotStrategy"] == "SpotAsPriceGo" and "deploymentSetId" not in login


def test_the_gpu_clusters_storage_is_cpfs_of_its_tier_and_a_private_bucket(graphs: dict[str, Graph]) -> None:
    gpu = graphs["gpu"]
    ckpt = gpu.inputs("wlcb/storage/ckpt")
    assert (ckpt["storageType"], ckpt["capacity"]) == ("advance_200", 10_800)
    assert gpu.inputs("wlcb/storage/ckpt/nfs-service")["protocolType"] == "NFS"
    assert gpu.inputs("wlcb/storage/datasets/acl")["acl"] == "private"
    assert gpu.inputs("wlcb/storage/datasets/public-access-block")["blockPublicAccess"] is True
    login = yaml.safe_load(gpu.inputs("wlcb/login/node-0000")["userData"])
    assert [m[1] for m in login["mounts"]] == ["/mnt/ckpt"]


def test_outputs_have_the_shape_the_apply_engine_reads(graphs: dict[str, Graph]) -> None:
    for graph in graphs.values():
        for region, data in graph.data.items():
            out = graph.outputs[region]
            assert set(out) == {"nodes", "storage", "network"}
            for node in data["nodes"]:
                made = out["nodes"][node["address"]]
                assert made["host_key"] == "" and made["id"]
                assert made["private_ips"] == node["fabrics"]
