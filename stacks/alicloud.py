"""Stack program of the alicloud target (pulumi_alicloud), one grid region per stack.

Per region, in the Alibaba Cloud region of settings.region (spec.targets.alicloud with the hub's own
regions[].targets.alicloud over it) and one zone (settings.zone, else the first zone that sells vSwitches):
one VPC covering the fabrics (a secondary CIDR block per fabric no /8../28 supernet covers), one vSwitch per
fabric; one security group whose members do not reach each other by default (inner access Drop) that allows
SSH from the admin CIDRs, all traffic within the fabrics that declare no `ingress`, the declared ingress, and
egress within the fabrics only (a low-priority drop of everything else); the cluster key as a key pair.

Per pool: `placement: cluster` -> a deployment set of strategy LowLatency (instances close together), `spread`
-> strategy Availability (apart), `none` -> none. `provisioning: spot` -> a pay-as-you-go spot instance
(SpotAsPriceGo), `reservation` -> launched into the private pool (elasticity assurance / capacity reservation)
`reservation` names (match criteria Target), `on-demand` -> pay-as-you-go (PostPaid).

Per node: an ECS instance of the pool's instance type, image settings.image_id or the newest public
Debian image of defaults.image (`debian-12` -> `^debian_12_`), its primary interface on the connect fabric
with the spec's address, an ENI (attached) per other fabric with the spec's address; on a `roce` fabric the
interfaces are elastic RDMA interfaces (traffic mode HighPerformance), one per network card: the spec's
address on card 0 and `ports_per_node - 1` more on cards 1.. (addresses from the vSwitch). No public IP;
user data is grid's cloud-config (host keys are pinned after boot, grid.targets.cloud); a node on an
8500-MTU fabric gets jumbo frames. Storage: grid.stacks.alicloud_storage. Tags: metadata.labels, the pool's
labels over them, and grid:cluster / grid:address / Name. With `names: dns` (the default without Slurm): a
PrivateZone zone of the region's nodes, bound to and searched by the VPC (_private_names).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_alicloud as alicloud

from grid.spec.alicloud_offer import eri_interfaces

from . import alicloud_storage as storage
from . import cloud_common as cloud

JUMBO_MTU = 8500
PLACEMENT_STRATEGY = {"cluster": "LowLatency", "spread": "Availability"}


def tags(data: Mapping[str, Any], address: str, name: str | None = None,
         pool: Mapping[str, Any] | None = None) -> dict[str, str]:
    """metadata.labels, a pool's labels over them, grid's own tags over both (cloud_common.tags)."""
    return cloud.tags(data, address, name, pool=str(pool["name"]) if pool is not None else None)


def program(data: dict[str, Any]) -> None:
    region, settings = str(data["region"]), data.get("settings") or {}
    provider = alicloud.Provider(f"{region}/provider", region=settings.get("region") or "cn-hangzhou")
    opts = pulumi.ResourceOptions(provider=provider)
    invoke = pulumi.InvokeOptions(provider=provider)
    zone: pulumi.Input[str] = settings.get("zone") or alicloud.get_zones_output(
        available_resource_creation="VSwitch", opts=invoke).ids.apply(lambda ids: sorted(ids)[0])
    if not data["fabrics"]:
        raise ValueError(f"region {region} has no fabric to build a VPC from")

    vpc, blocks = _vpc(data, opts)
    switches = {
        f["name"]: alicloud.vpc.Switch(
            f["address"], vpc_id=vpc.id, cidr_block=f["cidr"], zone_id=zone,
            vswitch_name=cloud.physical(data, f["address"]), tags=tags(data, f["address"]),
            opts=pulumi.ResourceOptions(provider=provider, depends_on=blocks))
        for f in data["fabrics"]}
    group = _security_group(data, vpc, opts)
    _private_names(data, vpc, opts)
    key = alicloud.ecs.EcsKeyPair(f"{region}/key-pair", key_pair_name=cloud.physical(data, f"{region}/key"),
                                  public_key=cloud.cluster_key(data), tags=tags(data, f"{region}/key-pair"),
                                  opts=cloud.first_boot_only(opts, "publicKey"))
    by_name = cloud.pools(data)
    deployment_sets = {
        name: alicloud.ecs.EcsDeploymentSet(
            f"{region}/{name}/placement", deployment_set_name=cloud.physical(data, f"{region}/{name}"),
            strategy=PLACEMENT_STRATEGY[str(pool.get("placement") or "cluster")],
            description=f"grid pool {name} ({pool.get('placement') or 'cluster'} placement)", opts=opts)
        for name, pool in by_name.items()
        if pool.get("count", 0) > 0 and (pool.get("placement") or "cluster") in PLACEMENT_STRATEGY}
    shared, storage_out = storage.file_systems(data, vpc, switches, group, zone, opts)
    images = _images(data, settings, invoke)
    fabrics = {str(f["name"]): f for f in data["fabrics"]}
    block = cloud.block_shares(data)

    exported: dict[str, Any] = {}
    for node in data["nodes"]:
        address, pool = node["address"], by_name[node["pool"]]
        if not node.get("instance_type"):
            raise ValueError(f"{address}: pool {node['pool']!r} has no alicloud instance type")
        attached = cloud.node_fabrics(node, pool)
        first, first_ip = attached[0]
        boot = cloud.boot_plan(data, node, shared)
        disks = storage.block_disks(data, node, zone, block, boot, opts)
        instance = alicloud.ecs.Instance(
            address, instance_type=node["instance_type"], image_id=pool.get("image") or images[node["instance_type"]],
            instance_name=cloud.physical(data, address), host_name=node["hostname"],
            vswitch_id=switches[first].id, private_ip=first_ip, security_groups=[group.id],
            key_name=key.key_pair_name, internet_max_bandwidth_out=0,
            network_interface_traffic_mode=_traffic_mode(fabrics[first]),
            enable_jumbo_frame=True if any(fabrics[f].get("mtu") == JUMBO_MTU for f, _ in attached) else None,
            deployment_set_id=deployment_sets[node["pool"]].id if node["pool"] in deployment_sets else None,
            **_capacity(pool), system_disk_category="cloud_essd", system_disk_encrypted=True,
            user_data=cloud.cloud_config(data, node, boot), tags=tags(data, address, node["hostname"], pool),
            volume_tags=tags(data, address, node["hostname"], pool),
            opts=cloud.first_boot_only(opts, "userData", "keyName"))
        ips: dict[str, pulumi.Input[str]] = {first: instance.private_ip}
        for fabric, ip in attached[1:]:
            nic = _interface(data, f"{address}/nic/{fabric}", fabrics[fabric], switches[fabric], group, ip, pool,
                             opts)
            _attach(f"{address}/nic/{fabric}", instance, nic, fabrics[fabric], 0, opts)
            ips[fabric] = nic.primary_ip_address
        for fabric, _ in attached:
            for port in range(1, _rdma_ports(fabrics[fabric], node)):
                name = f"{address}/nic/{fabric}/port-{port}"
                nic = _interface(data, name, fabrics[fabric], switches[fabric], group, None, pool, opts)
                _attach(name, instance, nic, fabrics[fabric], port, opts)
        for name, disk in disks:
            alicloud.ecs.EcsDiskAttachment(f"{address}/volume/{name}/attachment", instance_id=instance.id,
                                           disk_id=disk.id, opts=opts)
        exported[address] = cloud.node_output(instance.id, ips)
    pulumi.export("nodes", exported)
    pulumi.export("storage", storage_out)
    pulumi.export("network", {"vpc": vpc.id, "security_group": group.id,
                              "subnets": {name: s.id for name, s in switches.items()}})


def _private_names(data: dict[str, Any], vpc: alicloud.vpc.Network, opts: pulumi.ResourceOptions) -> None:
    """`names: dns`: the region's PrivateZone zone bound to its VPC (the VPC's default resolvers, 100.100.2.136
    and .138, answer from it), searched by its instances (a DHCP options set names it), and an A record per node
    at its connect address. Nothing without a zone (`names: hosts_file`)."""
    zone_name = cloud.private_zone(data)
    if not zone_name:
        return
    region = str(data["region"])
    zone = alicloud.pvtz.Zone(f"{region}/names", zone_name=zone_name,
                              remark=f"grid cluster {data['cluster']}: the names of region {region}",
                              tags=tags(data, f"{region}/names"), opts=opts)
    alicloud.pvtz.ZoneAttachment(f"{region}/names/attachment", zone_id=zone.id, vpc_ids=[vpc.id], opts=opts)
    options = alicloud.vpc.DhcpOptionsSet(f"{region}/names/dhcp",
                                          dhcp_options_set_name=cloud.physical(data, f"{region}/names"),
                                          domain_name=zone_name, domain_name_servers="100.100.2.136,100.100.2.138",
                                          tags=tags(data, f"{region}/names/dhcp"), opts=opts)
    alicloud.vpc.DhcpOptionsSetAttachment(f"{region}/names/dhcp/attachment", vpc_id=vpc.id,
                                          dhcp_options_set_id=options.id, opts=opts)
    for address, hostname, ip in cloud.name_records(data):
        alicloud.pvtz.ZoneRecord(f"{address}/name", zone_id=zone.id, rr=hostname, type="A", value=ip, ttl=60,
                                 opts=opts)


def _traffic_mode(fabric: Mapping[str, Any]) -> str:
    """An interface on a roce fabric is an elastic RDMA interface (ERI): eRDMA is Alibaba Cloud's RDMA."""
    return "HighPerformance" if fabric.get("kind") == "roce" else "Standard"


def _rdma_ports(fabric: Mapping[str, Any], node: Mapping[str, Any]) -> int:
    """ERIs a node gets on a fabric: its ports_per_node on roce (one per network card), else one interface."""
    if fabric.get("kind") != "roce":
        return 1
    ports = int(fabric.get("ports_per_node") or 1)
    most = eri_interfaces(str(node["instance_type"]))
    if most is not None and ports > most:
        raise ValueError(f"{node['address']}: fabric {fabric['name']} asks for {ports} eRDMA ports; "
                         f"{node['instance_type']} takes {most}")
    return ports


def _interface(data: Mapping[str, Any], name: str, fabric: Mapping[str, Any], switch: alicloud.vpc.Switch,
               group: alicloud.ecs.SecurityGroup, ip: str | None, pool: Mapping[str, Any],
               opts: pulumi.ResourceOptions) -> alicloud.ecs.EcsNetworkInterface:
    return alicloud.ecs.EcsNetworkInterface(
        name, network_interface_name=cloud.physical(data, name), vswitch_id=switch.id,
        security_group_ids=[group.id], primary_ip_address=ip, network_interface_traffic_mode=_traffic_mode(fabric),
        description=f"grid {name}", tags=tags(data, name, pool=pool), opts=opts)


def _attach(name: str, instance: alicloud.ecs.Instance, nic: alicloud.ecs.EcsNetworkInterface,
            fabric: Mapping[str, Any], card: int, opts: pulumi.ResourceOptions) -> None:
    alicloud.ecs.EcsNetworkInterfaceAttachment(
        f"{name}/attachment", instance_id=instance.id, network_interface_id=nic.id,
        network_card_index=card if fabric.get("kind") == "roce" else None, opts=opts)


def _capacity(pool: Mapping[str, Any]) -> dict[str, Any]:
    """How the pool's instances are bought: pay-as-you-go, spot, or from a private pool (a reservation)."""
    provisioning = str(pool.get("provisioning") or "on-demand")
    out: dict[str, Any] = {"instance_charge_type": "PostPaid"}
    if provisioning == "spot":
        out["spot_strategy"] = "SpotAsPriceGo"
    elif provisioning == "reservation":
        if not pool.get("reservation"):
            raise ValueError(f"pool {pool.get('name')!r}: provisioning reservation needs a reservation id")
        out.update(private_pool_options_match_criteria="Target", private_pool_options_id=str(pool["reservation"]))
    return out


def _vpc(data: dict[str, Any], opts: pulumi.ResourceOptions) -> tuple[alicloud.vpc.Network, list[pulumi.Resource]]:
    region = str(data["region"])
    nets, cover = cloud.fabric_networks(data, 16, 29, "vSwitches")
    primary = cover if cover.prefixlen >= 8 else nets[0]
    vpc = alicloud.vpc.Network(f"{region}/vpc", vpc_name=cloud.physical(data, f"{region}/vpc"),
                               cidr_block=str(primary), tags=tags(data, f"{region}/vpc"), opts=opts)
    blocks: list[pulumi.Resource] = [
        alicloud.vpc.Ipv4CidrBlock(f"{region}/vpc/cidr/{net}", vpc_id=vpc.id, secondary_cidr_block=str(net),
                                   opts=opts)
        for net in nets if not net.subnet_of(primary)]
    return vpc, blocks


def _security_group(data: dict[str, Any], vpc: alicloud.vpc.Network,
                    opts: pulumi.ResourceOptions) -> alicloud.ecs.SecurityGroup:
    region = str(data["region"])
    port = int((data.get("ssh") or {}).get("port", 22))
    group = alicloud.ecs.SecurityGroup(
        f"{region}/security-group", security_group_name=cloud.physical(data, f"{region}/nodes"), vpc_id=vpc.id,
        inner_access_policy="Drop", tags=tags(data, f"{region}/security-group"),
        description=f"grid cluster {data['cluster']} region {region}: SSH from admins, all within fabrics", opts=opts)

    def rule(name: str, kind: str, protocol: str, ports: str, cidr: str, why: str, policy: str = "accept",
             priority: int = 1) -> None:
        alicloud.ecs.SecurityGroupRule(
            f"{region}/security-group/{name}", security_group_id=group.id, type=kind, ip_protocol=protocol,
            port_range=ports, cidr_ip=cidr, nic_type="intranet", policy=policy, priority=priority,
            description=why, opts=opts)

    for cidr in cloud.admin_cidrs(data):
        rule(f"ssh/{cidr}", "ingress", "tcp", f"{port}/{port}", cidr, f"SSH from admin network {cidr}")
    for cidr in cloud.open_fabric_cidrs(data):
        rule(f"fabric/{cidr}", "ingress", "all", "-1/-1", cidr, f"cluster fabric {cidr}")
    for allowed in cloud.allowed(data):
        span = "-1/-1" if allowed.protocol == "icmp" else "{}/{}".format(*(allowed.ports or (1, 65535)))
        rule(f"ingress/{allowed.key}", "ingress", allowed.protocol, span, allowed.cidr,
             f"ingress of fabric {allowed.fabric}")
    for cidr in sorted({str(f["cidr"]) for f in data["fabrics"]}):
        rule(f"egress/{cidr}", "egress", "all", "-1/-1", cidr, f"cluster fabric {cidr}")
    # A security group accepts all egress unless told otherwise: the fabrics' rules above win over this one.
    rule("egress/deny", "egress", "all", "-1/-1", "0.0.0.0/0", "nothing outside the fabrics", "drop", 100)
    return group


def _images(data: dict[str, Any], settings: dict[str, Any], invoke: pulumi.InvokeOptions
            ) -> dict[str, pulumi.Input[str]]:
    """The image per instance type: spec.targets.alicloud.image_id, else the newest public Debian image of the
    spec's `debian-N` that the instance type can boot (Alibaba's names: debian_12_6_x64_20G_alibase_...)."""
    types = sorted({str(n["instance_type"]) for n in data["nodes"] if n.get("instance_type")})
    if settings.get("image_id"):
        return dict.fromkeys(types, str(settings["image_id"]))
    image = str(data.get("image") or "")
    if not re.fullmatch(r"debian-\d+", image):
        raise ValueError(f"image {image!r} is no public Alibaba Cloud image: set spec.targets.alicloud.image_id")
    pattern = "^" + image.replace("-", "_") + "_"
    return {t: alicloud.ecs.get_images_output(name_regex=pattern, owners="system", most_recent=True,
                                              instance_type=t, opts=invoke).ids.apply(_newest(image, t))
            for t in types}


def _newest(image: str, instance_type: str) -> Any:
    def pick(ids: list[str]) -> str:
        if not ids:
            raise ValueError(f"no public {image} image for {instance_type}: set spec.targets.alicloud.image_id")
        return ids[0]
    return pick
