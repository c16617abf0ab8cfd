"""The aws stack's network: the region's VPC and security group, and each node's interfaces (EFA on roce).

A `roce` fabric becomes EFA on instance types that have it (grid.spec.aws_offer): the node's interface on it is of
type `efa` and carries the spec's address, and `ports_per_node - 1` more `efa-only` interfaces (no address)
go one per further network card (card 1.., device index 0, as AWS lays out P5:
docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa-acc-inst-types.html). EFAs cannot be attached to a running
instance, so such a node gets all its interfaces at launch; other nodes keep a primary interface plus
attachments. EFA's OS bypass needs a security group that lets all traffic in and out of itself: EFA interfaces
are in one of their own besides the nodes' group, which keeps the spec's network policy for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from grid.spec.aws_offer import efa_network_cards

from . import cloud_common as cloud


@dataclass
class NodeInterfaces:
    """A node's network interfaces: those with the spec's addresses (connect fabric first), the EFA-only ones,
    and, for a node with EFA, how each is placed at launch (None: the primary one plus attachments)."""

    addressed: list[tuple[str, aws.ec2.NetworkInterface]] = field(default_factory=list)
    efa_only: list[aws.ec2.NetworkInterface] = field(default_factory=list)
    at_launch: list[aws.ec2.InstanceNetworkInterfaceArgs] | None = None


def vpc(data: dict[str, Any], opts: pulumi.ResourceOptions) -> tuple[aws.ec2.Vpc, list[pulumi.Resource]]:
    region = str(data["region"])
    nets, cover = cloud.fabric_networks(data, 16, 28, "AWS subnets")
    primary = [cover] if cover.prefixlen >= 16 else nets[:1]
    made = aws.ec2.Vpc(f"{region}/vpc", cidr_block=str(primary[0]), enable_dns_support=True,
                       enable_dns_hostnames=True, tags=cloud.tags(data, f"{region}/vpc"), opts=opts)
    blocks: list[pulumi.Resource] = [
        aws.ec2.VpcIpv4CidrBlockAssociation(f"{region}/vpc/cidr/{net}", vpc_id=made.id, cidr_block=str(net),
                                            opts=opts)
        for net in nets if not net.subnet_of(primary[0])]
    return made, blocks


def security_group(data: dict[str, Any], network: aws.ec2.Vpc, opts: pulumi.ResourceOptions
                   ) -> aws.ec2.SecurityGroup:
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
        f"{region}/security-group", name=cloud.physical(data, f"{region}/nodes"), vpc_id=network.id,
        description=f"grid cluster {data['cluster']} region {region}: SSH from admins, all within fabrics",
        ingress=ingress, egress=egress, revoke_rules_on_delete=True,
        tags=cloud.tags(data, f"{region}/security-group"), opts=opts)


def efa_group(data: dict[str, Any], network: aws.ec2.Vpc, opts: pulumi.ResourceOptions
              ) -> aws.ec2.SecurityGroup | None:
    """The group EFA's OS bypass needs: all traffic in from and out to itself. Only EFA interfaces are in it
    (besides the nodes' group), so the fabric ingress the spec declares still holds for everything else."""
    roce = {str(f["name"]) for f in data["fabrics"] if f["kind"] == "roce"}
    pools = cloud.pools(data)
    if not any(roce & set(pools[str(n["pool"])].get("fabrics", []))
               and efa_network_cards(str(n.get("instance_type") or "")) != 0 for n in data["nodes"]):
        return None  # no node of the region has an EFA interface
    region = str(data["region"])
    return aws.ec2.SecurityGroup(
        f"{region}/efa-security-group", name=cloud.physical(data, f"{region}/efa"), vpc_id=network.id,
        description=f"grid cluster {data['cluster']} region {region}: EFA, all traffic among its interfaces",
        ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="-1", from_port=0, to_port=0, self=True,
                                                  description="EFA: all traffic from this group")],
        egress=[aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, self=True,
                                                description="EFA: all traffic to this group")],
        revoke_rules_on_delete=True, tags=cloud.tags(data, f"{region}/efa-security-group"), opts=opts)


def node_interfaces(data: dict[str, Any], node: dict[str, Any], subnets: dict[str, aws.ec2.Subnet],
                    groups: tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup | None],
                    opts: pulumi.ResourceOptions) -> NodeInterfaces:
    address, pool = str(node["address"]), str(node["pool"])
    attached = cloud.node_fabrics(node, cloud.pools(data)[pool])
    cards = efa_network_cards(str(node["instance_type"]))
    group, efa_only_group = groups
    efa = {str(f["name"]): int(f.get("ports_per_node") or 1) for f in data["fabrics"]
           if f["kind"] == "roce" and cards != 0 and efa_only_group is not None}  # None (unknown type): as asked
    on_efa = [group.id, efa_only_group.id] if efa_only_group is not None else [group.id]
    out = NodeInterfaces()
    for fabric, ip in attached:
        out.addressed.append((fabric, aws.ec2.NetworkInterface(
            f"{address}/nic/{fabric}", subnet_id=subnets[fabric].id, private_ips=[ip],
            security_groups=on_efa if fabric in efa else [group.id],
            description=f"grid {address} on {fabric}", tags=cloud.tags(data, f"{address}/nic/{fabric}", pool=pool),
            interface_type="efa" if fabric in efa else None, opts=opts)))
    if not any(fabric in efa for fabric, _ in attached):
        return out
    placed = [aws.ec2.InstanceNetworkInterfaceArgs(network_card_index=0, device_index=index,
                                                   network_interface_id=nic.id)
              for index, (_, nic) in enumerate(out.addressed)]
    card = 1
    for fabric, _ in attached:
        for _port in range(1, efa.get(fabric, 1)):
            if cards is not None and card >= cards:
                raise ValueError(f"{address}: {node['instance_type']} has {cards} network cards, too few for the "
                                 "EFA ports of its roce fabrics")
            name = f"{address}/nic/{fabric}/card-{card}"
            nic = aws.ec2.NetworkInterface(
                name, subnet_id=subnets[fabric].id, interface_type="efa-only", security_groups=on_efa,
                description=f"grid {address} on {fabric}: EFA-only, network card {card}",
                tags=cloud.tags(data, name, pool=pool), opts=opts)
            out.efa_only.append(nic)
            placed.append(aws.ec2.InstanceNetworkInterfaceArgs(network_card_index=card, device_index=0,
                                                               network_interface_id=nic.id))
            card += 1
    out.at_launch = placed
    return out


def attach_later(address: str, instance: aws.ec2.Instance, interfaces: NodeInterfaces,
                 opts: pulumi.ResourceOptions) -> None:
    """A node without EFA: its interfaces after the primary one are attached once it runs."""
    if interfaces.at_launch is not None:
        return
    for index, (fabric, nic) in enumerate(interfaces.addressed):
        if index > 0:
            aws.ec2.NetworkInterfaceAttachment(f"{address}/nic/{fabric}/attachment", instance_id=instance.id,
                                               network_interface_id=nic.id, device_index=index, opts=opts)


def private_names(data: dict[str, Any], network: aws.ec2.Vpc, opts: pulumi.ResourceOptions) -> None:
    """`names: dns`: the region's Route 53 private hosted zone, associated with its VPC (the VPC's resolver
    answers from it), searched by its instances (the VPC's DHCP options name it: a hostname resolves as it is),
    and an A record per node at its connect address. Nothing without a zone (`names: hosts_file`)."""
    zone_name = cloud.private_zone(data)
    if not zone_name:
        return
    region = str(data["region"])
    zone = aws.route53.Zone(f"{region}/names", name=zone_name, vpcs=[aws.route53.ZoneVpcArgs(vpc_id=network.id)],
                            comment=f"grid cluster {data['cluster']}: the names of region {region}",
                            tags=cloud.tags(data, f"{region}/names"), opts=opts)
    options = aws.ec2.VpcDhcpOptions(f"{region}/names/dhcp", domain_name=zone_name,
                                     domain_name_servers=["AmazonProvidedDNS"],
                                     tags=cloud.tags(data, f"{region}/names/dhcp"), opts=opts)
    aws.ec2.VpcDhcpOptionsAssociation(f"{region}/names/dhcp/association", vpc_id=network.id,
                                      dhcp_options_id=options.id, opts=opts)
    for address, hostname, ip in cloud.name_records(data):
        aws.route53.Record(f"{address}/name", zone_id=zone.zone_id, name=f"{hostname}.{zone_name}", type="A",
                           ttl=60, records=[ip], opts=opts)
