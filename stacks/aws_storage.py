"""The aws stack's storage: shared file systems as the spec chooses them, EBS volumes, S3 buckets.

A storage's `backend` (program data volume `backend`, else the target's default for its kind:
grid.spec.targets, aws row) picks the service: FSx for Lustre (parallel-fs by default) with the spec's
deployment_type and throughput_mbps_per_tib (defaults PERSISTENT_2, 250) at the size FSx sells
(grid.spec.aws_offer.fsx_billed_gib, which `grid validate` reports), or EFS (nfs by default). Shared file systems are
mounted by cloud-init; block storage is one EBS volume per node (the capacity shared out); object is a bucket.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from grid.spec import aws_offer as offer
from grid.spec.targets import TARGET_TRAITS

from . import cloud_common as cloud

EBS_MAX_GIB = 16_384
LUSTRE_OPTIONS = "defaults,noatime,flock,_netdev,nofail"
NFS_OPTIONS = "nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,_netdev,nofail"


def backend(volume: dict[str, Any]) -> str | None:
    """The service a storage is built with: its own `backend`, else aws's default for its kind."""
    offered = TARGET_TRAITS["aws"].storage_backends.get(str(volume["kind"]), ())
    return str(volume.get("backend") or "") or (offered[0] if offered else None)


def storage(data: dict[str, Any], subnets: dict[str, aws.ec2.Subnet], group: aws.ec2.SecurityGroup,
            opts: pulumi.ResourceOptions) -> tuple[dict[str, list[pulumi.Input[str]]], dict[str, Any]]:
    """Shared file systems: {storage name: fstab fields} and the `storage` output."""
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
            continue  # block: one EBS volume per node (block_volumes)
        subnet = subnets[cloud.connect_fabric(cloud.pools(data)[users[0]["pool"]])]
        if backend(volume) == "fsx-lustre":
            deployment = str(volume.get("deployment_type") or offer.FSX_DEFAULT_DEPLOYMENT)
            fs = aws.fsx.LustreFileSystem(
                address, subnet_ids=subnet.id, security_group_ids=[group.id], deployment_type=deployment,
                storage_capacity=offer.fsx_billed_gib(volume["capacity_tib"], deployment),
                per_unit_storage_throughput=offer.fsx_throughput(deployment, volume.get("throughput_mbps_per_tib")),
                skip_final_backup=not volume.get("protect", False) if deployment.startswith("PERSISTENT") else None,
                tags=cloud.tags(data, address), opts=opts)
            shared[volume["name"]] = [pulumi.Output.concat(fs.dns_name, "@tcp:/", fs.mount_name), volume["mount"],
                                      "lustre", LUSTRE_OPTIONS, "0", "0"]
            out[address] = {"id": fs.id, "source": shared[volume["name"]][0]}
            continue
        efs = aws.efs.FileSystem(address, creation_token=str(volume["volume"]), encrypted=True,
                                 performance_mode="generalPurpose", throughput_mode="elastic",
                                 tags=cloud.tags(data, address), opts=opts)
        target = aws.efs.MountTarget(f"{address}/mount-target", file_system_id=efs.id, subnet_id=subnet.id,
                                     security_groups=[group.id], opts=opts)
        shared[volume["name"]] = [pulumi.Output.concat(target.ip_address, ":/"), volume["mount"], "nfs4",
                                  NFS_OPTIONS, "0", "0"]
        out[address] = {"id": efs.id, "source": shared[volume["name"]][0]}
    return shared, out


def block_volumes(data: dict[str, Any], node: dict[str, Any], zone: pulumi.Input[str], block: dict[str, int],
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
                             tags=cloud.tags(data, address, pool=str(node["pool"])), opts=opts)
        device = ebs.id.apply(lambda vid: "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_" + vid.replace("-", ""))
        boot.devices.append((device, cloud.mounted(node)[volume["name"]]))
        out.append((str(volume["name"]), ebs))
    return out
