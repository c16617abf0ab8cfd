"""The aws and openstack stack programs, run under Pulumi's mocks — no cloud, no engine, no plugin.

For the local lab retargeted at each cloud (examples/targets/lab-*.yaml) and the national example
(openstack as shipped, and retargeted at aws), `grid render` writes the Pulumi projects; each
rendered `__main__.py` runs under the mocks and the resource graph it registers is checked: counts
per type, subnets and MTUs, security rules, flavors and instance types, addresses, tags, the cloud-init
of every node, and the stack outputs the apply engine reads. National is scaled to one node per pool
for the mocks (they cost ~10 ms a resource); its full size is checked on the program's own helpers.
"""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from mocked_graph import MockedGraph, render_specs, run_rendered
from retarget import national_aws, scaled
from stack_mocks import DEFAULT_CATALOG

from support.paths import EXAMPLES

ADMIN = "198.19.255.0/24"
UNTAGGABLE_AWS = {"aws", "NetworkInterfaceAttachment", "VolumeAttachment", "MountTarget",
                  "VpcIpv4CidrBlockAssociation", "BucketPublicAccessBlock",  # the provider and links between things
                  "VpcDhcpOptionsAssociation", "Record"}  # a Route 53 record has no tags
NO_MANILA = [t for t in DEFAULT_CATALOG if t not in ("sharev2", "object-store")]


def lustre(data: dict[str, Any]) -> None:
    """lab-aws with its parallel-fs on FSx for Lustre, as the spec chooses it."""
    data["metadata"]["name"] = "lab-aws-fsx"
    pfs = data["spec"]["regions"][0]["storage"][0]
    pfs.update(backend="fsx-lustre", deployment_type="PERSISTENT_2", throughput_mbps_per_tib=500)


SPECS: dict[str, tuple[Path, tuple[Callable[[dict[str, Any]], None], ...]]] = {
    "lab-aws": (EXAMPLES / "targets" / "lab-aws.yaml", ()),
    "lab-aws-fsx": (EXAMPLES / "targets" / "lab-aws.yaml", (lustre,)),
    "lab-openstack": (EXAMPLES / "targets" / "lab-openstack.yaml", ()),
    "national": (EXAMPLES / "national" / "cluster.yaml", (scaled,)),
    "national-aws": (EXAMPLES / "national" / "cluster.yaml", (national_aws, scaled)),
}
# (spec, variant) -> (mock config, Keystone catalog)
RUNS: dict[tuple[str, str], tuple[dict[str, str], list[str] | None]] = {
    ("lab-aws", "admin"): ({"grid:adminCidrs": ADMIN}, None),
    ("lab-aws-fsx", "fsx"): ({}, None),
    ("lab-openstack", "admin"): ({"grid:adminCidrs": ADMIN}, None),
    ("lab-openstack", "no-manila"): ({}, NO_MANILA),
    ("national", "admin"): ({"grid:adminCidrs": ADMIN}, None),
    ("national-aws", "admin"): ({"grid:adminCidrs": ADMIN}, None),
}


Graph = MockedGraph


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Graph]:
    rendered = render_specs(tmp_path_factory, SPECS)

    def one(job: tuple[str, str]) -> Graph:
        config, catalog = RUNS[job]
        return run_rendered(rendered[job[0]], config=config, catalog=catalog)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(RUNS, pool.map(one, RUNS), strict=True))


# -- the rendered projects -----------------------------------------------------------------------------

@pytest.mark.parametrize("spec,target", [("lab-aws", "aws"), ("lab-openstack", "openstack"),
                                         ("national", "openstack"), ("national-aws", "aws")])
def test_render_gives_a_pulumi_project_per_region_that_runs_the_target_program(
        graphs: dict[tuple[str, str], Graph], spec: str, target: str) -> None:
    graph = graphs[(spec, "admin")]
    for region, data in graph.data.items():
        project = graph.rendered / "pulumi" / region
        assert yaml.safe_load((project / "Pulumi.yaml").read_text())["runtime"] == "python"
        assert f"from grid.stacks import {target} as stack_program" in (project / "__main__.py").read_text()
        assert data["target"] == target and data["authorized_key"].startswith("ssh-ed25519 ")
        assert all(node["instance_type"] for node in data["nodes"])
    assert set(graph.outputs) == set(graph.data)


@pytest.mark.parametrize("spec", ["lab-aws", "lab-openstack", "national", "national-aws"])
def test_outputs_have_the_local_stacks_shape(graphs: dict[tuple[str, str], Graph], spec: str) -> None:
    """`nodes`: {address: {id, host_key, private_ips}} — what grid.apply.engine records per node."""
    graph = graphs[(spec, "admin")]
    for region, data in graph.data.items():
        nodes = graph.outputs[region]["nodes"]
        assert set(nodes) == {n["address"] for n in data["nodes"]}
        for node in data["nodes"]:
            out = nodes[node["address"]]
            assert out["id"] and out["host_key"] == ""
            assert out["private_ips"] == node["fabrics"]
        assert set(graph.outputs[region]["storage"]) == {
            v["address"] for v in data["volumes"] if v["kind"] != "block" and any(
                v["name"] in n["storage"] for n in data["nodes"])}


# -- aws -----------------------------------------------------------------------------------------------

def test_aws_lab_resource_graph(graphs: dict[tuple[str, str], Graph]) -> None:
    graph = graphs[("lab-aws", "admin")]
    assert graph.counts() == Counter({
        "pulumi:providers:aws": 2, "aws:ec2/vpc:Vpc": 2, "aws:ec2/subnet:Subnet": 3,
        "aws:ec2/securityGroup:SecurityGroup": 3, "aws:ec2/keyPair:KeyPair": 2,  # east's EFA group too
        "aws:ec2/placementGroup:PlacementGroup": 2, "aws:ec2/instance:Instance": 4,
        "aws:ec2/networkInterface:NetworkInterface": 6,  # east's roce fabric is EFA: attached at launch
        "aws:efs/fileSystem:FileSystem": 2, "aws:efs/mountTarget:MountTarget": 2,
        "aws:ebs/volume:Volume": 2, "aws:ec2/volumeAttachment:VolumeAttachment": 2,
        # names: dns (the default): a private hosted zone per region, searched by its VPC, a record per node
        "aws:route53/zone:Zone": 2, "aws:ec2/vpcDhcpOptions:VpcDhcpOptions": 2,
        "aws:ec2/vpcDhcpOptionsAssociation:VpcDhcpOptionsAssociation": 2, "aws:route53/record:Record": 4,
    })
    assert {s["inputs"]["cidrBlock"] for s in graph.of("Subnet")} == {f["cidr"] for f in graph.fabrics}
    assert {s["inputs"]["availabilityZone"] for s in graph.of("Subnet") + graph.of("Instance")} == {"eu-central-1a"}
    assert {p["inputs"]["region"] for p in graph.of("pulumi:providers:aws")} == {"eu-central-1"}
    assert {g["inputs"]["strategy"] for g in graph.of("PlacementGroup")} == {"cluster"}
    assert not any("mtu" in json.dumps(r["inputs"]).lower() for r in graph.resources)  # AWS: the VPC's MTU


def test_aws_security_groups_allow_ssh_from_admins_and_the_fabrics_only(graphs: dict[tuple[str, str], Graph]) -> None:
    for key, ssh_from in ((("lab-aws", "admin"), {ADMIN}), (("lab-aws-fsx", "fsx"), None)):
        graph = graphs[key]
        for group in graph.of("SecurityGroup"):
            region = group["name"].split("/")[0]
            if group["name"].endswith("/efa-security-group"):  # EFA's OS bypass: all among its own interfaces
                assert region == "east"  # the region with a roce fabric
                for direction in ("ingress", "egress"):
                    assert [(r["protocol"], r.get("self"), r.get("cidrBlocks")) for r in group["inputs"][direction]
                            ] == [("-1", True, None)]
                continue
            fabrics = {f["cidr"] for f in graph.data[region]["fabrics"]}
            rules = {(r["protocol"], int(r["fromPort"]), int(r["toPort"]), tuple(r["cidrBlocks"]))
                     for r in group["inputs"]["ingress"]}
            admins = ssh_from or fabrics  # without grid:adminCidrs, SSH comes from within the cluster
            assert rules == {("tcp", 22, 22, (c,)) for c in admins} | {("-1", 0, 0, (c,)) for c in fabrics}
            assert {(r["protocol"], tuple(r["cidrBlocks"])) for r in group["inputs"]["egress"]} == {
                ("-1", (c,)) for c in fabrics}
        assert "0.0.0.0/0" not in json.dumps(graph.resources)


def test_aws_nodes_have_their_instance_type_addresses_and_boot_config(graphs: dict[tuple[str, str], Graph]) -> None:
    graph = graphs[("lab-aws", "admin")]
    types = {"east": "p5.48xlarge", "west": "c7g.8xlarge"}
    for node in graph.nodes:
        instance = graph.named(node["address"])["inputs"]
        region = node["address"].split("/")[0]
        assert instance["instanceType"] == node["instance_type"] == types[region]
        assert instance["ami"].startswith("ami-0a" if region == "west" else "ami-0b")  # arm64 / x86_64 lookups
        assert instance["placementGroup"] == f"grid-lab-aws-{region}-{node['pool']}"
        assert instance["metadataOptions"] == {"httpTokens": "required"}
        if region == "east":  # EFA on the roce fabric: every interface at launch, the connect fabric first
            launch = [(i["networkCardIndex"], i["deviceIndex"], i["networkInterfaceId"])
                      for i in instance["networkInterfaces"]]
            nic = node["address"].replace("/", "-") + "-nic-"
            assert launch == [(0, 0, nic + "mgmt-id"), (0, 1, nic + "compute-id")]
            assert "primaryNetworkInterface" not in instance
            compute = graph.named(f"{node['address']}/nic/compute")["inputs"]
            assert compute["interfaceType"] == "efa"
            assert compute["securityGroups"] == ["east-security-group-id", "east-efa-security-group-id"]
            assert graph.named(f"{node['address']}/nic/mgmt")["inputs"]["securityGroups"] == [
                "east-security-group-id"]  # the spec's policy alone
        else:
            primary = instance["primaryNetworkInterface"]["networkInterfaceId"]
            assert primary == node["address"].replace("/", "-") + "-nic-mgmt-id"  # the connect fabric first
        for fabric, ip in node["fabrics"].items():
            nic = graph.named(f"{node['address']}/nic/{fabric}")["inputs"]
            assert nic["privateIps"] == [ip]
            assert int(ipaddress.IPv4Address(ip)) & 0xFF >= 4  # AWS keeps .0-.3 of every subnet
        boot = yaml.safe_load(instance["userData"])
        assert boot["hostname"] == node["hostname"] and boot["disable_root"] is False
        assert boot["ssh_authorized_keys"] == [graph.data[region]["authorized_key"]]
        mounts = {m[1]: m for m in boot.get("mounts", [])}
        if region == "east":
            assert mounts["/shared"][0] == "198.19.250.10:/" and mounts["/shared"][2] == "nfs4"
        else:
            assert mounts["/data"][2] == "nfs4"
            assert any("nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0" in cmd[-1] and "/scratch" in cmd[-1]
                       for cmd in boot["runcmd"])
    scratch = [v for v in graph.of("ebs/volume:Volume")]
    assert {v["inputs"]["size"] for v in scratch} == {1024}  # 2 TiB shared out over the pool's two nodes


def test_aws_parallel_fs_on_fsx_lustre_as_the_spec_chooses(graphs: dict[tuple[str, str], Graph]) -> None:
    graph = graphs[("lab-aws-fsx", "fsx")]
    (lustre,) = graph.of("LustreFileSystem")
    assert lustre["name"] == "east/storage/pfs"
    assert lustre["inputs"]["storageCapacity"] == 67200  # 64 TiB rounded up to FSx's 2400 GiB steps
    assert (lustre["inputs"]["deploymentType"], lustre["inputs"]["perUnitStorageThroughput"]) == ("PERSISTENT_2", 500)
    assert not graphs[("lab-aws", "admin")].of("LustreFileSystem")  # lab-aws says backend: efs
    assert [e["name"] for e in graph.of("efs/fileSystem:FileSystem")] == ["west/storage/data"]
    boot = yaml.safe_load(graph.named("east/train/node-0000")["inputs"]["userData"])
    assert boot["mounts"][0][:3] == ["east-storage-pfs-id.fsx.example@tcp:/abcdef", "/shared", "lustre"]


def test_every_aws_resource_is_tagged_with_its_grid_address(graphs: dict[tuple[str, str], Graph]) -> None:
    for spec in ("lab-aws", "national-aws"):
        graph = graphs[(spec, "admin")]
        untagged = {r["type"].rsplit(":", 1)[-1] for r in graph.resources if "tags" not in r["inputs"]}
        assert untagged <= UNTAGGABLE_AWS, untagged - UNTAGGABLE_AWS
        name = graph.data[next(iter(graph.data))]["cluster"]
        for resource in graph.resources:
            tags = resource["inputs"].get("tags")
            if tags is not None:
                assert tags["grid:cluster"] == name
                assert tags["grid:address"] == resource["name"], resource["name"]
        addresses = {n["address"] for n in graph.nodes} | {f["address"] for f in graph.fabrics}
        assert addresses <= {r["name"] for r in graph.resources}  # grid's addresses are the resource names


# -- openstack -----------------------------------------------------------------------------------------

def test_openstack_lab_resource_graph(graphs: dict[tuple[str, str], Graph]) -> None:
    graph = graphs[("lab-openstack", "admin")]
    assert graph.counts() == Counter({
        "openstack:networking/network:Network": 3, "openstack:networking/subnet:Subnet": 3,
        "openstack:networking/router:Router": 2, "openstack:networking/routerInterface:RouterInterface": 2,
        "openstack:networking/secGroup:SecGroup": 2, "openstack:networking/secGroupRule:SecGroupRule": 8,
        "openstack:compute/keypair:Keypair": 2, "openstack:compute/serverGroup:ServerGroup": 2,
        "openstack:networking/port:Port": 6, "openstack:compute/instance:Instance": 4,
        "openstack:sharedfilesystem/share:Share": 2, "openstack:sharedfilesystem/shareAccess:ShareAccess": 2,
        "openstack:blockstorage/volume:Volume": 2, "openstack:compute/volumeAttach:VolumeAttach": 2,
    })
    mtus = {f["address"]: f["mtu"] for f in graph.fabrics}
    assert {n["name"]: n["inputs"]["mtu"] for n in graph.of("Network")} == mtus
    assert mtus["east/fabric/compute"] == 9000
    for subnet in graph.of("Subnet"):
        fabric = next(f for f in graph.fabrics if f["address"] + "/subnet" == subnet["name"])
        assert (subnet["inputs"]["cidr"], subnet["inputs"]["gatewayIp"]) == (fabric["cidr"], fabric["gateway"])
        assert subnet["inputs"]["enableDhcp"] is False
    assert {r["inputs"]["externalNetworkId"] for r in graph.of("Router")} == {"external-net-id"}
    assert {r["name"] for r in graph.of("RouterInterface")} == {"east/router/mgmt", "west/router/mgmt"}
    assert {g["inputs"]["policies"] for g in graph.of("ServerGroup")} == {"soft-affinity"}
    for share in graph.of("Share"):
        assert share["inputs"]["shareProto"] == "NFS"
    assert {a["inputs"]["accessTo"] for a in graph.of("ShareAccess")} == {"198.18.1.0/24", "198.18.2.0/24"}


def test_openstack_security_groups_allow_ssh_from_admins_and_the_fabrics_only(
        graphs: dict[tuple[str, str], Graph]) -> None:
    for variant, admins in (("admin", {ADMIN}), ("no-manila", None)):
        graph = graphs[("lab-openstack", variant)]
        assert all(g["inputs"]["deleteDefaultRules"] is True for g in graph.of("SecGroup"))
        for region, data in graph.data.items():
            fabrics = {f["cidr"] for f in data["fabrics"]}
            rules = {(r["inputs"]["direction"], r["inputs"].get("protocol"), r["inputs"].get("portRangeMin"),
                      r["inputs"]["remoteIpPrefix"]) for r in graph.of("SecGroupRule")
                     if r["name"].startswith(region + "/")}
            assert rules == ({("ingress", "tcp", 22, c) for c in (admins or fabrics)}
                             | {(d, None, None, c) for d in ("ingress", "egress") for c in fabrics})
        assert "0.0.0.0/0" not in json.dumps(graph.resources)


def test_openstack_nodes_have_their_flavor_ports_and_boot_config(graphs: dict[tuple[str, str], Graph]) -> None:
    graph = graphs[("lab-openstack", "admin")]
    for node in graph.nodes:
        server = graph.named(node["address"])["inputs"]
        assert server["flavorName"] == node["instance_type"]
        assert server["imageName"] == "debian-12" and server["configDrive"] is True
        assert server["name"] == node["hostname"]
        region = node["address"].split("/")[0]
        assert server["schedulerHints"] == [{"group": f"{region}-{node['pool']}-server-group-id"}]
        assert server["networks"][0]["port"] == node["address"].replace("/", "-") + "-port-mgmt-id"
        assert server["metadata"] == {"purpose": "demo", "grid:cluster": "lab-openstack",
                                      "grid:address": node["address"]}  # metadata.labels first
        for fabric, ip in node["fabrics"].items():
            port = graph.named(f"{node['address']}/port/{fabric}")["inputs"]
            assert port["fixedIps"][0]["ipAddress"] == ip
            assert port["securityGroupIds"] == [f"{region}-security-group-id"]
        boot = yaml.safe_load(server["userData"])
        assert boot["hostname"] == node["hostname"]
        assert {m[1]: m[0] for m in boot.get("mounts", [])} == {
            mount: "198.19.250.21:/shares/" + f"{region}-storage-{name}-id" for name, mount in node["storage"].items()
            if name != "scratch"}


def test_openstack_without_manila_falls_back_to_volumes_and_says_so(graphs: dict[tuple[str, str], Graph]) -> None:
    graph = graphs[("lab-openstack", "no-manila")]
    assert not graph.of("Share")
    volumes = {v["name"]: v["inputs"]["size"] for v in graph.of("blockstorage/volume:Volume")}
    assert volumes == {**{f"east/train/node-000{i}/volume/pfs": 32768 for i in (0, 1)},
                       **{f"west/infer/node-000{i}/volume/data": 8192 for i in (0, 1)},
                       **{f"west/infer/node-000{i}/volume/scratch": 1024 for i in (0, 1)}}
    assert len(graph.of("VolumeAttach")) == 6
    assert sum("NOT shared" in w for w in graph.warnings) == 2


def test_every_openstack_resource_carries_its_grid_address(graphs: dict[tuple[str, str], Graph]) -> None:
    for spec in ("lab-openstack", "national"):
        graph = graphs[(spec, "admin")]
        name = graph.data[next(iter(graph.data))]["cluster"]
        labels = graph.data[next(iter(graph.data))]["labels"]
        assert labels  # both examples label their cluster: the labels reach every resource
        for resource in graph.resources:
            inputs, kind = resource["inputs"], resource["type"].rsplit(":", 1)[-1]
            if kind in ("Network", "Subnet", "Router", "SecGroup", "Port"):  # Neutron: tags
                assert inputs["tags"] == [*(f"{k}={v}" for k, v in labels.items()), f"grid:cluster={name}",
                                          f"grid:address={resource['name']}"]
            elif kind in ("Instance", "Volume", "Share"):  # Nova, Cinder, Manila: metadata
                assert inputs["metadata"] == {**labels, "grid:cluster": name, "grid:address": resource["name"]}
            elif kind == "Container":  # Swift metadata become headers: no colon
                assert inputs["metadata"] == {**labels, "grid-cluster": name, "grid-address": resource["name"]}
            elif kind == "SecGroupRule":
                assert inputs["description"].startswith(f"grid {resource['name'].split('/')[0]}/security-group: ")
            else:  # no tags, metadata or description in the API: named by their address
                assert kind in ("Keypair", "ServerGroup", "RouterInterface", "ShareAccess", "VolumeAttach")
                assert resource["name"].startswith(tuple(graph.data)), resource["name"]


# -- national ------------------------------------------------------------------------------------------

def expected_per_region(data: dict[str, Any], target: str) -> Counter[str]:
    """What the program must create for a region's data (the count model checked against the mocks)."""
    nodes, fabrics = data["nodes"], data["fabrics"]
    ports = sum(len(n["fabrics"]) for n in nodes)
    used = {name for n in nodes for name in n["storage"]}
    kinds = Counter(v["kind"] for v in data["volumes"] if v["name"] in used)
    pools = sum(1 for p in data["pools"] if p["count"] > 0)
    if target == "aws":  # a roce fabric is EFA: ports_per_node interfaces, all attached at launch
        from grid.spec.aws_offer import efa_network_cards

        roce = {f["name"]: f["ports_per_node"] for f in fabrics if f["kind"] == "roce"}
        efa = [n for n in nodes if efa_network_cards(n["instance_type"]) != 0 and set(n["fabrics"]) & set(roce)]
        efa_only = sum(roce.get(name, 1) - 1 for n in efa for name in n["fabrics"])
        lustre = sum(1 for v in data["volumes"] if v["name"] in used and v["kind"] == "parallel-fs"
                     and v.get("backend", "fsx-lustre") == "fsx-lustre")
        return Counter({"Instance": len(nodes), "NetworkInterface": ports + efa_only,
                        "NetworkInterfaceAttachment": sum(len(n["fabrics"]) - 1 for n in nodes if n not in efa),
                        "Subnet": len(fabrics), "PlacementGroup": pools, "Vpc": 1,
                        "SecurityGroup": 1 + bool(roce),  # EFA's own group where there is a roce fabric
                        "FileSystem": kinds["nfs"] + kinds["parallel-fs"] - lustre, "LustreFileSystem": lustre,
                        "Bucket": kinds["object"]})
    return Counter({"Instance": len(nodes), "Port": ports, "Network": len(fabrics), "Subnet": len(fabrics),
                    "ServerGroup": pools, "SecGroup": 1, "Share": kinds["nfs"] + kinds["parallel-fs"],
                    "Container": kinds["object"]})


@pytest.mark.parametrize("spec,target", [("national", "openstack"), ("national-aws", "aws")])
def test_national_regions_follow_the_count_model(graphs: dict[tuple[str, str], Graph], spec: str,
                                                 target: str) -> None:
    graph = graphs[(spec, "admin")]
    assert len(graph.data) == 8
    for region, data in graph.data.items():
        expected = expected_per_region(data, target)
        mine = Counter(r["type"].rsplit(":", 1)[-1] for r in graph.resources if r["name"].startswith(region + "/"))
        assert {k: mine[k] for k in expected} == dict(expected), region
        pools = {p["name"]: p["instance_type"] for p in data["pools"]}
        key = "instanceType" if target == "aws" else "flavorName"
        assert {graph.named(n["address"])["inputs"][key] for n in data["nodes"]} == set(pools.values())
    if target == "openstack":
        mtus = {f["address"]: f["mtu"] for f in graph.fabrics}
        assert {n["name"]: n["inputs"]["mtu"] for n in graph.of("Network")} == mtus
        assert set(mtus.values()) == {1500, 4096, 9000}  # ethernet, infiniband, roce
        assert [c["name"] for c in graph.of("Container")] == ["zhongwei/storage/objects"]
    else:
        assert {s["inputs"]["availabilityZone"] for s in graph.of("Subnet")} == {"mock-1a"}  # first of the zones
        assert {b["name"] for b in graph.of("s3/bucket:Bucket")} == {"zhongwei/storage/objects"}
        assert len(graph.of("BucketPublicAccessBlock")) == 1


def test_national_at_full_size_fits_the_programs(tmp_path: Path) -> None:
    """All 23,100 nodes: every node gets an address on each of its fabrics, connect fabric first, no IP twice;
    the count model then says what the programs create (the mocks checked the model per region above)."""
    from grid.render.pulumi import region_program_input
    from grid.resources import Kind, expand
    from grid.spec import load_spec
    from grid.stacks import cloud_common as cloud

    cluster = load_spec(str(EXAMPLES / "national" / "cluster.yaml")).cluster
    assert cluster is not None
    graph = expand(cluster)
    totals: Counter[str] = Counter()
    for region in graph.regions:
        data = region_program_input(cluster, graph, region, authorized_key="ssh-ed25519 AAAA test")
        pools = cloud.pools(data)
        seen: set[str] = set()
        for node in data["nodes"]:
            attached = cloud.node_fabrics(node, pools[node["pool"]])
            assert attached[0][0] == "mgmt"
            ips = {ip for _, ip in attached}
            assert not ips & seen
            seen |= ips
        totals += expected_per_region(data, "openstack")
    assert totals["Instance"] == 23_100
    assert totals["Port"] == sum(len(n.attrs["fabrics"]) for n in graph.of_kind(Kind.NODE))

