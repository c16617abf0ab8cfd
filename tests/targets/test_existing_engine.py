"""The existing target without machines: which node each listed host is, its addresses, and the consent
rules of `ExistingHostsEngine` (a fake key scanner stands in for the hosts)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from grid.engines import EngineFailed
from grid.render.pulumi import region_program_input
from grid.resources import Kind, expand
from grid.spec.inventory import inventory_hosts, resolve_inventory
from grid.spec.model import Cluster
from grid.targets.existing import (
    ExistingHostsEngine,
    Pin,
    existing_nodes,
    fingerprint,
)
from support.paths import EXAMPLES

KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE6SayqSdvsExHGhfB919/SQiDV9V7ZIvSW/GibMHahs"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAnjeWpDnCAI444hDnDTnunzd67nl4HgPdCUXJ6+IbYA"


def cluster(hosts: list[dict[str, Any]] | None = None, *, count: int = 3,
            fabrics: tuple[str, ...] = ("compute", "mgmt")) -> Cluster:
    data = yaml.safe_load((EXAMPLES / "targets" / "existing.yaml").read_text())
    data["spec"]["targets"] = {"existing": {"hosts": hosts if hosts is not None else [
        {"name": "gpu-a", "address": "198.18.100.2", "region": "dc1", "pool": "gpu"},
        {"name": "gpu-b", "address": "198.18.100.50", "region": "dc1", "pool": "gpu", "port": 2222}]}}
    data["spec"]["regions"][0]["pools"][0].update(count=count, fabrics=list(fabrics))
    return Cluster.model_validate(data)


def test_hosts_fill_their_pool_in_order_on_the_connect_fabric() -> None:
    nodes = existing_nodes(cluster())
    assert {a: (n.hostname, dict(n.ips)) for a, n in nodes.items()} == {
        "dc1/gpu/node-0000": ("gpu-a", {"mgmt": "198.18.100.2"}),
        "dc1/gpu/node-0001": ("gpu-b", {"mgmt": "198.18.100.50"})}
    first = existing_nodes(cluster(fabrics=("compute",)))
    assert dict(first["dc1/gpu/node-0000"].ips) == {"compute": "198.18.100.2"}  # no mgmt: the first fabric


def test_expand_gives_listed_hosts_their_address_and_name_and_keeps_it_from_others() -> None:
    spec = cluster(count=3)
    graph = expand(spec, fixed_hosts=existing_nodes(spec))
    nodes = {n.address: n.attrs for n in graph.of_kind(Kind.NODE)}
    assert nodes["dc1/gpu/node-0000"]["hostname"] == "gpu-a"
    assert nodes["dc1/gpu/node-0000"]["fabrics"]["mgmt"] == "198.18.100.2"
    assert nodes["dc1/gpu/node-0001"]["fabrics"]["mgmt"] == "198.18.100.50"
    assert nodes["dc1/gpu/node-0002"]["hostname"] == "dc1-gpu-0002"  # not listed (the validator warns)
    assert nodes["dc1/gpu/node-0002"]["fabrics"]["mgmt"] == "198.18.100.3"  # .2 is gpu-a's
    assert list(nodes["dc1/gpu/node-0000"]["fabrics"]) == ["compute", "mgmt"]  # the pool's order, as always
    # state from before the hosts were listed does not move a host off its address
    moved = expand(spec, {"dc1/gpu/node-0000": {"mgmt": "198.18.100.9", "compute": "198.18.101.7"}},
                   fixed_hosts=existing_nodes(spec))
    attrs = next(n.attrs for n in moved.of_kind(Kind.NODE) if n.address == "dc1/gpu/node-0000")
    assert attrs["fabrics"] == {"compute": "198.18.101.7", "mgmt": "198.18.100.2"}


def test_the_example_inventory_lists_two_hosts_with_their_fabric_ips(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # resolved from grid's own inventories/ when not under the working directory
    declared = inventory_hosts(resolve_inventory("inventories/example/hosts.yml"))
    assert [(d.host.name, d.host.address, d.host.region, d.host.pool, d.host.port) for d in declared] == [
        ("dc1-gpu-0000", "198.18.100.10", "dc1", "gpu", 22), ("dc1-gpu-0001", "198.18.100.11", "dc1", "gpu", 22)]
    assert declared[1].ips == {"mgmt": "198.18.100.11", "compute": "198.18.101.11"}
    data = yaml.safe_load((EXAMPLES / "targets" / "existing.yaml").read_text())
    example = Cluster.model_validate(data)
    nodes = {n.address: n.attrs for n in expand(example, fixed_hosts=existing_nodes(example)).of_kind(Kind.NODE)}
    assert nodes["dc1/gpu/node-0001"]["fabrics"] == {"mgmt": "198.18.100.11", "compute": "198.18.101.11"}


def test_fingerprint_is_openssh_s(tmp_path: Path) -> None:
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    listed = subprocess.run(["ssh-keygen", "-lf", str(key) + ".pub"], capture_output=True, text=True, check=True)
    assert fingerprint(Path(str(key) + ".pub").read_text()) == listed.stdout.split()[1]


class Hosts:
    """Fake scanner: the key each (ip, port) presents, or an OSError for an unreachable one."""

    def __init__(self, keys: dict[tuple[str, int], str]) -> None:
        self.keys = keys
        self.scanned: list[tuple[str, int]] = []

    def __call__(self, ip: str, port: int, timeout: float) -> str:
        self.scanned.append((ip, port))
        if (ip, port) not in self.keys:
            raise OSError("Connection refused")
        return self.keys[(ip, port)]


def engine(hosts: Hosts, pins: dict[str, Pin] | None = None, *, trust: bool = False) -> ExistingHostsEngine:
    return ExistingHostsEngine(pins=lambda: dict(pins or {}), ports={"gpu-b": 2222}, trust_new_hosts=trust,
                               scanner=hosts)


def region_data(count: int = 2) -> dict[str, Any]:
    spec = cluster(count=count)
    return region_program_input(spec, expand(spec, fixed_hosts=existing_nodes(spec)), "dc1", authorized_key="")


ONLINE = {("198.18.100.2", 22): KEY_A, ("198.18.100.50", 2222): KEY_B}


def test_unknown_hosts_need_consent_and_are_named_with_their_fingerprints() -> None:
    with pytest.raises(EngineFailed) as refused:
        engine(Hosts(ONLINE)).up("dc1", region_data())
    message = refused.value.message
    assert "2 host(s) not trusted yet" in message and "--trust-new-hosts" in message
    assert f"gpu-a (198.18.100.2:22) ssh-ed25519 {fingerprint(KEY_A)}" in message
    assert f"gpu-b (198.18.100.50:2222) ssh-ed25519 {fingerprint(KEY_B)}" in message

    events: list[tuple[str, str, str]] = []
    result = engine(Hosts(ONLINE), trust=True).up("dc1", region_data(), lambda *e: events.append(e))
    assert result.outputs["nodes"] == {
        "dc1/gpu/node-0000": {"id": "198.18.100.2:22", "host_key": KEY_A, "private_ips": {"connect": "198.18.100.2"}},
        "dc1/gpu/node-0001": {"id": "198.18.100.50:2222", "host_key": KEY_B,
                              "private_ips": {"connect": "198.18.100.50"}}}
    assert sorted(events) == [("dc1/gpu/node-0000", "pin", "done"), ("dc1/gpu/node-0001", "pin", "done")]


def test_pinned_hosts_need_no_consent_but_a_changed_key_is_always_refused() -> None:
    pins = {"dc1/gpu/node-0000": Pin("198.18.100.2", KEY_A), "dc1/gpu/node-0001": Pin("198.18.100.50", KEY_B)}
    assert engine(Hosts(ONLINE), pins).up("dc1", region_data()).changes == {"create": 0, "same": 2}
    swapped = Hosts({("198.18.100.2", 22): KEY_B, ("198.18.100.50", 2222): KEY_B})
    with pytest.raises(EngineFailed) as refused:
        engine(swapped, pins, trust=True).up("dc1", region_data())
    assert "HOST KEY CHANGED" in refused.value.message
    assert f"gpu-a (198.18.100.2:22) pinned {fingerprint(KEY_A)}, now {fingerprint(KEY_B)}" in refused.value.message
    assert "gpu-b" not in refused.value.message
    # the same address at another IP is another machine: it needs consent again, not a key comparison
    moved = {"dc1/gpu/node-0000": Pin("198.18.100.99", KEY_B)}
    with pytest.raises(EngineFailed, match="not trusted yet: gpu-a"):
        engine(Hosts(ONLINE), {**pins, **moved}).up("dc1", region_data())


def test_unreachable_hosts_fail_the_region_by_name() -> None:
    with pytest.raises(EngineFailed) as failed:
        engine(Hosts({("198.18.100.2", 22): KEY_A}), trust=True).up("dc1", region_data())
    assert "unreachable: gpu-b (198.18.100.50:2222): Connection refused" in failed.value.message


def test_preview_and_destroy_never_change_anything() -> None:
    pins = {"dc1/gpu/node-0000": Pin("198.18.100.2", KEY_A)}
    offline = Hosts({})
    assert engine(offline, pins).preview("dc1", region_data(), refresh=False).steps == {
        "dc1/gpu/node-0000": "same", "dc1/gpu/node-0001": "create"}
    assert offline.scanned == []
    changed = Hosts({("198.18.100.2", 22): KEY_B, ("198.18.100.50", 2222): KEY_B})
    assert engine(changed, pins).preview("dc1", region_data(), refresh=True).steps == {
        "dc1/gpu/node-0000": "update", "dc1/gpu/node-0001": "create"}
    forgotten: list[str] = []
    engine(offline, pins).destroy("dc1", region_data(), lambda address, op, status: forgotten.append(address))
    assert forgotten == ["dc1/gpu/node-0000", "dc1/gpu/node-0001"] and offline.scanned == []
    assert engine(offline).regions() == []
