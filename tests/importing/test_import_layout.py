"""Pools, fabrics and storage from hosts found, and the spec written for them: it loads, validates, and its
state makes the next plan empty."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_facts import HOST_KEY, found

from grid import operations
from grid.importing.layout import FoundHost, layout, memory_class
from grid.importing.model import Imported
from grid.importing.state import imported_state, pins_of
from grid.importing.writer import SpecInput, spec_text
from grid.operations.importing import record_import
from grid.physics.catalog import default_catalog
from grid.spec import load_spec_text
from grid.validate import validate
from grid.workspace import Rejected, open_workspace


def test_alike_hosts_share_a_pool_and_others_get_their_own() -> None:
    hosts = [found("gpu-a", "10.0.0.10"), found("gpu-b", "10.0.0.11", memory_gb=1006.1),
             found("npu-a", "10.0.0.12", accel=("ascend-910b", 8)), found("cpu-a", "10.0.0.13", accel=None)]
    (region,) = layout(hosts)
    pools = {p.name: [h.candidate.name for h in p.hosts] for p in region.pools}
    assert pools == {"h100-sxm-x8": ["gpu-a", "gpu-b"], "ascend-910b-x8": ["npu-a"], "cpu": ["cpu-a"]}
    assert [f.name for f in region.fabrics] == ["mgmt"] and region.fabrics[0].cidr == "10.0.0.0/24"
    assert [(s.name, s.kind, s.mount) for s in region.storage] == [("shared", "nfs", "/shared")]


def test_pool_patterns_name_pools_and_unlike_or_unmatched_hosts_go_elsewhere() -> None:
    hosts = [found("gpu-a", "10.0.0.10"), found("gpu-b", "10.0.0.11", cpus=32), found("odd", "10.0.0.12")]
    (region,) = layout(hosts, [("gpu-*", "train")])
    pools = {p.name: ([h.candidate.name for h in p.hosts], p.named_by) for p in region.pools}
    assert pools == {"train": (["gpu-a"], "gpu-*"), "train-2": (["gpu-b"], "gpu-*"),
                     "h100-sxm-x8": (["odd"], "")}


def test_memory_within_a_step_is_one_class() -> None:
    assert memory_class(1007.5) == memory_class(1006.1) != memory_class(512)


def test_second_subnet_is_a_data_fabric_with_the_hosts_ips() -> None:
    hosts = [found("gpu-a", "10.0.0.10", data_ip="10.1.0.10"), found("gpu-b", "10.0.0.11", data_ip="10.1.0.11")]
    (region,) = layout(hosts)
    assert [(f.name, f.kind, f.mtu, f.speed_gbps) for f in region.fabrics] == [
        ("mgmt", "ethernet", 1500, 25.0), ("data", "infiniband", 4092, 200.0)]
    assert region.pools[0].fabrics == ("mgmt", "data")
    assert region.host_fabrics["gpu-b"] == {"data": "10.1.0.11"}


def _spec(hosts: list[FoundHost], problems: tuple[str, ...] = ()) -> str:
    return spec_text(SpecInput("ix-unit", "root", layout(hosts), "a test", "now", problems), default_catalog())


def test_spec_round_trips_through_the_loader_and_validates_with_comments() -> None:
    hosts = [found("gpu-a", "10.0.0.10", data_ip="10.1.0.10"), found("gpu-b", "10.0.0.11", data_ip="10.1.0.11"),
             found("npu-a", "10.0.0.12", accel=("ascend-910b", 8), nfs=False)]
    text = _spec(hosts, ("10.0.0.99 (10.0.0.99:22): unreachable: timed out",))
    loaded = load_spec_text(text, "imported.yaml")
    assert loaded.cluster is not None, list(loaded.diagnostics)
    findings = validate(loaded)
    assert not findings.has_errors, [d.summary for d in findings]
    spec = loaded.cluster.spec
    assert spec.target == "existing" and spec.configuration.manage is False
    assert [(h.name, h.pool, h.fabrics) for h in spec.targets.existing.hosts] == [
        ("gpu-a", "h100-sxm-x8", {"data": "10.1.0.10"}), ("gpu-b", "h100-sxm-x8", {"data": "10.1.0.11"}),
        ("npu-a", "ascend-910b-x8", {})]
    assert "GUESSED: grid cannot see the facility" in text and "# FOUND: 10.0.0.0/24 on eth0" in text
    assert "NOT IMPORTED" in text and "10.0.0.99" in text


def test_state_pins_every_host_key_at_its_address() -> None:
    loaded = load_spec_text(_spec([found("gpu-a", "10.0.0.10")]))
    assert loaded.cluster is not None
    state = imported_state(loaded.cluster, {"gpu-a": found("gpu-a", "10.0.0.10")}, "ssh-ed25519 AAAA admin")
    node = state.resources["site/h100-sxm-x8/node-0000"]
    assert node.outputs["host_key"] == HOST_KEY and node.attrs["fabrics"] == {"mgmt": "10.0.0.10"}
    assert not state.hosts and pins_of(state) == {("10.0.0.10", 22): HOST_KEY}


def test_imported_spec_and_state_plan_no_change(tmp_path: Path) -> None:
    hosts = [found("gpu-a", "10.0.0.10", data_ip="10.1.0.10"), found("cpu-a", "10.0.0.11", accel=None)]
    text = _spec(hosts)
    loaded = load_spec_text(text)
    assert loaded.cluster is not None
    state = imported_state(loaded.cluster, {h.candidate.name: h for h in hosts}, "ssh-ed25519 AAAA admin")
    spec = tmp_path / "imported.yaml"
    recorded = record_import(spec, Imported(text, state), workdir=None, store_location=None, merge=False)
    assert recorded.serial == 1 and spec.read_text() == text
    ws = open_workspace(spec)
    assert not isinstance(ws, Rejected)
    planned = operations.plan(ws)
    assert not planned.plan.has_changes, [(c.address, c.action) for c in planned.plan.pending]


@pytest.mark.parametrize("kind", ["spec", "state"])
def test_an_import_never_overwrites_without_merge(tmp_path: Path, kind: str) -> None:
    text = _spec([found("gpu-a", "10.0.0.10")])
    loaded = load_spec_text(text)
    assert loaded.cluster is not None
    imported = Imported(text, imported_state(loaded.cluster, {"gpu-a": found("gpu-a", "10.0.0.10")}, ""))
    spec = tmp_path / "imported.yaml"
    if kind == "spec":
        spec.write_text("# mine\n")
    else:
        record_import(tmp_path / "first.yaml", imported, workdir=tmp_path / "wd", store_location=None, merge=False)
    before = (tmp_path / "wd" / "state.json").read_bytes() if kind == "state" else b""
    with pytest.raises(Exception, match="never overwrites") as refused:
        record_import(spec, imported, workdir=tmp_path / "wd", store_location=None, merge=False)
    assert "--merge" in getattr(refused.value, "hint", "")
    if kind == "spec":
        assert spec.read_text() == "# mine\n" and not (tmp_path / "wd" / "state.json").exists()
    else:
        assert not spec.exists() and (tmp_path / "wd" / "state.json").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
