"""The alicloud target's diagnostics: eRDMA ports per instance type, NAS/CPFS settings and billed sizes, MTU and
fabric kinds, each at the spec's own line."""

from __future__ import annotations

import pytest

from grid.diagnostics import Diagnostic, Severity
from grid.spec.alicloud_offer import file_storage
from grid.spec.model import Target
from grid.spec.targets import TARGET_TRAITS
from support.specs import findings, where

HEAD = """\
apiVersion: grid/v1
kind: Cluster
metadata: {name: t}
spec:
  target: alicloud
  regions:
    - name: east
      fabrics:
        - {name: rdma, kind: roce, ports_per_node: 2, mtu: 8500, cidr: 10.0.0.0/24}
        - {name: mgmt, cidr: 10.0.1.0/24}
      storage:
        - {name: pfs, kind: parallel-fs, capacity_tib: 4.6875, mount: /shared}
      pools:
        - {name: gpu, count: 2, fabrics: [rdma, mgmt], storage: [pfs], instance_types: {alicloud: ecs.ebmgn8v.48xlarge}}
"""


def found(text: str, *prefixes: str) -> list[Diagnostic]:
    return [d for prefix in prefixes or ("target.", "storage.") for d in findings(text, prefix)]


def test_a_gpu_spec_as_rented_is_clean() -> None:
    assert found(HEAD) == []  # 4.6875 TiB = 4800 GiB: a size CPFS sells


def test_erdma_ports_above_the_instance_types_network_cards_are_an_error() -> None:
    (diag,) = found(HEAD.replace("ports_per_node: 2", "ports_per_node: 8"), "target.alicloud-rdma")
    assert diag.severity is Severity.ERROR
    assert diag.summary == ("fabric 'rdma' asks for 8 ports per node, but ecs.ebmgn8v.48xlarge (pool 'gpu') has "
                            "2 network card(s), one eRDMA interface each")
    assert diag.path == ("spec", "regions", 0, "fabrics", 0, "ports_per_node")
    assert where(diag) == (9, 52)
    assert "ports_per_node: 2" in diag.hint


def test_erdma_ports_of_a_type_grid_does_not_know_are_not_checked() -> None:
    (diag,) = found(HEAD.replace("ecs.ebmgn8v.48xlarge", "ecs.gn9x.custom"), "target.alicloud-rdma")
    assert diag.severity is Severity.INFO
    assert "is not checked" in diag.summary


def test_cpfs_size_is_rounded_up_with_the_billed_size() -> None:
    (diag,) = found(HEAD.replace("capacity_tib: 4.6875", "capacity_tib: 1.2"), "storage.billed-size")
    assert diag.severity is Severity.WARNING
    assert diag.summary == "storage 'pfs': capacity_tib 1.2 -> CPFS bills 3.51 TiB (3600 GiB)"
    assert diag.path == ("spec", "regions", 0, "storage", 0, "capacity_tib")
    assert where(diag) == (12, 56)


def test_nas_is_billed_by_use_so_no_size_warning() -> None:
    assert found(HEAD.replace("capacity_tib: 4.6875", "capacity_tib: 1.2, backend: nas")) == []


@pytest.mark.parametrize("setting,key,words", [
    ("deployment_type: advance_300", "deployment_type", "CPFS has no deployment type advance_300"),
    ("throughput_mbps_per_tib: 250", "throughput_mbps_per_tib", "CPFS sells 100 or 200 MB/s per TiB"),
    ("deployment_type: advance_100, throughput_mbps_per_tib: 200", "deployment_type", "gives 100 MB/s per TiB"),
    ("backend: nas, deployment_type: Extreme", "deployment_type", "NAS has no deployment type Extreme"),
    ("backend: nas, throughput_mbps_per_tib: 100", "throughput_mbps_per_tib", "no provisioned throughput"),
])
def test_what_nas_and_cpfs_do_not_sell_is_an_error(setting: str, key: str, words: str) -> None:
    (diag,) = found(HEAD.replace("capacity_tib: 4.6875", f"capacity_tib: 4.6875, {setting}"),
                    "target.alicloud-storage")
    assert diag.severity is Severity.ERROR
    assert diag.path == ("spec", "regions", 0, "storage", 0, key)
    assert words in diag.detail + diag.hint + diag.summary


def test_a_backend_of_another_cloud_is_refused() -> None:
    (diag,) = found(HEAD.replace("capacity_tib: 4.6875", "capacity_tib: 4.6875, backend: fsx-lustre"),
                    "storage.backend")
    assert diag.severity is Severity.ERROR
    assert "use backend: cpfs or nas" in diag.hint


def test_mtu_and_infiniband_caveats_name_what_alibaba_cloud_does() -> None:
    text = HEAD.replace("kind: roce, ports_per_node: 2, mtu: 8500", "kind: infiniband, mtu: 9000")
    diags = {d.code: d for d in found(text, "target.alicloud-")}
    assert diags["target.alicloud-mtu"].summary == "fabric 'rdma' asks for MTU 9000, which the alicloud target ignores"
    assert "8500 with jumbo frames" in diags["target.alicloud-mtu"].detail
    assert "eRDMA" in diags["target.alicloud-infiniband"].detail


def test_vswitch_prefix_limits() -> None:
    (diag,) = found(HEAD.replace("10.0.1.0/24", "10.0.1.0/30"), "target.subnet-size")
    assert diag.summary == "fabric 'mgmt' has a /30 subnet; Alibaba Cloud subnets are /16 to /29"


def test_file_storage_is_one_rule_for_validate_and_the_stack() -> None:
    assert file_storage("parallel-fs", 10).billed_gib == 10_800
    assert file_storage("parallel-fs", 10, throughput_mbps_per_tib=200).storage_type == "advance_200"
    assert file_storage("nfs", 10) == file_storage("nfs", 10, backend="nas")
    assert file_storage("nfs", 10).billed_gib is None


def test_the_target_literal_and_traits_know_alicloud() -> None:
    assert "alicloud" in Target.__args__  # type: ignore[attr-defined]
    assert TARGET_TRAITS["alicloud"].instance_type_key == "alicloud"
