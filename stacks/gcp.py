"""Stack program of the gcp target (pulumi_gcp), one grid region per stack.

Per region (provider: spec.targets.gcp.project/region/zone, the region's regions[].targets.gcp over them;
the zone defaults to the cloud region's first): a VPC network per fabric with the fabric's MTU (GCP takes
1300..8896; the validator warns about others, the program clamps) and a subnetwork with its cidr. A roce
fabric with ports_per_node N is N rails (grid.resources.rail_subnets: the cidr split into N equal subnets
in address order, the spec's addresses on rail 0, the other rails' addresses the cloud's): on machine
families with RDMA NICs (grid.spec.gcp_offer.rdma_nic_type: A3 Ultra and A4 take MRDMA) one VPC network
with the zone's RDMA network profile holds the N rail subnets, as Google's Cluster Toolkit builds it; on
others (A3 Mega: GPUDirect-TCPXO over gVNIC) each rail is a VPC network of its own. Every node gets one NIC
per rail, the connect fabric first (nic0).

Firewall rules on every ordinary network: SSH from the admin CIDRs (access.admin_cidrs, else config
grid:adminCidrs, else the fabrics) on each fabric's rail 0, all traffic from the fabric's own cidr when it
declares no `ingress`, else exactly its declared rules; nothing else comes in. RDMA-profile networks take no
firewall rules (GCP allows traffic among their MRDMA NICs implicitly; only the cluster's nodes attach).

Per pool, a resource policy: placement cluster -> compact (COLLOCATED), spread -> availability domains,
none -> none; provisioning spot -> the SPOT provisioning model, reservation -> SPECIFIC_RESERVATION of the
pool's reservation. Instances: the pool's machine type, no external IP, the boot image spec.targets.gcp.image
or Debian's image family of defaults.image, a startup script (stacks/gcp_boot.py) that does what cloud-init
does elsewhere. Storage: nfs and parallel-fs as Filestore (tier = deployment_type, default BASIC_SSD for nfs,
ZONAL for parallel-fs, capacity rounded up to what the tier sells: grid.spec.gcp_offer), object as a bucket
(uniform access, public access prevented), block as a disk per node. Every resource that takes labels gets
metadata.labels and the pool's labels (converted to GCP's syntax) and grid-cluster / grid-address.
Credentials come from the provider's usual sources (gcloud, GOOGLE_APPLICATION_CREDENTIALS).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from grid.resources import rail_subnets
from grid.spec import gcp_offer

from . import cloud_common as cloud
from .gcp_boot import startup_script

MTU_RANGE = (1300, 8896)
HYPERDISK_FAMILIES = ("a3-ultragpu", "a3-megagpu", "a4-highgpu", "a4x-highgpu", "c4-", "c4a-", "c4d-", "n4-", "x4-")
"""Machine families that attach Hyperdisk only (no pd-* disks)."""
ARM_FAMILIES = ("c4a-", "t2a-", "a4x-")
GPU_FAMILIES = ("a2-", "a3-", "a4-", "a4x-", "g2-", "g4-")
"""Machine families with GPUs attached: they cannot live-migrate, so host maintenance terminates them."""


@dataclass
class FabricNet:
    """What one fabric is in GCP: its rails (network, subnetwork), the NIC type its nodes attach with."""

    nic_type: str
    rails: list[tuple[gcp.compute.Network, gcp.compute.Subnetwork]] = field(default_factory=list)
    rdma_profile: bool = False


def program(data: dict[str, Any]) -> None:
    region, settings = str(data["region"]), data.get("settings") or {}
    cloud_region = str(settings.get("region") or "us-central1")
    provider = gcp.Provider(f"{region}/provider", project=settings.get("project"), region=cloud_region,
                            zone=settings.get("zone"))
    opts = pulumi.ResourceOptions(provider=provider)
    invoke = pulumi.InvokeOptions(provider=provider)
    zone: pulumi.Input[str] = settings.get("zone") or gcp.compute.get_zones_output(
        region=cloud_region, status="UP", opts=invoke).names.apply(lambda names: sorted(names)[0])
    project: pulumi.Input[str] = settings.get("project") or gcp.organizations.get_client_config_output(
        opts=invoke).project
    if not data["fabrics"]:
        raise ValueError(f"region {region} has no fabric to build a VPC network from")
    by_name = cloud.pools(data)
    nets = {f["name"]: _fabric_net(data, f, cloud_region, zone, project, opts) for f in data["fabrics"]}
    _firewalls(data, nets, opts)
    policies = _placement_policies(data, cloud_region, opts)
    shared, storage_out = _storage(data, nets, cloud_region, zone, opts)
    block = cloud.block_shares(data)

    exported: dict[str, Any] = {}
    for node in data["nodes"]:
        address, pool = node["address"], by_name[node["pool"]]
        machine = str(node.get("instance_type") or "")
        if not machine:
            raise ValueError(f"{address}: pool {node['pool']!r} has no gcp machine type")
        attached = cloud.node_fabrics(node, pool)
        nics: list[gcp.compute.InstanceNetworkInterfaceArgs] = []
        for fabric, ip in attached:
            net = nets[fabric]
            nics += [gcp.compute.InstanceNetworkInterfaceArgs(
                network=network.id, subnetwork=subnet.id, nic_type=net.nic_type,
                network_ip=ip if rail == 0 else None) for rail, (network, subnet) in enumerate(net.rails)]
        boot = cloud.boot_plan(data, node, shared)
        disks = _block_disks(data, node, machine, zone, block, boot, opts)
        labels = _labels(data, address, pool)
        policy = policies.get(node["pool"])
        instance = gcp.compute.Instance(
            address, name=gcp_offer.resource_name(cloud.physical(data, address)), machine_type=machine, zone=zone,
            boot_disk=gcp.compute.InstanceBootDiskArgs(initialize_params=gcp.compute.InstanceBootDiskInitializeParamsArgs(
                image=pool.get("image") or _image(data, settings, machine), size=100, type=_disk_type(machine),
                labels=labels)),
            network_interfaces=nics, attached_disks=[
                gcp.compute.InstanceAttachedDiskArgs(source=disk.id, device_name=name) for name, disk in disks],
            metadata={"ssh-keys": f"{(data.get('ssh') or {}).get('user', 'root')}:{cloud.cluster_key(data)}",
                      "enable-oslogin": "FALSE", "block-project-ssh-keys": "TRUE"},
            metadata_startup_script=startup_script(data, node, boot),
            scheduling=_scheduling(pool, machine, int(node.get("index", 0)), policy),
            reservation_affinity=_reservation(pool), resource_policies=policy[0].id if policy else None,
            shielded_instance_config=gcp.compute.InstanceShieldedInstanceConfigArgs(enable_secure_boot=True),
            labels=labels, opts=cloud.first_boot_only(opts, "metadata", "metadataStartupScript"))
        ips = {fabric: instance.network_interfaces.apply(functools.partial(
            _nic_ip, index=_nic_index(attached, nets, fabric), declared=ip)) for fabric, ip in attached}
        exported[address] = cloud.node_output(instance.instance_id, ips)  # a replaced instance gets a new id
    pulumi.export("nodes", exported)
    pulumi.export("storage", storage_out)
    pulumi.export("network", {
        "networks": {name: [n.id for n, _ in net.rails] for name, net in nets.items()},
        "subnetworks": {name: [s.id for _, s in net.rails] for name, net in nets.items()}})


def _nic_index(attached: Sequence[tuple[str, str]], nets: Mapping[str, FabricNet], fabric: str) -> int:
    """The position of a fabric's rail-0 NIC among a node's NICs."""
    index = 0
    for name, _ in attached:
        if name == fabric:
            return index
        index += len(nets[name].rails)
    raise KeyError(fabric)


def _nic_ip(found: Sequence[Any], index: int, declared: str) -> str:
    nic = found[index] if index < len(found) else None
    got = (nic.get("network_ip") or nic.get("networkIp")) if isinstance(nic, dict) else getattr(nic, "network_ip", "")
    return str(got or declared)


def _labels(data: Mapping[str, Any], address: str, pool: Mapping[str, Any] | None = None) -> dict[str, str]:
    """metadata.labels, a pool's labels over them, and where the resource comes from, in GCP's label syntax."""
    given = {**dict(data.get("labels") or {}), **dict((pool or {}).get("labels") or {})}
    return {**gcp_offer.labels(given),
            **gcp_offer.labels({"grid-cluster": str(data["cluster"]), "grid-address": address})}


def _fabric_net(data: dict[str, Any], fabric: Mapping[str, Any], cloud_region: str, zone: pulumi.Input[str],
                project: pulumi.Input[str], opts: pulumi.ResourceOptions) -> FabricNet:
    address, name = str(fabric["address"]), str(fabric["name"])
    mtu = min(max(int(fabric.get("mtu") or 1460), MTU_RANGE[0]), MTU_RANGE[1])
    railed = fabric.get("kind") == "roce"
    rails = rail_subnets(str(fabric["cidr"]), int(fabric.get("ports_per_node") or 1) if railed else 1)
    types = {gcp_offer.rdma_nic_type(str(p.get("instance_type") or "")) for p in cloud.pools(data).values()
             if name in p.get("fabrics", []) and p.get("count", 0) > 0} if railed else set()
    rdma = sorted(t for t in types if t)
    if len(rdma) > 1 or (rdma and None in types):
        raise ValueError(f"fabric {address}: its pools attach with different NIC types ({types}); give each its own "
                         "roce fabric")
    if rdma:  # one RDMA-profile VPC network holds every rail's subnet
        profile = pulumi.Output.format("projects/{0}/global/networkProfiles/{1}-{2}", project, zone,
                                       gcp_offer.RDMA_PROFILES[rdma[0]])
        network = gcp.compute.Network(
            address, name=gcp_offer.resource_name(cloud.physical(data, address)), auto_create_subnetworks=False,
            mtu=mtu, network_profile=profile, description=f"grid {data['cluster']} RDMA fabric {name}", opts=opts)
        return FabricNet(rdma[0], [(network, gcp.compute.Subnetwork(
            f"{address}/rail-{i}", name=gcp_offer.resource_name(cloud.physical(data, f"{address}/rail-{i}")),
            network=network.id, ip_cidr_range=cidr, region=cloud_region, opts=opts))
            for i, cidr in enumerate(rails)], rdma_profile=True)
    out = FabricNet("GVNIC")
    for i, cidr in enumerate(rails):
        key = address if len(rails) == 1 else f"{address}/rail-{i}"
        network = gcp.compute.Network(
            key, name=gcp_offer.resource_name(cloud.physical(data, key)), auto_create_subnetworks=False, mtu=mtu,
            routing_mode="REGIONAL", description=f"grid {data['cluster']} fabric {name}", opts=opts)
        out.rails.append((network, gcp.compute.Subnetwork(
            f"{key}/subnet", name=gcp_offer.resource_name(cloud.physical(data, key)), network=network.id,
            ip_cidr_range=cidr, region=cloud_region, private_ip_google_access=True, opts=opts)))
    return out


def _firewalls(data: dict[str, Any], nets: Mapping[str, FabricNet], opts: pulumi.ResourceOptions) -> None:
    port = str(int((data.get("ssh") or {}).get("port", 22)))
    admins = cloud.admin_cidrs(data)
    open_cidrs = set(cloud.open_fabric_cidrs(data))
    declared = cloud.allowed(data)
    for fabric in data["fabrics"]:
        net = nets[fabric["name"]]
        if net.rdma_profile:
            continue
        for rail, (network, _) in enumerate(net.rails):
            base = fabric["address"] if len(net.rails) == 1 else f"{fabric['address']}/rail-{rail}"

            def rule(suffix: str, allows: list[gcp.compute.FirewallAllowArgs], sources: list[str],
                     description: str, network: gcp.compute.Network = network, base: str = base) -> None:
                gcp.compute.Firewall(f"{base}/firewall/{suffix}", network=network.id, direction="INGRESS",
                                     name=gcp_offer.resource_name(cloud.physical(data, f"{base}/{suffix}")),
                                     allows=allows, source_ranges=sources, description=description, opts=opts)

            if rail == 0:
                rule("ssh", [gcp.compute.FirewallAllowArgs(protocol="tcp", ports=[port])], admins,
                     "SSH from the admin networks")
            if fabric["cidr"] in open_cidrs:
                rule("cluster", [gcp.compute.FirewallAllowArgs(protocol="all")], [str(fabric["cidr"])],
                     f"all traffic within fabric {fabric['name']}")
                continue
            for allowed in (a for a in declared if a.fabric == fabric["name"]):
                ports = None if allowed.ports is None or allowed.protocol == "icmp" else [
                    f"{allowed.ports[0]}-{allowed.ports[1]}"]
                rule(allowed.key.replace(".", "-").replace("/", "-"),
                     [gcp.compute.FirewallAllowArgs(protocol=allowed.protocol, ports=ports)], [allowed.cidr],
                     f"ingress of fabric {allowed.fabric}")


def _placement_policies(data: dict[str, Any], cloud_region: str, opts: pulumi.ResourceOptions
                        ) -> dict[str, tuple[gcp.compute.ResourcePolicy, int]]:
    """Per pool with nodes and a placement: its resource policy and how many availability domains it has."""
    out: dict[str, tuple[gcp.compute.ResourcePolicy, int]] = {}
    for name, pool in cloud.pools(data).items():
        count, placement = int(pool.get("count", 0)), pool.get("placement") or "cluster"
        if count <= 0 or placement == "none":
            continue
        domains = min(8, max(2, count)) if placement == "spread" else 0
        group = (gcp.compute.ResourcePolicyGroupPlacementPolicyArgs(collocation="COLLOCATED")
                 if placement == "cluster" else
                 gcp.compute.ResourcePolicyGroupPlacementPolicyArgs(availability_domain_count=domains))
        address = f"{data['region']}/{name}/placement"
        out[name] = (gcp.compute.ResourcePolicy(
            address, name=gcp_offer.resource_name(cloud.physical(data, address)), region=cloud_region,
            group_placement_policy=group, description=f"grid pool {name}: {placement} placement", opts=opts),
            domains)
    return out


def _scheduling(pool: Mapping[str, Any], machine: str, index: int,
                policy: tuple[gcp.compute.ResourcePolicy, int] | None) -> gcp.compute.InstanceSchedulingArgs:
    gpu = machine.startswith(GPU_FAMILIES)
    spot = pool.get("provisioning") == "spot"
    domains = policy[1] if policy else 0
    return gcp.compute.InstanceSchedulingArgs(
        provisioning_model="SPOT" if spot else "STANDARD", preemptible=spot,
        automatic_restart=not spot, instance_termination_action="STOP" if spot else None,
        on_host_maintenance="TERMINATE" if gpu or spot else "MIGRATE",
        availability_domain=index % domains + 1 if domains else None)


def _reservation(pool: Mapping[str, Any]) -> gcp.compute.InstanceReservationAffinityArgs | None:
    if pool.get("provisioning") != "reservation" or not pool.get("reservation"):
        return None
    specific = gcp.compute.InstanceReservationAffinitySpecificReservationArgs(
        key="compute.googleapis.com/reservation-name", values=[str(pool["reservation"])])
    return gcp.compute.InstanceReservationAffinityArgs(type="SPECIFIC_RESERVATION", specific_reservation=specific)


def _image(data: Mapping[str, Any], settings: Mapping[str, Any], machine: str) -> str:
    """spec.targets.gcp.image, else Debian's image family of defaults.image (arm64 for Arm machine types)."""
    if settings.get("image"):
        return str(settings["image"])
    image = str(data.get("image") or "")
    if not image.startswith("debian-") or not image[7:].isdigit():
        raise ValueError(f"image {image!r} has no known GCP image family: set spec.targets.gcp.image")
    return f"projects/debian-cloud/global/images/family/{image}{'-arm64' if machine.startswith(ARM_FAMILIES) else ''}"


def _disk_type(machine: str) -> str:
    return "hyperdisk-balanced" if machine.startswith(HYPERDISK_FAMILIES) else "pd-balanced"


def _storage(data: dict[str, Any], nets: Mapping[str, FabricNet], cloud_region: str, zone: pulumi.Input[str],
             opts: pulumi.ResourceOptions) -> tuple[dict[str, list[pulumi.Input[str]]], dict[str, Any]]:
    """Shared file systems: {storage name: fstab fields} and the `storage` output."""
    shared: dict[str, list[pulumi.Input[str]]] = {}
    out: dict[str, Any] = {}
    for volume in data["volumes"]:
        address, kind, users = volume["address"], volume["kind"], cloud.users_of(data, volume["name"])
        if not users:
            continue  # nothing mounts it in this region: nothing to build it for
        labels = _labels(data, address)
        if kind == "object":
            bucket = gcp.storage.Bucket(
                address, name=gcp_offer.resource_name(str(volume["volume"])), location=cloud_region.upper(),
                uniform_bucket_level_access=True, public_access_prevention="enforced", force_destroy=False,
                labels=labels, opts=opts)
            out[address] = {"id": bucket.id, "bucket": bucket.name}
            continue
        if kind not in cloud.SHARED_KINDS:
            continue  # block: one disk per node (_block_disks)
        tier = gcp_offer.filestore_tier(kind, volume.get("deployment_type"))
        capacity = gcp_offer.filestore_billed_gib(tier, cloud.gib(volume["capacity_tib"]))
        if capacity is None:
            raise ValueError(f"{address}: Filestore {tier} sells no {cloud.gib(volume['capacity_tib'])} GiB instance")
        network = nets[cloud.connect_fabric(cloud.pools(data)[users[0]["pool"]])].rails[0][0]
        regional = tier in ("REGIONAL", "ENTERPRISE")
        fs = gcp.filestore.Instance(
            address, name=gcp_offer.resource_name(str(volume["volume"])), tier=tier,
            location=cloud_region if regional else zone,
            file_shares=gcp.filestore.InstanceFileSharesArgs(name="share", capacity_gb=capacity),
            networks=[gcp.filestore.InstanceNetworkArgs(network=network.name, modes=["MODE_IPV4"],
                                                        connect_mode="DIRECT_PEERING")],
            deletion_protection_enabled=bool(volume.get("protect", False)), labels=labels, opts=opts)
        source = fs.networks.apply(lambda found: f"{_filestore_ip(found)}:/share")
        shared[volume["name"]] = [source, volume["mount"], "nfs",
                                  "nfsvers=3,rsize=1048576,wsize=1048576,hard,timeo=600,_netdev,nofail", "0", "0"]
        out[address] = {"id": fs.id, "source": source}
    return shared, out


def _filestore_ip(found: Sequence[Any]) -> str:
    first = found[0] if found else {}
    ips = first.get("ip_addresses") or first.get("ipAddresses") if isinstance(first, dict) else getattr(
        first, "ip_addresses", None)
    return str((ips or [""])[0])


def _block_disks(data: dict[str, Any], node: dict[str, Any], machine: str, zone: pulumi.Input[str],
                 block: dict[str, int], boot: cloud.BootPlan, opts: pulumi.ResourceOptions
                 ) -> list[tuple[str, gcp.compute.Disk]]:
    """Disks of a node's block storage: the storage's capacity shared out over the nodes mounting it."""
    out = []
    for volume in data["volumes"]:
        if volume["name"] not in block or volume["name"] not in cloud.mounted(node):
            continue
        address = f"{node['address']}/volume/{volume['name']}"
        disk = gcp.compute.Disk(address, name=gcp_offer.resource_name(cloud.physical(data, address)), zone=zone,
                                size=block[volume["name"]], type=_disk_type(machine),
                                labels=_labels(data, address), opts=opts)
        device = f"grid-{volume['name']}"
        boot.devices.append((f"/dev/disk/by-id/google-{device}", cloud.mounted(node)[volume["name"]]))
        out.append((device, disk))
    return out
