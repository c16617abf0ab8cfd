"""Stack program of the openstack target (pulumi_openstack), one grid region per stack.

Per region: one Neutron network per fabric with the fabric's MTU and a subnet with its CIDR and
gateway (no DHCP: ports carry the spec's addresses and cloud-init reads them from the config drive);
a router to spec.targets.openstack.external_network for the fabrics grid connects over, when one is
named; one security group without the default rules that allows SSH from the admin CIDRs (spec
access.admin_cidrs, else config grid:adminCidrs, else the fabrics) and any traffic within the cluster's
fabrics (a fabric that declares `ingress`: only that), nothing else; the
cluster key as a key pair; a soft-affinity server group per pool (fabric locality, never a hard
failure); per node a port per fabric and a server of the pool's flavor and the target's image.
Storage: a Manila NFS share per nfs/parallel-fs entry (readable and writable from the fabrics of the
pools that mount it) when the cloud has Manila, else a Cinder volume per node (not shared: a warning
says so); Cinder volumes per node for block (the capacity shared out); a Swift container for object.

Config (namespace grid): adminCidrs; shares = auto (look in the service catalog) | manila | block;
shareType (Manila share type); shareNetwork = none | fabric (DHSS=True back ends: a share network on
the users' fabric). Neutron resources carry tags `k=v` of metadata.labels (a node's: its pool's `labels`),
`grid:cluster=<name>` and `grid:address=<address>`, Nova, Cinder and Manila ones the same as metadata
(Swift: with - for :). The Keystone region is the grid region's own (regions[].targets.openstack.region),
else spec.targets.openstack.region, else the cloud's default. Credentials
come from the usual OS_* variables or clouds.yaml (OS_CLOUD); the program never reads or writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_openstack as openstack

from . import cloud_common as cloud

SHARE_TYPES = ("sharev2", "share")


def neutron_tags(data: dict[str, Any], address: str, pool: str | None = None) -> list[str]:
    return [f"{key}={value}" for key, value in cloud.tags(data, address, pool=pool).items() if key != "Name"]


def metadata(data: dict[str, Any], address: str, pool: str | None = None) -> dict[str, str]:
    return {key: value for key, value in cloud.tags(data, address, pool=pool).items() if key != "Name"}


def _provider(data: dict[str, Any], settings: dict[str, Any]
              ) -> tuple[pulumi.ResourceOptions | None, pulumi.InvokeOptions | None]:
    """The Keystone region of this grid region (regions[].targets.openstack.region, else spec.targets.openstack's):
    an explicit provider then; none given, the default provider as before (the cloud's own region)."""
    if not settings.get("region"):
        return None, None
    provider = openstack.Provider(f"{data['region']}/provider", region=str(settings["region"]))
    return pulumi.ResourceOptions(provider=provider), pulumi.InvokeOptions(provider=provider)


def program(data: dict[str, Any]) -> None:
    region, settings = str(data["region"]), data.get("settings") or {}
    config = pulumi.Config("grid")
    opts, invoke = _provider(data, settings)
    by_name = cloud.pools(data)
    port = int((data.get("ssh") or {}).get("port", 22))
    networks: dict[str, openstack.networking.Network] = {}
    subnets: dict[str, openstack.networking.Subnet] = {}
    for fabric in data["fabrics"]:
        address = fabric["address"]
        networks[fabric["name"]] = openstack.networking.Network(
            address, name=cloud.physical(data, address), mtu=int(fabric["mtu"]), admin_state_up=True,
            port_security_enabled=True, description=f"grid {address}", tags=neutron_tags(data, address), opts=opts)
        subnets[fabric["name"]] = openstack.networking.Subnet(
            f"{address}/subnet", network_id=networks[fabric["name"]].id, cidr=fabric["cidr"], ip_version=4,
            gateway_ip=fabric["gateway"] or None, no_gateway=not fabric["gateway"], enable_dhcp=False,
            name=cloud.physical(data, address), description=f"grid {address}",
            tags=neutron_tags(data, f"{address}/subnet"), opts=opts)
    connect = sorted({cloud.connect_fabric(p) for p in by_name.values() if p.get("count", 0) > 0})
    if settings.get("external_network"):
        external = openstack.networking.get_network_output(name=settings["external_network"], external=True,
                                                             opts=invoke)
        router = openstack.networking.Router(
            f"{region}/router", name=cloud.physical(data, f"{region}/router"), external_network_id=external.id,
            description=f"grid {region}/router", tags=neutron_tags(data, f"{region}/router"), opts=opts)
        for name in connect:
            openstack.networking.RouterInterface(f"{region}/router/{name}", router_id=router.id,
                                                 subnet_id=subnets[name].id, opts=opts)
    group = _security_group(data, port, opts)
    key = openstack.compute.Keypair(f"{region}/key-pair", name=cloud.physical(data, f"{region}/key"),
                                    public_key=cloud.cluster_key(data),
                                    opts=cloud.first_boot_only(opts, "publicKey"))
    server_groups = {
        name: openstack.compute.ServerGroup(f"{region}/{name}/server-group",
                                            name=cloud.physical(data, f"{region}/{name}"), policies="soft-affinity",
                                            opts=opts)
        for name, pool in by_name.items() if pool.get("count", 0) > 0}
    shared, per_node, storage_out = _storage(data, config, networks, subnets, settings, opts, invoke)
    block = cloud.block_shares(data, also=per_node)

    exported: dict[str, Any] = {}
    for node in data["nodes"]:
        address = node["address"]
        if not node.get("instance_type"):
            raise ValueError(f"{address}: pool {node['pool']!r} has no openstack flavor")
        attached = cloud.node_fabrics(node, by_name[node["pool"]])
        ports = [openstack.networking.Port(
            f"{address}/port/{fabric}", name=cloud.physical(data, f"{address}/{fabric}"),
            network_id=networks[fabric].id, admin_state_up=True, security_group_ids=[group.id],
            fixed_ips=[openstack.networking.PortFixedIpArgs(subnet_id=subnets[fabric].id, ip_address=ip)],
            description=f"grid {address} on {fabric}",
            tags=neutron_tags(data, f"{address}/port/{fabric}", node["pool"]), opts=opts)
            for fabric, ip in attached]
        boot = cloud.BootPlan()
        volumes = []
        bound = cloud.bind_mounts(node, shared, boot)
        for name, mount in sorted(cloud.mounted(node).items()):
            if name in bound and name not in block:
                continue
            if name in shared:
                boot.mounts.append(shared[name])
            elif name in block:
                volume = openstack.blockstorage.Volume(
                    f"{address}/volume/{name}", name=cloud.physical(data, f"{address}/{name}"), size=block[name],
                    availability_zone=settings.get("availability_zone"), description=f"grid {address} {name}",
                    metadata=metadata(data, f"{address}/volume/{name}", node["pool"]), opts=opts)
                boot.devices.append((volume.id.apply(_virtio_disk), mount))
                volumes.append((name, volume))
            else:
                boot.directories.append(mount)  # object storage: reached with Swift tools, the mount stays a dir
        server = openstack.compute.Instance(
            address, name=node["hostname"], flavor_name=node["instance_type"],
            image_name=by_name[node["pool"]].get("image") or settings.get("image"),
            key_pair=key.name, availability_zone=settings.get("availability_zone"), config_drive=True,
            networks=[openstack.compute.InstanceNetworkArgs(port=p.id) for p in ports],
            scheduler_hints=[openstack.compute.InstanceSchedulerHintArgs(group=server_groups[node["pool"]].id)],
            metadata=metadata(data, address, node["pool"]), user_data=cloud.cloud_config(data, node, boot),
            opts=cloud.first_boot_only(opts, "userData", "keyPair"))
        for name, volume in volumes:
            openstack.compute.VolumeAttach(f"{address}/volume/{name}/attachment", instance_id=server.id,
                                           volume_id=volume.id, opts=opts)
        ips = {fabric: p.all_fixed_ips.apply(_first) for (fabric, _), p in zip(attached, ports, strict=True)}
        exported[address] = cloud.node_output(server.id, ips)
    pulumi.export("nodes", exported)
    pulumi.export("storage", storage_out)
    pulumi.export("network", {"security_group": group.id, "networks": {n: x.id for n, x in networks.items()}})


def _security_group(data: dict[str, Any], port: int, opts: pulumi.ResourceOptions | None
                    ) -> openstack.networking.SecGroup:
    region = str(data["region"])
    address = f"{region}/security-group"
    group = openstack.networking.SecGroup(
        address, name=cloud.physical(data, f"{region}/nodes"), delete_default_rules=True,
        description=f"grid cluster {data['cluster']} region {region}: SSH from admins, all within fabrics",
        tags=neutron_tags(data, address), opts=opts)
    for cidr in cloud.admin_cidrs(data):
        openstack.networking.SecGroupRule(
            f"{address}/ssh-from/{cidr}", security_group_id=group.id, direction="ingress", ethertype="IPv4",
            protocol="tcp", port_range_min=port, port_range_max=port, remote_ip_prefix=cidr,
            description=f"grid {address}: SSH from admin network {cidr}", opts=opts)
    open_fabrics = cloud.open_fabric_cidrs(data)
    for cidr in sorted({str(f["cidr"]) for f in data["fabrics"]}):
        for direction in ("ingress", "egress"):
            if direction == "ingress" and cidr not in open_fabrics:
                continue  # the fabric declares its ingress: only that is allowed in
            openstack.networking.SecGroupRule(
                f"{address}/{direction}/{cidr}", security_group_id=group.id, direction=direction,
                ethertype="IPv4", remote_ip_prefix=cidr, description=f"grid {address}: cluster fabric {cidr}",
                opts=opts)
    for rule in cloud.allowed(data):
        openstack.networking.SecGroupRule(
            f"{address}/allow/{rule.key}", security_group_id=group.id, direction="ingress", ethertype="IPv4",
            protocol=rule.protocol, remote_ip_prefix=rule.cidr,
            port_range_min=rule.ports[0] if rule.ports else None, port_range_max=rule.ports[1] if rule.ports else None,
            description=f"grid {address}: ingress of fabric {rule.fabric}", opts=opts)
    return group


def _storage(data: dict[str, Any], config: pulumi.Config, networks: dict[str, openstack.networking.Network],
             subnets: dict[str, openstack.networking.Subnet], settings: dict[str, Any],
             opts: pulumi.ResourceOptions | None, invoke: pulumi.InvokeOptions | None
             ) -> tuple[dict[str, list[pulumi.Input[str]]], list[str], dict[str, Any]]:
    """Manila shares ({storage: fstab fields}), storage that falls back to per-node volumes, the output."""
    wanted = [v for v in data["volumes"] if v["kind"] in (*cloud.SHARED_KINDS, "object") and
              cloud.users_of(data, v["name"])]
    mode = config.get("shares") or "auto"
    if mode not in ("auto", "manila", "block"):
        raise ValueError(f"config grid:shares is {mode!r}; use auto, manila or block")
    lookup = any(v["kind"] == "object" for v in wanted) or (mode == "auto" and bool(wanted))
    services = _services(invoke) if lookup else set()
    manila = mode == "manila" or (mode == "auto" and bool(services & set(SHARE_TYPES)))
    shared: dict[str, list[pulumi.Input[str]]] = {}
    per_node: list[str] = []
    out: dict[str, Any] = {}
    for volume in wanted:
        address, users = volume["address"], cloud.users_of(data, volume["name"])
        if volume["kind"] == "object":
            if "object-store" not in services:
                pulumi.log.warn(f"{address}: the cloud has no object store (Swift); only the mount point is made")
                continue
            container = openstack.objectstorage.Container(address, name=str(volume["volume"]), metadata={
                key.replace(":", "-"): value for key, value in metadata(data, address).items()}, opts=opts)
            out[address] = {"id": container.id, "container": container.name}
            continue
        if not manila:
            pulumi.log.warn(f"{address}: no Manila in this cloud; each node gets its own Cinder volume, NOT shared")
            per_node.append(str(volume["name"]))
            continue
        fabrics = sorted({cloud.connect_fabric(cloud.pools(data)[n["pool"]]) for n in users})
        share_network = None
        if config.get("shareNetwork") == "fabric":
            share_network = openstack.sharedfilesystem.ShareNetwork(
                f"{address}/share-network", name=cloud.physical(data, address), description=f"grid {address}",
                neutron_net_id=networks[fabrics[0]].id, neutron_subnet_id=subnets[fabrics[0]].id, opts=opts).id
        share = openstack.sharedfilesystem.Share(
            address, name=cloud.physical(data, address), share_proto="NFS", size=cloud.gib(volume["capacity_tib"]),
            share_type=config.get("shareType"), share_network_id=share_network,
            availability_zone=settings.get("availability_zone"), description=f"grid {address}",
            metadata=metadata(data, address), opts=opts)
        for cidr in sorted({str(f["cidr"]) for f in data["fabrics"] if f["name"] in fabrics}):
            openstack.sharedfilesystem.ShareAccess(f"{address}/access/{cidr}", share_id=share.id, access_type="ip",
                                                   access_to=cidr, access_level="rw", opts=opts)
        source = share.export_locations.apply(_export_path)
        shared[volume["name"]] = [source, volume["mount"], "nfs", "defaults,_netdev,nofail", "0", "0"]
        out[address] = {"id": share.id, "source": source}
    return shared, per_node, out


def _services(invoke: pulumi.InvokeOptions | None) -> set[str]:
    """Service types in the catalog of the current token (Keystone), to see whether Manila/Swift exist."""
    scope = openstack.identity.get_auth_scope(name="grid", opts=invoke)
    return {str(entry.type) for entry in scope.service_catalogs}


def _export_path(locations: Sequence[Any]) -> str:
    paths = [(loc.get("preferred") in (True, "true", "True"), str(loc.get("path", ""))) for loc in locations or []]
    return max(paths)[1] if paths else ""


def _virtio_disk(volume_id: str) -> str:
    return f"/dev/disk/by-id/virtio-{volume_id[:20]}"


def _first(values: Sequence[str]) -> str:
    return values[0] if values else ""
