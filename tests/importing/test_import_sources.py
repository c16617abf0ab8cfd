"""Where `grid import` takes hosts from: inventories (YAML, INI), CIDRs to probe (with refusals), specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from grid.importing.sources import (
    SourceError,
    from_inventory,
    from_probe,
    from_spec,
    host_name,
    probe_addresses,
    probe_networks,
)

EXAMPLE = Path(__file__).parents[2] / "inventories" / "example" / "hosts.yml"


def test_grid_shaped_yaml_inventory_gives_addresses_regions_and_pools() -> None:
    found = from_inventory(EXAMPLE)
    assert [(c.name, c.address, c.region, c.pool) for c in found] == [
        ("dc1-gpu-0000", "198.18.100.10", "dc1", "gpu"), ("dc1-gpu-0001", "198.18.100.11", "dc1", "gpu")]


def test_plain_yaml_inventory_with_group_vars(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  vars: {ansible_user: ops}\n  children:\n    gpu:\n      hosts:\n"
                    "        GPU_01.example.org: {ansible_host: 10.0.0.5, ansible_port: 2222}\n"
                    "        10.0.0.6:\n")
    found = from_inventory(path)
    assert [(c.name, c.address, c.port, c.user) for c in found] == [
        ("gpu-01", "10.0.0.5", 2222, "ops"), ("host-10-0-0-6", "10.0.0.6", 22, "ops")]


def test_ini_inventory_with_children_and_vars(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("10.0.0.9\n[gpu]\nnode1 ansible_host=10.0.0.1\nnode2 ansible_host=10.0.0.2 ansible_port=2200\n"
                    "[gpu:vars]\nansible_user=admin\n[all_nodes:children]\ngpu\n")
    found = {c.name: c for c in from_inventory(path)}
    assert set(found) == {"host-10-0-0-9", "node1", "node2"}
    assert (found["node2"].address, found["node2"].port, found["node2"].user) == ("10.0.0.2", 2200, "admin")


@pytest.mark.parametrize(("text", "words"), [
    ("[gpu]\nnode1 ansible_host=gpu.example.org\n", "not an IPv4 address"),
    ("[gpu]\nnode1 ansible_host=10.0.0.1 ansible_port=ssh\n", "not a port number"),
    ("# nothing here\n", "names no hosts"),
])
def test_inventory_refusals_name_the_host_and_the_fix(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text(text)
    with pytest.raises(SourceError, match=words) as refused:
        from_inventory(path)
    assert refused.value.hint


@pytest.mark.parametrize(("cidr", "words"), [
    ("10.0.0.0/16", "at most a /20"), ("10.0.0.7/24", "not an IPv4 network"), ("fe80::/64", "not an IPv4"),
    ("gpu-net", "not an IPv4 network"),
])
def test_probe_refuses_wide_or_malformed_cidrs(cidr: str, words: str) -> None:
    with pytest.raises(SourceError, match=words):
        probe_networks([cidr])


def test_probe_knocks_only_inside_what_was_typed() -> None:
    knocked: list[tuple[str, int]] = []

    def knocker(address: str, port: int, timeout: float) -> bool:
        knocked.append((address, port))
        return address.endswith((".2", ".5"))

    found = from_probe(["10.0.0.0/29", "10.0.1.7/32"], knocker=knocker)
    assert sorted(a for a, _ in knocked) == sorted([f"10.0.0.{i}" for i in range(1, 7)] + ["10.0.1.7"])
    assert {p for _, p in knocked} == {22}
    assert [(c.name, c.address) for c in found] == [("host-10-0-0-2", "10.0.0.2"), ("host-10-0-0-5", "10.0.0.5")]
    assert probe_addresses(probe_networks(["10.0.0.0/20"]))[-1] == "10.0.15.254"


def test_host_names_are_spec_names() -> None:
    assert host_name("Very_Long-Hostname-Of-A-Machine.example") == "very-long-hostname-o"
    assert host_name("9node") == "h-9node"


def test_from_spec_reads_an_existing_targets_hosts(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_text("apiVersion: grid/v1\nkind: Cluster\nmetadata: {name: hub}\nspec:\n  target: existing\n"
                    "  defaults: {ssh: {user: ops}}\n  regions:\n  - name: east\n    pools:\n"
                    "    - {name: train, count: 1}\n  targets:\n    existing:\n      hosts:\n"
                    "      - {name: a, address: 10.0.0.1, region: east, pool: train, port: 2022}\n")
    hosts, cluster, user = from_spec(spec)
    assert (cluster, user) == ("hub", "ops")
    assert [(c.name, c.address, c.port, c.region, c.pool) for c in hosts] == [("a", "10.0.0.1", 2022, "east", "train")]
    spec.write_text(spec.read_text().replace("target: existing", "target: local"))
    with pytest.raises(SourceError, match="not 'existing'"):
        from_spec(spec)
