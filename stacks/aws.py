"""Stack program of the aws target (pulumi_aws), one grid region per stack.

Per region: one VPC covering the fabrics (a secondary CIDR per fabric when no /16../28 supernet
covers them), one subnet per fabric, all in one availability zone (cluster placement groups need
it); one security group that allows SSH from the admin CIDRs (spec access.admin_cidrs, else config
grid:adminCidrs, else the fabrics) and any traffic within the cluster's fabrics (a fabric that declares
`ingress`: only that), nothing else (egress within the fabrics; EFA interfaces also in a group that lets
all traffic among them, as EFA needs); the cluster key as a key pair; per pool a placement group of its
`placement` strategy (cluster or spread; none: no group); per node an instance of the pool's instance
type, bought as the pool's `provisioning` says (on-demand, spot, or in its capacity `reservation`), whose
network interfaces carry the spec's addresses (the connect fabric is the primary one; a roce fabric is EFA,
one interface per network card: aws_network). Storage as the spec chooses it (aws_storage). The MTU
is the VPC's (9001 inside it); the validator warns about fabrics asking for another. With `names: dns` (the
default without Slurm) a Route 53 private hosted zone of the region's nodes, searched by the VPC (aws_network).

Every resource is named by its grid address and tagged with metadata.labels (a pool's resources: the
pool's `labels`), `grid:cluster`, `grid:address` and Name. Credentials come from the AWS provider's
usual sources (env, profile, instance role); the program never reads or writes them. The AWS region
and zone are the grid region's own (regions[].targets.aws), else spec.targets.aws's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from . import aws_network as network
from . import aws_storage as storage
from . import cloud_common as cloud

DEBIAN_OWNER = "136693071363"  # the Debian project's AWS account (its official AMIs)


def program(data: dict[str, Any]) -> None:
    region, settings = str(data["region"]), data.get("settings") or {}
    provider = aws.Provider(f"{region}/provider", region=settings.get("region") or "us-east-1")
    opts = pulumi.ResourceOptions(provider=provider)
    invoke = pulumi.InvokeOptions(provider=provider)
    zone: pulumi.Input[str] = settings.get("availability_zone") or aws.get_availability_zones_output(
        state="available", opts=invoke).names.apply(lambda names: sorted(names)[0])
    if not data["fabrics"]:
        raise ValueError(f"region {region} has no fabric to build a VPC from")

    vpc, blocks = network.vpc(data, opts)
    subnets = {
        f["name"]: aws.ec2.Subnet(f["address"], vpc_id=vpc.id, cidr_block=f["cidr"], availability_zone=zone,
                                  map_public_ip_on_launch=False, tags=cloud.tags(data, f["address"]),
                                  opts=pulumi.ResourceOptions(provider=provider, depends_on=blocks))
        for f in data["fabrics"]}
    group = network.security_group(data, vpc, opts)
    efa_group = network.efa_group(data, vpc, opts)
    network.private_names(data, vpc, opts)
    key = aws.ec2.KeyPair(f"{region}/key-pair", key_name=cloud.physical(data, f"{region}/key"),
                          public_key=cloud.cluster_key(data),
                          tags=cloud.tags(data, f"{region}/key-pair"),
                          opts=cloud.first_boot_only(opts, "publicKey"))
    by_name = cloud.pools(data)
    placement = {
        name: aws.ec2.PlacementGroup(
            f"{region}/{name}/placement", name=cloud.physical(data, f"{region}/{name}"),
            strategy=pool.get("placement") or "cluster", tags=cloud.tags(data, f"{region}/{name}/placement", pool=name),
            opts=opts)
        for name, pool in by_name.items() if pool.get("count", 0) > 0 and pool.get("placement") != "none"}
    shared, storage_out = storage.storage(data, subnets, group, opts)
    amis = _amis(data, settings, invoke)
    block = cloud.block_shares(data)

    exported: dict[str, Any] = {}
    for node in data["nodes"]:
        address, pool = node["address"], by_name[node["pool"]]
        if not node.get("instance_type"):
            raise ValueError(f"{address}: pool {node['pool']!r} has no aws instance type")
        nics = network.node_interfaces(data, node, subnets, (group, efa_group), opts)
        boot = cloud.boot_plan(data, node, shared)
        volumes = storage.block_volumes(data, node, zone, block, boot, opts)
        group_of = placement.get(node["pool"])
        instance = aws.ec2.Instance(
            address, ami=pool.get("image") or amis[node["instance_type"]],  # the pool's spec.images id first
            instance_type=node["instance_type"], key_name=key.key_name,
            availability_zone=zone, placement_group=group_of.name if group_of is not None else None,
            **_interfaces_at_launch(nics), **_purchase(pool),
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(encrypted=True),
            user_data=cloud.cloud_config(data, node, boot),
            tags=cloud.tags(data, address, node["hostname"], pool=node["pool"]),
            volume_tags=cloud.tags(data, address, node["hostname"], pool=node["pool"]),
            opts=cloud.first_boot_only(opts, "userData", "keyName"))
        network.attach_later(address, instance, nics, opts)
        for index, (name, volume) in enumerate(volumes):
            aws.ec2.VolumeAttachment(f"{address}/volume/{name}/attachment", instance_id=instance.id,
                                     volume_id=volume.id, device_name=f"/dev/sd{chr(ord('f') + index)}", opts=opts)
        ips = {fabric: nic.private_ips.apply(_first) for fabric, nic in nics.addressed}
        exported[address] = cloud.node_output(instance.id, ips)
    pulumi.export("nodes", exported)
    pulumi.export("storage", storage_out)
    pulumi.export("network", {"vpc": vpc.id, "security_group": group.id,
                              "subnets": {name: s.id for name, s in subnets.items()}})


def _first(values: Sequence[str]) -> str:
    return values[0] if values else ""


def _interfaces_at_launch(nics: network.NodeInterfaces) -> dict[str, Any]:
    """A node with EFA gets every interface at launch (EFAs cannot be attached to a running instance); pulumi_aws
    marks `network_interfaces` deprecated in favour of attachments, which come too late for EFA."""
    if nics.at_launch is not None:
        return {"network_interfaces": nics.at_launch}
    return {"primary_network_interface": aws.ec2.InstancePrimaryNetworkInterfaceArgs(
        network_interface_id=nics.addressed[0][1].id)}


def _purchase(pool: dict[str, Any]) -> dict[str, Any]:
    """How the pool's instances are bought: spot, into its capacity reservation, or on demand (no arguments)."""
    if pool.get("provisioning") == "spot":
        return {"instance_market_options": aws.ec2.InstanceInstanceMarketOptionsArgs(market_type="spot")}
    if pool.get("provisioning") == "reservation":
        return {"capacity_reservation_specification": aws.ec2.InstanceCapacityReservationSpecificationArgs(
            capacity_reservation_target=aws.ec2.InstanceCapacityReservationSpecificationCapacityReservationTargetArgs(
                capacity_reservation_id=str(pool["reservation"])))}
    return {}


def _amis(data: dict[str, Any], settings: dict[str, Any], invoke: pulumi.InvokeOptions
          ) -> dict[str, pulumi.Input[str]]:
    """The AMI per instance type: spec.targets.aws.ami, else the newest official one of the spec's
    `debian-N` image for the instance type's architecture. Any other image needs an explicit ami."""
    types = sorted({str(n["instance_type"]) for n in data["nodes"] if n.get("instance_type")})
    if settings.get("ami"):
        return dict.fromkeys(types, str(settings["ami"]))
    image = str(data.get("image") or "")
    if not re.fullmatch(r"debian-\d+", image):
        raise ValueError(f"image {image!r} has no known AMI owner: set spec.targets.aws.ami")
    out: dict[str, pulumi.Input[str]] = {}
    for instance_type in types:
        archs = aws.ec2.get_instance_type_output(instance_type=instance_type, opts=invoke).supported_architectures
        out[instance_type] = aws.ec2.get_ami_output(
            most_recent=True, owners=[DEBIAN_OWNER], filters=archs.apply(lambda a: _ami_filters(image, a)),
            opts=invoke).id
    return out


def _ami_filters(image: str, archs: list[str]) -> list[aws.ec2.GetAmiFilterArgs]:
    """Debian's AMI names: debian-12-amd64-20240717-1811 (x86_64), debian-12-arm64-... (arm64)."""
    arm = "arm64" in archs and "x86_64" not in archs
    return [aws.ec2.GetAmiFilterArgs(name="name", values=[f"{image}-{'arm64' if arm else 'amd64'}-*"]),
            aws.ec2.GetAmiFilterArgs(name="architecture", values=["arm64" if arm else "x86_64"])]
