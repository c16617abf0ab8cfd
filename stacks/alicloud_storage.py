"""Storage of the alicloud stack program (grid.stacks.alicloud).

- `nfs` (and `parallel-fs` with `backend: nas`): a general-purpose NAS file system (NFS, storage type from
  `deployment_type`: Performance or Capacity; billed by what is stored) and a mount target on the vSwitch of
  the first node's connect fabric, in the VPC's default permission group; mounted over NFSv3.
- `parallel-fs` (backend `cpfs`, the default): a CPFS file system of the size Alibaba Cloud sells
  (grid.spec.alicloud_offer.file_storage: 3.6 TiB, then 1.2 TiB steps; `grid validate` warns with the billed size)
  and an NFS protocol service with an export of its root, so nodes mount it without the CPFS client.
- `object`: an OSS bucket, private, public access blocked; the mount point stays a directory.
- `block`: an ESSD per node that mounts it (the capacity shared out), formatted and mounted at first boot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_alicloud as alicloud

from grid.spec.alicloud_offer import file_storage

from . import cloud_common as cloud

NFS_OPTIONS = "vers=3,nolock,proto=tcp,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,_netdev,nofail"
ESSD_MIN_GIB = 20
DEFAULT_ACCESS_GROUP = "DEFAULT_VPC_GROUP_NAME"  # NAS's permission group that admits the whole VPC


def file_systems(data: dict[str, Any], vpc: alicloud.vpc.Network, switches: Mapping[str, alicloud.vpc.Switch],
                 group: alicloud.ecs.SecurityGroup, zone: pulumi.Input[str], opts: pulumi.ResourceOptions,
                 ) -> tuple[dict[str, list[pulumi.Input[str]]], dict[str, Any]]:
    """Shared file systems and buckets: {storage name: fstab fields} and the `storage` output."""
    shared: dict[str, list[pulumi.Input[str]]] = {}
    out: dict[str, Any] = {}
    provider_region = str((data.get("settings") or {}).get("region") or "cn-hangzhou")
    for volume in data["volumes"]:
        address, kind, users = volume["address"], volume["kind"], cloud.users_of(data, volume["name"])
        if not users:
            continue  # nothing mounts it in this region: nothing to build it for
        if kind == "object":
            bucket = alicloud.oss.Bucket(address, bucket=str(volume["volume"]).lower()[:63], force_destroy=False,
                                         tags=cloud.tags(data, address), opts=opts)
            alicloud.oss.BucketAcl(f"{address}/acl", bucket=bucket.bucket, acl="private", opts=opts)
            alicloud.oss.BucketPublicAccessBlock(f"{address}/public-access-block", bucket=bucket.bucket,
                                                 block_public_access=True, opts=opts)
            out[address] = {"id": bucket.id, "bucket": bucket.bucket}
            continue
        if kind not in cloud.SHARED_KINDS:
            continue  # block: one ESSD per node (block_disks)
        switch = switches[cloud.connect_fabric(cloud.pools(data)[users[0]["pool"]])]
        built = file_storage(kind, volume.get("capacity_tib"), backend=volume.get("backend"),
                             deployment_type=volume.get("deployment_type"),
                             throughput_mbps_per_tib=volume.get("throughput_mbps_per_tib"))
        description = str(volume["volume"])
        if built.backend == "nas":
            fs = alicloud.nas.FileSystem(address, protocol_type="NFS", file_system_type="standard",
                                         storage_type=built.storage_type, encrypt_type=1, zone_id=zone,
                                         description=description, tags=cloud.tags(data, address), opts=opts)
            target = alicloud.nas.MountTarget(f"{address}/mount-target", file_system_id=fs.id, vswitch_id=switch.id,
                                              network_type="Vpc", access_group_name=DEFAULT_ACCESS_GROUP,
                                              security_group_id=group.id, opts=opts)
            source: pulumi.Input[str] = pulumi.Output.concat(target.mount_target_domain, ":/")
        else:
            fs = alicloud.nas.FileSystem(address, protocol_type="cpfs", file_system_type="cpfs",
                                         storage_type=built.storage_type, capacity=built.billed_gib, zone_id=zone,
                                         vpc_id=vpc.id, vswitch_id=switch.id, description=description,
                                         tags=cloud.tags(data, address), opts=opts)
            service = alicloud.nas.ProtocolService(f"{address}/nfs-service", file_system_id=fs.id,
                                                   protocol_type="NFS", protocol_spec="General", vpc_id=vpc.id,
                                                   vswitch_id=switch.id, opts=opts)
            export = alicloud.nas.ProtocolMountTarget(
                f"{address}/nfs-export", file_system_id=fs.id, protocol_service_id=service.protocol_service_id,
                vpc_id=vpc.id, vswitch_id=switch.id, path="/", access_group_name=DEFAULT_ACCESS_GROUP, opts=opts)
            # The export's domain is <export id>.<region>.cpfs.aliyuncs.com; its NFS path is /share.
            source = pulumi.Output.concat(export.export_id, f".{provider_region}.cpfs.aliyuncs.com:/share")
        shared[volume["name"]] = [source, volume["mount"], "nfs", NFS_OPTIONS, "0", "0"]
        out[address] = {"id": fs.id, "source": source, "backend": built.backend}
    return shared, out


def block_disks(data: dict[str, Any], node: Mapping[str, Any], zone: pulumi.Input[str], block: Mapping[str, int],
                boot: cloud.BootPlan, opts: pulumi.ResourceOptions,
                ) -> list[tuple[str, alicloud.ecs.EcsDisk]]:
    """ESSDs of a node's block storage: the storage's capacity shared out over the nodes mounting it."""
    out = []
    for volume in data["volumes"]:
        if volume["name"] not in block or volume["name"] not in cloud.mounted(node):
            continue
        address = f"{node['address']}/volume/{volume['name']}"
        disk = alicloud.ecs.EcsDisk(address, zone_id=zone, size=max(ESSD_MIN_GIB, block[volume["name"]]),
                                    category="cloud_essd", encrypted=True, disk_name=cloud.physical(data, address),
                                    tags=cloud.tags(data, address, pool=str(node["pool"])), opts=opts)
        # NVMe ESSDs show up by their serial: the disk id without its `d-`.
        device = disk.id.apply(lambda did: "/dev/disk/by-id/nvme-Alibaba_Cloud_Elastic_Block_Storage_"
                               + did.removeprefix("d-"))
        boot.devices.append((device, cloud.mounted(node)[volume["name"]]))
        out.append((str(volume["name"]), disk))
    return out
