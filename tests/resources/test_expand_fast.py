"""expand's shortcuts keep the definitions: IPs parsed as ipaddress does, names built as the helpers build them."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st

from grid.resources import Kind, _ipv4_value, expand, node_address, node_hostname, physical_name
from grid.spec import load_spec_text
from grid.spec.model import Cluster

REPO = Path(__file__).resolve().parents[2]


def reference(ip: object) -> int | None:
    try:
        return int(ipaddress.IPv4Address(ip))  # type: ignore[arg-type]
    except ValueError:
        return None


octet = st.one_of(st.integers(0, 300).map(str), st.sampled_from(["", "00", "01", "0x1", " 1", "1 ", "+1", "٣", "1e2"]))


@given(st.lists(octet, min_size=1, max_size=6).map(".".join))
def test_ipv4_values_are_ipaddress_values(text: str) -> None:
    assert _ipv4_value(text) == reference(text)


def test_ipv4_values_of_other_inputs() -> None:
    for value in ["10.0.0.1\n", "10.0.0.1/32", "::1", 167772161, "255.255.255.255", "0.0.0.0", "256.0.0.1"]:
        assert _ipv4_value(value) == reference(value)


def cluster_with_pools(*names: str) -> Cluster:
    data = yaml.safe_load((REPO / "examples/local-lab/cluster.yaml").read_text())
    east = data["spec"]["regions"][0]
    template = east["pools"][0]
    east["pools"] = [{**template, "name": name, "count": 3} for name in names]
    loaded = load_spec_text(yaml.safe_dump(data), "t.yaml")
    assert loaded.cluster is not None
    return loaded.cluster


def test_names_are_those_of_the_helpers_even_for_awkward_pool_names() -> None:
    cluster = cluster_with_pools("train", "fabric", "storage", "node-x", "n0de")
    for node in expand(cluster).of_kind(Kind.NODE):
        pool, index = node.attrs["pool"], node.attrs["index"]
        assert node.address == node_address(node.region, pool, index)
        assert node.attrs["hostname"] == node_hostname(node.region, pool, index)
        assert node.attrs["container"] == physical_name(cluster.name, node.address)


def test_prior_addresses_are_reserved_in_state_order() -> None:
    cluster = cluster_with_pools("train")
    first, second = "east/train/node-0000", "east/train/node-0001"
    # Both claim the same IP: the one listed first keeps it, the other gets a fresh address.
    prior = {second: {"mgmt": "198.18.1.9"}, first: {"mgmt": "198.18.1.9"}, "west/infer/node-0000": {}}
    nodes = {r.address: r for r in expand(cluster, prior).of_kind(Kind.NODE)}
    assert nodes[second].attrs["fabrics"]["mgmt"] == "198.18.1.9"
    assert nodes[first].attrs["fabrics"]["mgmt"] != "198.18.1.9"
