"""cloud_offer.py: what a pool or storage asks a cloud to sell — reservations, EFA ports, storage services, sizes."""

from __future__ import annotations

from grid.diagnostics import Diagnostic, Severity
from grid.spec.aws_offer import fsx_billed_gib
from support.specs import findings, where

HEAD = """\
apiVersion: grid/v1
kind: Cluster
metadata: {name: t}
spec:
  target: aws
  regions:
    - name: east
      fabrics:
        - {name: mgmt, mtu: 9001, cidr: 10.0.1.0/24}
        - {name: efa, kind: roce, mtu: 9001, ports_per_node: PORTS, cidr: 10.0.2.0/24}
      storage:
        - {name: pfs, kind: parallel-fs, capacity_tib: CAPACITY, mount: /shared STORAGE}
      pools:
        - name: train
          count: 2
          fabrics: [mgmt, efa]
          storage: [pfs]
          instance_types: {aws: TYPE}
POOL"""


def spec(*, ports: int = 32, capacity: str = "4.6875", storage: str = "", machine: str = "p5.48xlarge",
         pool: str = "", target: str = "aws") -> str:
    text = HEAD.replace("PORTS", str(ports)).replace("CAPACITY", capacity).replace(" STORAGE", storage)
    text = text.replace("TYPE", machine).replace("POOL", pool).replace("target: aws", f"target: {target}")
    return text.replace("instance_types: {aws:", "instance_types: {openstack: g1, aws:")


def found(text: str, prefix: str) -> list[Diagnostic]:
    return findings(text, prefix)


# -- capacity: provisioning, reservation, placement ---------------------------------------------------------

def test_a_reservation_needs_its_id() -> None:
    (diag,) = found(spec(pool="          provisioning: reservation\n"), "capacity.")
    assert diag.severity is Severity.ERROR and diag.code == "capacity.reservation-id"
    assert diag.summary == "pool 'train' has provisioning: reservation but names no reservation"
    assert "add `reservation: <id>`" in diag.hint
    assert where(diag) == (19, 25)


def test_an_id_needs_provisioning_reservation() -> None:
    (diag,) = found(spec(pool="          reservation: cr-0123456789abcdef0\n"), "capacity.")
    assert diag.severity is Severity.ERROR and diag.code == "capacity.reservation-unused"
    assert diag.summary == ("pool 'train' names reservation 'cr-0123456789abcdef0' but has provisioning: "
                            "on-demand")
    assert "set `provisioning: reservation`" in diag.hint
    assert where(diag) == (19, 24)


def test_a_targeted_reservation_keeping_a_cluster_placement_group_is_a_warning_on_aws() -> None:
    reserved = "          provisioning: reservation\n          reservation: cr-0123456789abcdef0\n"
    (diag,) = found(spec(pool=reserved), "capacity.")
    assert diag.severity is Severity.WARNING and diag.code == "capacity.reservation-placement"
    assert "ParallelCluster" in diag.detail and diag.hint == "set placement: none on the pool"
    assert found(spec(pool=reserved + "          placement: none\n"), "capacity.") == []
    assert found(spec(pool=reserved + "          placement: spread\n"), "capacity.") == []
    assert found(spec(pool=reserved, target="openstack"), "capacity.") == []  # no such caveat there


# -- EFA: roce fabrics and network cards -------------------------------------------------------------------

def test_ports_per_node_up_to_the_instance_types_network_cards() -> None:
    assert found(spec(ports=32), "target.aws-rdma") == []
    (diag,) = found(spec(ports=8, machine="p4d.24xlarge"), "target.aws-rdma")
    assert diag.severity is Severity.ERROR and diag.code == "target.aws-rdma-ports"
    assert diag.summary == ("fabric 'efa' asks for 8 ports per node, but p4d.24xlarge (pool 'train') has 4 network "
                            "card(s), one EFA interface each")
    assert diag.hint.startswith("set ports_per_node: 4 or less")
    assert where(diag) == (10, 62)


def test_roce_on_an_instance_type_without_efa_is_a_warning() -> None:
    (diag,) = found(spec(ports=1, machine="t3.large"), "target.aws-rdma")
    assert diag.severity is Severity.WARNING and diag.code == "target.aws-rdma"
    assert diag.summary == ("pool 'train' runs t3.large, which has no EFA: fabric 'efa' (roce) becomes plain "
                            "network interfaces, without RDMA")
    assert where(diag) == (18, 48)


def test_an_instance_type_grid_does_not_know_is_not_checked() -> None:
    (diag,) = found(spec(ports=64, machine="p9.96xlarge"), "target.aws-rdma")
    assert diag.severity is Severity.INFO and diag.code == "target.aws-rdma-unknown"
    assert "ports_per_node 64 of fabric 'efa' is not checked" in diag.summary


def test_rdma_ports_are_not_checked_on_targets_without_the_table() -> None:
    assert found(spec(ports=64, machine="t3.large", target="openstack"), "target.openstack-rdma") == []


# -- storage: backend, deployment type, throughput, billed size -------------------------------------------

def test_a_backend_aws_does_not_build_is_an_error_naming_what_it_offers() -> None:
    (diag,) = found(spec(storage=", backend: filestore"), "storage.backend")
    assert diag.severity is Severity.ERROR
    assert diag.summary == ("storage 'pfs' asks for backend filestore, which the aws target does not build "
                            "parallel-fs storage with")
    assert diag.hint == "use backend: fsx-lustre or efs (the default: fsx-lustre), or remove the key"
    assert where(diag) == (12, 89)


def test_fsx_deployment_type_and_throughput_must_be_sold() -> None:
    (kind,) = found(spec(storage=", deployment_type: PERSISTENT_9"), "storage.deployment-type")
    assert kind.severity is Severity.ERROR and "PERSISTENT_2" in kind.hint
    (speed,) = found(spec(storage=", throughput_mbps_per_tib: 300"), "storage.throughput")
    assert speed.summary == "storage 'pfs' asks for 300 MB/s per TiB, which FSx PERSISTENT_2 does not sell"
    assert speed.hint == "use one of 125, 250, 500, 1000"
    (scratch,) = found(spec(storage=", deployment_type: SCRATCH_2, throughput_mbps_per_tib: 250"),
                       "storage.throughput")
    assert "fixed throughput" in scratch.hint
    assert found(spec(storage=", deployment_type: PERSISTENT_1, throughput_mbps_per_tib: 200"), "storage.") == []


def test_settings_efs_does_not_have_are_a_warning() -> None:
    (diag,) = found(spec(storage=", backend: efs, throughput_mbps_per_tib: 250"), "storage.backend-setting")
    assert diag.severity is Severity.WARNING
    assert diag.summary == "storage 'pfs' sets throughput_mbps_per_tib, which backend efs ignores"


def test_the_billed_fsx_size_is_a_warning_from_the_same_rounding_the_stack_uses() -> None:
    (diag,) = found(spec(capacity="1.2"), "storage.billed-size")
    assert diag.severity is Severity.WARNING
    assert diag.summary == "storage 'pfs': capacity_tib 1.2 -> FSx bills 2.34 TiB (2400 GiB)"
    assert diag.hint == "set capacity_tib: 2.34 to ask for what is billed"
    assert where(diag) == (12, 56)
    assert found(spec(capacity="2.34"), "storage.billed-size") == []  # the hint's size is billed as is
    assert found(spec(capacity="4.6875"), "storage.billed-size") == []
    assert found(spec(capacity="1.2", storage=", backend: efs"), "storage.billed-size") == []
    assert [fsx_billed_gib(t) for t in (0.5, 1.2, 2.3, 4.6875, 64)] == [1200, 2400, 2400, 4800, 67200]
    assert fsx_billed_gib(4, "SCRATCH_1") == 7200  # 1200, 2400, then steps of 3600


def test_no_backend_checks_where_the_target_offers_no_choice() -> None:
    assert found(spec(capacity="1.2", target="openstack"), "storage.billed-size") == []
