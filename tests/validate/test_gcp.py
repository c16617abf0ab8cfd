"""The gcp target's diagnostics: MTU range, RDMA rails and NICs, label syntax, Filestore tiers and billed sizes,
each at the spec's own line."""

from __future__ import annotations

import typing

from grid.diagnostics import Diagnostic, Severity
from grid.spec.model import Target
from grid.spec.targets import TARGET_TRAITS
from support.specs import findings, where

HEAD = """\
apiVersion: grid/v1
kind: Cluster
metadata: {name: t, labels: {team: ml}}
spec:
  target: gcp
  regions:
    - name: east
      fabrics:
        - {name: gpu, kind: roce, ports_per_node: 8, mtu: 8896, cidr: 10.128.0.0/16}
        - {name: mgmt, cidr: 10.0.1.0/24}
      storage:
        - {name: pfs, kind: parallel-fs, capacity_tib: 10, mount: /shared}
      pools:
        - {name: gpu, count: 2, fabrics: [mgmt, gpu], storage: [pfs], instance_types: {gcp: a3-ultragpu-8g}}
"""


def found(text: str) -> list[Diagnostic]:
    return findings(text, "target.")


def test_the_example_spec_is_clean_and_gcp_is_a_known_target() -> None:
    assert found(HEAD) == []
    assert "gcp" in typing.get_args(Target) and TARGET_TRAITS["gcp"].instance_type_key == "gcp"


def test_mtu_outside_what_gcp_takes_is_a_warning() -> None:
    (diag,) = found(HEAD.replace("mtu: 8896", "mtu: 9000"))
    assert diag.severity is Severity.WARNING and diag.code == "target.gcp-mtu"
    assert diag.summary == "fabric 'gpu' asks for MTU 9000, which the gcp target ignores"
    assert "1300 to 8896" in diag.detail
    assert where(diag) == (9, 59)
    assert found(HEAD.replace("mtu: 8896", "mtu: 1300")) == []


def test_rails_too_small_for_the_nodes() -> None:
    (diag,) = found(HEAD.replace("10.128.0.0/16", "10.128.0.0/24").replace("count: 2", "count: 40"))
    assert diag.severity is Severity.ERROR and diag.code == "target.rail-subnet"
    assert diag.summary == ("fabric 'gpu' is 8 RDMA rails of 10.128.0.0/24: each rail gets a /27, which holds only "
                            "29 node address(es) for its 40 node(s)")
    assert "10.128.0.0/27, 10.128.0.32/27" in diag.detail
    assert diag.hint == "give the fabric a /23 or larger cidr"
    assert where(diag) == (9, 71)


def test_rails_longer_than_gcp_subnets() -> None:
    (diag,) = found(HEAD.replace("10.128.0.0/16", "10.128.0.0/27"))
    assert diag.code == "target.rail-subnet" and diag.severity is Severity.ERROR
    assert "each rail gets a /30, which is longer than the /29 Google Cloud allows" in diag.summary
    assert diag.hint == "give the fabric a /26 or larger cidr"


def test_rdma_nics_mixed_on_one_fabric_and_as_the_connect_fabric() -> None:
    mixed = HEAD + ("        - {name: cpu, count: 1, fabrics: [mgmt, gpu], instance_types: {gcp: n2-standard-8}}\n")
    diag, plain = found(mixed)
    assert plain.code == "target.gcp-rdma" and "n2-standard-8, which has no GPUDirect" in plain.summary
    assert diag.code == "target.gcp-rdma-nics" and diag.severity is Severity.ERROR
    assert diag.summary == "fabric 'gpu' serves machine types with different NICs: cpu (gVNIC), gpu (MRDMA)"
    only_rdma = HEAD.replace("fabrics: [mgmt, gpu], storage: [pfs]", "fabrics: [gpu]")
    (diag,) = found(only_rdma)
    assert diag.summary == "pool 'gpu' would reach its nodes over RDMA fabric 'gpu'"
    assert diag.hint == "attach the pool to an ethernet fabric too, named mgmt or listed first"
    assert where(diag) == (14, 42)


def test_labels_that_gcp_takes_only_converted() -> None:
    text = HEAD.replace("labels: {team: ml}", "labels: {app.kubernetes.io/name: Web.Front}")
    (diag,) = found(text)
    assert diag.severity is Severity.WARNING and diag.code == "target.gcp-label"
    assert diag.summary == ("label 'app.kubernetes.io/name: Web.Front' becomes 'app_kubernetes_io_name: web_front' "
                            "on Google Cloud")
    assert diag.path == ("metadata", "labels", "app.kubernetes.io/name")
    pool = HEAD.replace("instance_types: {gcp: a3-ultragpu-8g}", "instance_types: {gcp: a3-ultragpu-8g}, "
                        "labels: {9lives: x}")
    (diag,) = found(pool)
    assert diag.path == ("spec", "regions", 0, "pools", 0, "labels", "9lives")
    assert "'k9lives: x'" in diag.summary


def test_filestore_sizes_tiers_and_the_billed_size() -> None:
    (diag,) = found(HEAD.replace("capacity_tib: 10,", "capacity_tib: 1.2,"))
    assert diag.severity is Severity.WARNING and diag.code == "target.gcp-filestore-size"
    assert diag.summary == "storage 'pfs' asks for 1229 GiB; Filestore ZONAL sells 1280 GiB for it (billed)"
    assert diag.hint == "set capacity_tib: 1.25 to say what is billed"
    assert where(diag) == (12, 56)
    (nfs,) = found(HEAD.replace("kind: parallel-fs, capacity_tib: 10,", "kind: nfs, capacity_tib: 1,"))
    assert "Filestore BASIC_SSD sells 2560 GiB" in nfs.summary
    (tier,) = found(HEAD.replace("capacity_tib: 10,", "capacity_tib: 10, deployment_type: PERSISTENT_2,"))
    assert tier.severity is Severity.ERROR and tier.code == "target.gcp-filestore-tier"
    assert tier.hint.startswith("use one of BASIC_HDD, BASIC_SSD, ZONAL")
    (big,) = found(HEAD.replace("capacity_tib: 10,", "capacity_tib: 200,"))
    assert big.severity is Severity.ERROR and big.summary == (
        "storage 'pfs' needs 204800 GiB; Filestore ZONAL sells at most 102400 GiB")


def test_other_targets_are_untouched() -> None:
    aws = HEAD.replace("target: gcp", "target: aws").replace("{gcp: a3-ultragpu-8g}", "{aws: p5.48xlarge}")
    assert not [d for d in found(aws) if d.code.startswith(("target.gcp", "target.rail"))]
