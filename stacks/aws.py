"""Stack program of the aws target (pulumi_aws), one grid region per stack.

Per region: one VPC covering the fabrics (a secondary CIDR per fabric when no /16../28 supernet
covers them), one subnet per fabric, all in one availability zone (cluster placement groups need
it); one security group that allows SSH from the admin CIDRs (spec access.admin_cidrs, else config
grid:adminCidrs, else the fabrics) and any traffic within the cluster's fabrics (a fabric that declares
`ingress`: only that), nothing else (egress within the fabrics); the cluster
key as a key pair; a cluster placement group per pool; per node an instance of the pool's
instance type whose network interfaces carry the spec's addresses (the connect fabric is the
primary one). Storage: EFS for nfs and parallel-fs (FSx for Lustre for parallel-fs with config
grid:parallelFs=fsx-lustre), mounted by cloud-init; EBS volumes for block (one per node, the
capacity shared out); an S3 bucket (public access blocked) for object. The MTU is the VPC's
(9001 inside it); the validator warns about fabrics asking for another.

Every resource is named by its grid address and tagged `grid:cluster` / `grid:address`.
Credentials come from the AWS provider's usual sources (env, profile, instance role); the
program never reads or writes them. The AWS region is spec.targets.aws.region.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from . import cloud_common as cloud

DEBIAN_OWNER = "136693071363"  # the Debian project's AWS account (its official AMIs)
EBS_MAX_GIB = 16_384


def program(data: dict[str, Any]) -> None:
    region, settings = str(data["region"]), data.get("settings") or {}
    provider = aws.Provider(f"{region}/provider", region=settings.get("region") or "us-east-1")
    opts = pulumi.ResourceOptions(provider=provider)
    invoke = pulumi.InvokeOptions(provider=provider)
    zone: pulumi.Input[str] = settings.get("availability_zone") or aws.get_availability_zones_output(
        state="available", opts=invoke).names.apply(lambda names: sorted(names)[0])
    if not data["fabrics"]:
        raise ValueError(f"region {region} has no fabric to build a VPC from")

    vpc, blocks = _vpc(data, opts)
    subnets = {
        f["name"]: aws.ec2.Subnet(f["address"], vpc_id=vpc.id, cidr_block=f["cidr"], availability_zone=zone,
                                  map_public_ip_on_launch=False, tags=cloud.tags(data, f["address"]),
                                  opts=pulumi.ResourceOptions(provider=provider, depends_on=blocks))
        for f in data["fabrics"]}
    group = _security_group(data, vpc, opts)
    key = aws.ec2.KeyPair(f"{region}/key-pair", key_name=cloud.physical(data, f"{region}/key"),
                          public_key=cloud.cluster_key(data),
                          tags=cloud.tags(data, f"{region}/key-pair"),
                          opts=cloud.first_boot_only(opts, "publicKey"))
    by_name = cloud.pools(data)
    placement = {
        name: aws.ec2.PlacementGroup(
            f"{region}/{name}/placement", name=cloud.physical(data, f"{region}/{name}"), strategy="cluster",
            tags=cloud.tags(data, f"{region}/{name}/placement"), opts=opts)
        for name, pool in by_name.items() if pool.get("count", 0) > 0}
    shared, storage_out = _storage(data, subnets, group, opts)
    amis = _amis(data, settings, invoke)
    block = cloud.block_shares(data)

    exported: dict[str, Any] = {}
    for node in data["nodes"]:
        address = node["address"]
        if not node.get("instance_type"):
            raise ValueError(f"{address}: pool {node['pool']!r} has no aws instance type")
        attached = cloud.node_fabrics(node, by_name[node["pool"]])
        nics = [aws.ec2.NetworkInterface(
            f"{address}/nic/{fabric}", subnet_id=subnets[fabric].id, private_ips=[ip],
            security_groups=[group.id], description=f"grid {address} on {fabric}",
            tags=cloud.tags(data, f"{address}/nic/{fabric}"), opts=opts) for fabric, ip in attached]
        boot = _boot_plan(data, node, shared)
        volumes = _block_volumes(data, node, zone, block, boot, opts)
        instance = aws.ec2.Instance(
            address, ami=amis[node["instance_type"]], instance_type=node["instance_type"], key_name=key.key_name,
            availability_zone=zone, placement_group=placement[node["pool"]].name,
            primary_network_interface=aws.ec2.InstancePrimaryNetworkInterfaceArgs(network_interface_id=nics[0].id),
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(encrypted=True),
            user_data=cloud.cloud_config(data, node, boot), tags=cloud.tags(data, address, node["hostname"]),
            volume_tags=cloud.tags(data, address, node["hostname"]),
            opts=cloud.first_boot_only(opts, "userData", "keyName"))
        for index, ((fabric, _), nic) in enumerate(zip(attached, nics, strict=True)):
            if index > 0:
                aws.ec2.NetworkInterfaceAttachment(f"{address}/nic/{fabric}/attachment", instance_id=instance.id,
                                                   network_interface_id=nic.id, device_index=index, opts=opts)
        for index, (name, volume) in enumerate(volumes):
            aws.ec2.VolumeAttachment(f"{address}/volume/{name}/attachment", instance_id=instance.id,
                                     volume_id=volume.id, device_name=f"/dev/sd{chr(ord('f') + index)}", opts=opts)
        ips = {fabric: nic.private_ips.apply(_first) for (fabric, _), nic in zip(attached, nics, strict=True)}
        exported[address] = cloud.node_output(instance.id, ips)
    pulumi.export("nodes", exported)
    pulumi.export("storage", storage_out)
    pulumi.export("network", {"vpc": vpc.id, "security_group": group.id,
                              "subnets": {name: s.id for name, s in subnets.items()}})


def _first(values: Sequence[str]) -> str:
    return values[0] if values else ""


def _vpc(data: dict[str, Any], opts: pulumi.ResourceOptions) -> tuple[aws.ec2.Vpc, list[pulumi.Resource]]:
    region = str(data["region"])
    nets = [ipaddress.IPv4Network(f["cidr"]) for f in data["fabrics"]]
    for net in nets:
        if not 16 <= net.prefixlen <= 28:
            raise ValueError(f"fabric {net} of region {region}: AWS subnets must be /16 to /28")
    cover = nets[0]
    while not all(n.subnet_of(cover) for n in nets):
        cover = cover.supernet()
    primary = [cover] if cover.prefixlen >= 16 else nets[:1]
    vpc = aws.ec2.Vpc(f"{region}/vpc", cidr_block=str(primary[0]), enable_dns_support=True,
                      enable_dns_hostnames=True, tags=cloud.tags(data, f"{region}/vpc"), opts=opts)
    blocks: list[pulumi.Resource] = [
        aws.ec2.VpcIpv4CidrBlockAssociation(f"{region}/vpc/cidr/{net}", vpc_id=vpc.id, cidr_block=str(net),
                                            opts=opts)
        for net in nets if not net.subnet_of(primary[0])]
    return vpc, blocks


def _security_group(data: dict[str, Any], vpc: aws.ec2.Vpc, opts: pulumi.ResourceOptions) -> aws.ec2.SecurityGroup:
    region = str(data["region"])
    fabrics = sorted({str(f["cidr"]) for f in data["fabrics"]})
    port = int((data.get("ssh") or {}).get("port", 22))
    ingress = [aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=port, to_port=port, cidr_blocks=[cidr],
                                                description=f"SSH from admin network {cidr}")
               for cidr in cloud.admin_cidrs(data)]
    ingress += [aws.ec2.SecurityGroupIngressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=[cidr],
                                                 description=f"cluster fabric {cidr}")
                for cidr in cloud.open_fabric_cidrs(data)]
    ingress += [aws.ec2.SecurityGroupIngressArgs(
        protocol=rule.protocol, cidr_blocks=[rule.cidr], description=f"ingress of fabric {rule.fabric}",
        from_port=-1 if rule.protocol == "icmp" else (rule.ports or (0, 65535))[0],
        to_port=-1 if rule.protocol == "icmp" else (rule.ports or (0, 65535))[1]) for rule in cloud.allowed(data)]
    egress = [aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=[cidr],
                                              description=f"cluster fabric {cidr}") for cidr in fabrics]
    return aws.ec2.SecurityGroup(
        f"{region}/security-group", name=cloud.physical(data, f"{region}/nodes"), vpc_id=vpc.id,
        description=f"grid cluster {data['cluster']} region {region}: SSH from admins, all within fabrics",
        ingress=ingress, egress=egress, revoke_rules_on_delete=True,
        tags=cloud.tags(data, f"{region}/security-group"), opts=opts)


def _storage(data: dict[str, Any], subnets: dict[str, aws.ec2.Subnet], group: aws.ec2.SecurityGroup,
             opts: pulumi.ResourceOptions) -> tuple[dict[str, list[pulumi.Input[str]]], dict[str, Any]]:
    """Shared file systems: {storage name: fstab fields} and the `storage` output."""
    lustre = (pulumi.Config("grid").get("parallelFs") or "efs") == "fsx-lustre"
    shared: dict[str, list[pulumi.Input[str]]] = {}
    out: dict[str, Any] = {}
    for volume in data["volumes"]:
        address, kind, users = volume["address"], volume["kind"], cloud.users_of(data, volume["name"])
        if not users:
            continue  # nothing mounts it in this region: nothing to build it for
        if kind == "object":
            bucket = aws.s3.Bucket(address, bucket_prefix=str(volume["volume"])[:36] + "-", force_destroy=False,
                                   tags=cloud.tags(data, address), opts=opts)
            aws.s3.BucketPublicAccessBlock(f"{address}/public-access-block", bucket=bucket.id,
                                           block_public_acls=True, block_public_policy=True,
                                           ignore_public_acls=True, restrict_public_buckets=True, opts=opts)
            out[address] = {"id": bucket.id, "bucket": bucket.bucket}
            continue
        if kind not in cloud.SHARED_KINDS:
            continue  # block: one EBS volume per node (_block_volumes)
        subnet = subnets[cloud.connect_fabric(cloud.pools(data)[users[0]["pool"]])]
        if kind == "parallel-fs" and lustre:
            wanted = cloud.gib(volume["capacity_tib"])
            fs = aws.fsx.LustreFileSystem(
                address, subnet_ids=subnet.id, security_group_ids=[group.id], deployment_type="PERSISTENT_2",
                storage_capacity=1200 if wanted <= 1200 else math.ceil(wanted / 2400) * 2400,
                per_unit_storage_throughput=250, skip_final_backup=not volume.get("protect", False),
                tags=cloud.tags(data, address), opts=opts)
            shared[volume["name"]] = [pulumi.Output.concat(fs.dns_name, "@tcp:/", fs.mount_name), volume["mount"],
                                      "lustre", "defaults,noatime,flock,_netdev,nofail", "0", "0"]
            out[address] = {"id": fs.id, "source": shared[volume["name"]][0]}
            continue
        efs = aws.efs.FileSystem(address, creation_token=str(volume["volume"]), encrypted=True,
                                 performance_mode="generalPurpose", throughput_mode="elastic",
                                 tags=cloud.tags(data, address), opts=opts)
        target = aws.efs.MountTarget(f"{address}/mount-target", file_system_id=efs.id, subnet_id=subnet.id,
                                     security_groups=[group.id], opts=opts)
        shared[volume["name"]] = [pulumi.Output.concat(target.ip_address, ":/"), volume["mount"], "nfs4",
                                  "nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,"
                                  "_netdev,nofail", "0", "0"]
        out[address] = {"id": efs.id, "source": shared[volume["name"]][0]}
    return shared, out


def _boot_plan(data: dict[str, Any], node: dict[str, Any],
               shared: dict[str, list[pulumi.Input[str]]]) -> cloud.BootPlan:
    boot = cloud.BootPlan()
    kinds = {v["name"]: v["kind"] for v in data["volumes"]}
    bound = cloud.bind_mounts(node, shared, boot)
    for name, mount in sorted(cloud.mounted(node).items()):
        if name in bound:
            continue
        if name in shared:
            boot.mounts.append(shared[name])
        elif kinds.get(name) == "object":
            boot.directories.append(mount)  # the bucket is reached with S3 tools; the mount point stays a dir
    return boot


def _block_volumes(data: dict[str, Any], node: dict[str, Any], zone: pulumi.Input[str], block: dict[str, int],
                   boot: cloud.BootPlan, opts: pulumi.ResourceOptions) -> list[tuple[str, aws.ebs.Volume]]:
    """EBS volumes of a node's block storage: the storage's capacity shared out over the nodes mounting it."""
    out = []
    for volume in data["volumes"]:
        if volume["name"] not in block or volume["name"] not in cloud.mounted(node):
            continue
        size = block[volume["name"]]
        if size > EBS_MAX_GIB:
            raise ValueError(f"{volume['address']}: {size} GiB per node exceeds EBS's {EBS_MAX_GIB} GiB")
        address = f"{node['address']}/volume/{volume['name']}"
        ebs = aws.ebs.Volume(address, availability_zone=zone, size=size, type="gp3", encrypted=True,
                             tags=cloud.tags(data, address), opts=opts)
        device = ebs.id.apply(lambda vid: "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_" + vid.replace("-", ""))
        boot.devices.append((device, cloud.mounted(node)[volume["name"]]))
        out.append((str(volume["name"]), ebs))
    return out


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
