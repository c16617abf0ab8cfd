"""Cloud targets: host keys of the nodes a stack makes are pinned with consent, per instance."""

from __future__ import annotations

from typing import Any

import pytest

from grid.drivers.pulumi import StackResult
from grid.engines import EngineFailed
from grid.targets.cloud import HostKeyPinningEngine, InstancePin
from grid.targets.existing import fingerprint

KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE6kUNM0Jxq0bB0WmG3nSfFQ1p6Cz5Gm2bbU4tzxEc5h"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ9n3hYp0Qn4uE4h4pQbUu2cU9vYb3x0mJ9y3f6JrXcK"
DATA = {"nodes": [{"address": "east/gpu/node-0000", "hostname": "east-gpu-0000",
                   "fabrics": {"mgmt": "198.18.10.2", "compute": "198.18.11.2"}},
                  {"address": "east/gpu/node-0001", "hostname": "east-gpu-0001",
                   "fabrics": {"mgmt": "198.18.10.3", "compute": "198.18.11.3"}}]}


class Cloud:
    """Stands in for the Pulumi stack engine: instances by address, host_key empty as clouds give it."""

    def __init__(self) -> None:
        self.instances = {"east/gpu/node-0000": "i-0a", "east/gpu/node-0001": "i-0b"}

    def up(self, region: str, data: dict[str, Any], progress: Any = None, *, refresh: bool = True,
           made: Any = None, allowed: Any = None) -> StackResult:
        nodes = {a: {"id": i, "host_key": "", "private_ips": {}} for a, i in self.instances.items()}
        return StackResult(region, {"nodes": nodes, "fabrics": {}}, {"create": 2})

    def preview(self, region: str, data: dict[str, Any], *, refresh: bool) -> Any:
        raise AssertionError("not used")

    def destroy(self, region: str, data: dict[str, Any], progress: Any = None) -> None:
        raise AssertionError("not used")

    def regions(self) -> list[str]:
        return ["east"]


def engine(cloud: Cloud, pins: dict[str, InstancePin], keys: dict[str, str], *, trust: bool,
           scanned: list[str] | None = None, boot_timeout: float = 60.0) -> HostKeyPinningEngine:
    def scan(ip: str, port: int, timeout: float) -> str:
        assert port == 22
        if scanned is not None:
            scanned.append(ip)
        if ip not in keys:
            raise OSError("connection refused")
        return keys[ip]

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    return HostKeyPinningEngine(cloud, pins=lambda: pins, trust_new_hosts=trust, scanner=scan,
                                boot_timeout=boot_timeout, sleep=sleep, clock=lambda: now[0])


def test_new_nodes_are_pinned_only_with_consent_and_their_fingerprints_are_listed() -> None:
    cloud, keys = Cloud(), {"198.18.10.2": KEY_A, "198.18.10.3": KEY_B}
    with pytest.raises(EngineFailed) as refused:
        engine(cloud, {}, keys, trust=False).up("east", DATA)
    message = refused.value.message
    assert "2 new node(s) not trusted yet" in message and "--trust-new-hosts" in message
    assert fingerprint(KEY_A) in message and fingerprint(KEY_B) in message

    result = engine(cloud, {}, keys, trust=True).up("east", DATA)
    assert {a: n["host_key"] for a, n in result.outputs["nodes"].items()} == {
        "east/gpu/node-0000": KEY_A, "east/gpu/node-0001": KEY_B}
    assert result.outputs["nodes"]["east/gpu/node-0000"]["id"] == "i-0a"


def test_a_pinned_instance_keeps_its_key_without_a_scan_and_a_replaced_one_is_new_again() -> None:
    cloud = Cloud()
    pins = {"east/gpu/node-0000": InstancePin("i-0a", KEY_A), "east/gpu/node-0001": InstancePin("i-0b", KEY_B)}
    scanned: list[str] = []
    impostor = {"198.18.10.2": KEY_B, "198.18.10.3": KEY_A}  # whatever answers now is not asked
    result = engine(cloud, pins, impostor, trust=False, scanned=scanned).up("east", DATA)
    assert scanned == []
    assert result.outputs["nodes"]["east/gpu/node-0000"]["host_key"] == KEY_A

    cloud.instances["east/gpu/node-0001"] = "i-0c"  # replaced: a new machine with new keys
    with pytest.raises(EngineFailed, match=r"1 new node\(s\) not trusted yet: east/gpu/node-0001"):
        engine(cloud, pins, {"198.18.10.3": KEY_A}, trust=False, scanned=scanned).up("east", DATA)
    assert scanned == ["198.18.10.3"]


def test_nodes_still_booting_are_retried_and_never_pinned_empty() -> None:
    cloud, keys, scanned = Cloud(), {"198.18.10.2": KEY_A}, []
    with pytest.raises(EngineFailed, match=r"no SSH host key after the boot timeout: east/gpu/node-0001 "
                                           r"\(198.18.10.3\): connection refused"):
        engine(cloud, {}, keys, trust=True, scanned=scanned, boot_timeout=30.0).up("east", DATA)
    assert scanned.count("198.18.10.3") > 1 and scanned.count("198.18.10.2") == 1


def test_the_engines_preview_is_held_against_the_plan_before_anything_runs() -> None:
    """Cloud providers cannot be asked to hold a step: a preview that would replace or delete what the plan
    keeps stops the region before `up` runs; one that keeps to the plan lets it run."""
    from grid.drivers.pulumi import PreviewResult
    from grid.plan.contract import Allowance

    class Previewing(Cloud):
        def __init__(self, steps: dict[str, str]) -> None:
            super().__init__()
            self.steps, self.ran = steps, False

        def preview(self, region: str, data: dict[str, Any], *, refresh: bool) -> Any:
            return PreviewResult(region, {}, self.steps)

        def up(self, region: str, data: dict[str, Any], progress: Any = None, *, refresh: bool = True,
               made: Any = None, allowed: Any = None) -> StackResult:
            self.ran = True
            return super().up(region, data, progress, refresh=refresh, made=made, allowed=allowed)

    kept = Allowance("east", frozenset({"east/gpu/node-0000", "east/gpu/node-0001"}))
    keys = {"198.18.10.2": KEY_A, "198.18.10.3": KEY_B}
    replacing = Previewing({"east/gpu/node-0000": "replace", "east/gpu/node-0001": "same"})
    with pytest.raises(EngineFailed) as stopped:
        engine(replacing, {}, keys, trust=True).up("east", DATA, allowed=kept)
    assert "east/gpu/node-0000: the engine would replace it" in stopped.value.message
    assert not replacing.ran
    updating = Previewing({"east/gpu/node-0000": "update", "east/gpu/node-0001": "same"})
    engine(updating, {}, keys, trust=True).up("east", DATA, allowed=kept)
    assert updating.ran
