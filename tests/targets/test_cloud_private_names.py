"""`names: dns` on aws and alicloud as their stack programs build it, run under Pulumi's mocks: per region a
private zone bound to the region's network and searched by it (DHCP options), one A record per node at the
address /etc/hosts would give it; none of it with `names: hosts_file`."""

from __future__ import annotations

from typing import Any

import pytest
from mocked_graph import MockedGraph, mocked_graphs

from support.paths import EXAMPLES


def hosts_file(data: dict[str, Any]) -> None:
    data["spec"]["configuration"]["names"] = "hosts_file"


SPECS = {
    "aws": (EXAMPLES / "targets" / "lab-aws.yaml", ()),
    "alicloud": (EXAMPLES / "targets" / "lab-alicloud.yaml", ()),
    "aws-hosts-file": (EXAMPLES / "targets" / "lab-aws.yaml", (hosts_file,)),
    "alicloud-hosts-file": (EXAMPLES / "targets" / "lab-alicloud.yaml", (hosts_file,)),
}
ZONE_TYPES = ("aws:route53/zone:Zone", "aws:route53/record:Record", "aws:ec2/vpcDhcpOptions:VpcDhcpOptions",
              "alicloud:pvtz/zone:Zone", "alicloud:pvtz/zoneRecord:ZoneRecord",
              "alicloud:vpc/dhcpOptionsSet:DhcpOptionsSet")


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, MockedGraph]:
    return mocked_graphs(tmp_path_factory, SPECS)


def _expected_records(graph: MockedGraph) -> dict[str, tuple[str, str]]:
    """{node address: (hostname, address on its connect fabric)}: the mgmt fabric on both labs."""
    return {n["address"]: (n["hostname"], n["fabrics"]["mgmt"]) for n in graph.nodes}


def test_aws_a_private_hosted_zone_per_region_searched_by_its_vpc_and_a_record_per_node(
        graphs: dict[str, MockedGraph]) -> None:
    graph = graphs["aws"]
    for region in ("east", "west"):
        zone = graph.inputs(f"{region}/names")
        assert zone["name"] == f"{region}.lab-aws.grid.internal"
        assert zone["vpcs"] == [{"vpcId": f"{region}-vpc-id"}]  # private: answered by that VPC's resolver only
        options = graph.inputs(f"{region}/names/dhcp")
        assert options["domainName"] == zone["name"] and options["domainNameServers"] == ["AmazonProvidedDNS"]
        association = graph.inputs(f"{region}/names/dhcp/association")
        assert association == {"vpcId": f"{region}-vpc-id", "dhcpOptionsId": f"{region}-names-dhcp-id"}
    records = {r["name"].removesuffix("/name"): r["inputs"] for r in graph.of("aws:route53/record:Record")}
    expected = _expected_records(graph)
    assert set(records) == set(expected)
    for address, record in records.items():
        hostname, ip = expected[address]
        region = address.split("/")[0]
        assert record == {"zoneId": f"Z-{region}-names-id", "name": f"{hostname}.{region}.lab-aws.grid.internal",
                          "type": "A", "ttl": 60, "records": [ip]}


def test_alicloud_a_privatezone_zone_per_region_bound_to_its_vpc_and_a_record_per_node(
        graphs: dict[str, MockedGraph]) -> None:
    graph = graphs["alicloud"]
    for region in ("east", "west"):
        zone = graph.inputs(f"{region}/names")
        assert zone["zoneName"] == f"{region}.lab-alicloud.grid.internal"
        assert graph.inputs(f"{region}/names/attachment") == {"zoneId": f"{region}-names-id",
                                                             "vpcIds": [f"{region}-vpc-id"]}
        options = graph.inputs(f"{region}/names/dhcp")
        assert options["domainName"] == zone["zoneName"]
        assert options["domainNameServers"] == "100.100.2.136,100.100.2.138"  # the VPC's own resolvers
        assert graph.inputs(f"{region}/names/dhcp/attachment") == {
            "vpcId": f"{region}-vpc-id", "dhcpOptionsSetId": f"{region}-names-dhcp-id"}
    records = {r["name"].removesuffix("/name"): r["inputs"] for r in graph.of("alicloud:pvtz/zoneRecord:ZoneRecord")}
    expected = _expected_records(graph)
    assert set(records) == set(expected)
    for address, record in records.items():
        hostname, ip = expected[address]
        assert record == {"zoneId": f"{address.split('/')[0]}-names-id", "rr": hostname, "type": "A",
                          "value": ip, "ttl": 60}


def test_the_hosts_file_makes_no_zone_no_record_and_no_dhcp_options(graphs: dict[str, MockedGraph]) -> None:
    for key in ("aws-hosts-file", "alicloud-hosts-file"):
        assert not any(r["type"] in ZONE_TYPES for r in graphs[key].resources), key
        assert not any("dns_zone" in f for f in graphs[key].fabrics)
    # everything else is the same program: only the name resources differ
    for target in ("aws", "alicloud"):
        with_zone = {r["name"] for r in graphs[target].resources if r["type"] not in ZONE_TYPES
                     and "DhcpOptions" not in r["type"] and "zoneAttachment" not in r["type"]}
        assert with_zone == {r["name"] for r in graphs[f"{target}-hosts-file"].resources}
