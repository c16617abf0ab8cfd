"""target.py: what each target cannot honour is a warning (or info), what would be guessed is an error."""

from __future__ import annotations

from grid.diagnostics import Diagnostic, Severity
from support.specs import findings, where


def head(target: str, targets: str = "") -> str:
    extra = f"  targets: {targets}\n" if targets else ""
    top = "apiVersion: grid/v1\nkind: Cluster\nmetadata: {name: t}\nspec:\n"
    return f"{top}  target: {target}\n{extra}  regions:\n"


EAST = """\
    - name: east
      site: {power_mw: 1}
      fabrics:
        - {name: compute, kind: roce, mtu: 9000, cidr: 10.0.0.0/24}
        - {name: mgmt, cidr: 10.0.1.0/24}
      storage:
        - {name: pfs, capacity_tib: 1, mount: /shared}
      pools:
        - {name: train, count: 2, fabrics: [compute, mgmt], instance_types: {aws: p5.48xlarge, openstack: g1}}
"""


def found(text: str) -> list[Diagnostic]:
    return findings(text, "target.")


def test_aws_mtu_warning_only_for_values_aws_cannot_honour() -> None:
    (diag,) = found(head("aws") + EAST)
    assert diag.severity is Severity.WARNING
    assert diag.summary == "fabric 'compute' asks for MTU 9000, which the aws target ignores"
    assert "AWS fixes the MTU at 9001 within a VPC" in diag.detail
    assert diag.path == ("spec", "regions", 0, "fabrics", 0, "mtu")
    assert where(diag) == (10, 44)
    assert found(head("aws") + EAST.replace("mtu: 9000", "mtu: 9001")) == []
    assert found(head("openstack") + EAST) == []


def test_aws_infiniband_warning() -> None:
    diags = found(head("aws") + EAST.replace("kind: roce, mtu: 9000", "kind: infiniband, mtu: 9001"))
    assert [d.summary for d in diags] == ["fabric 'compute' is infiniband, which AWS does not offer"]
    assert diags[0].severity is Severity.WARNING
    assert diags[0].path == ("spec", "regions", 0, "fabrics", 0, "kind")


def test_cloud_pools_need_an_instance_type() -> None:
    types = ", instance_types: {aws: p5.48xlarge, openstack: g1}"
    text = EAST.replace("mtu: 9000", "mtu: 9001").replace(types, "")
    (diag,) = found(head("aws") + text)
    assert diag.severity is Severity.ERROR
    assert diag.summary == "pool 'train' has no aws instance type"
    assert "never guessed" in diag.detail
    assert diag.hint == "add `instance_types: {aws: p5.48xlarge}` to the pool"
    assert diag.path == ("spec", "regions", 0, "pools", 0, "instance_types")
    assert where(diag) == (15, 11)
    (os_diag,) = found(head("openstack") + text.replace("count: 2", "count: 2, instance_types: {aws: p4d}"))
    assert os_diag.summary == "pool 'train' has no openstack instance type"
    assert found(head("local") + text.replace("10.0.", "198.18.")) == []  # local never asks


def test_resources_are_ignored_on_clouds() -> None:
    resources = "count: 2, resources: {memory_gb: 64},"
    text = EAST.replace("mtu: 9000", "mtu: 9001").replace("count: 2,", resources)
    (diag,) = found(head("aws") + text)
    assert diag.severity is Severity.WARNING
    assert diag.summary == "pool 'train' sets memory_gb, which the aws target ignores"
    assert diag.path == ("spec", "regions", 0, "pools", 0, "resources", "memory_gb")
    both = text.replace("{memory_gb: 64}", "{cpus: 8, memory_gb: 64}")
    assert [d.summary for d in found(head("openstack") + both)] == [
        "pool 'train' sets cpus and memory_gb, which the openstack target ignores"]


def test_local_links_are_info_and_object_storage_a_warning() -> None:
    local = EAST.replace("10.0.", "198.18.").replace("capacity_tib: 1,", "kind: object, capacity_tib: 1,")
    west = local.replace("name: east", "name: west").replace("198.18.", "198.19.")
    links = "  links:\n    - {between: [east, west], bandwidth_gbps: 10}\n"
    diags = found(head("local") + local + west + links)
    plain = "storage 'pfs' is object storage, which the local target only emulates as a plain volume"
    assert [(d.severity, d.summary) for d in diags] == [
        (Severity.INFO, "the local target does not emulate backbone links; they are used for planning only"),
        (Severity.WARNING, plain),
        (Severity.WARNING, plain),
    ]
    assert where(diags[0]) == (26, 5)
    assert diags[1].path == ("spec", "regions", 0, "storage", 0, "kind")
    assert [d.summary for d in found(head("aws") + EAST.replace("mtu: 9000", "mtu: 9001") + links)] == []


def test_existing_needs_hosts_or_inventory() -> None:
    (diag,) = found(head("existing") + EAST)
    assert diag.severity is Severity.ERROR
    assert diag.summary == "the existing target needs hosts or an inventory"
    assert diag.path == ("spec", "targets", "existing")
    assert where(diag) == (5, 3)  # no `targets` key at all: the spec mapping
    assert found(head("existing", "{existing: {inventory: inventories/example/hosts.yml}}") + EAST) == []


def test_existing_hosts_must_name_real_regions_and_pools() -> None:
    hosts = ("{existing: {hosts: ["
             "{name: n1, address: 10.1.0.1, region: east, pool: train}, "
             "{name: n2, address: 10.1.0.2, region: eats, pool: train}, "
             "{name: n3, address: 10.1.0.3, region: east, pool: trian}, "
             "{name: n1, address: 10.1.0.1, region: east, pool: train}]}}")
    diags = found(head("existing", hosts) + EAST)
    assert [d.summary for d in diags] == [
        "host 'n2' names region 'eats', which is not defined",
        "host 'n3' names pool 'trian', which region 'east' does not define",
        "host name 'n1' is used twice",
        "host 'n1' has the same address 10.1.0.1:22 as host 1",
    ]
    assert diags[0].hint == "did you mean 'east'?"
    assert diags[0].path == ("spec", "targets", "existing", "hosts", 1, "region")
    assert diags[1].hint == "did you mean 'train'?"
    assert diags[1].path == ("spec", "targets", "existing", "hosts", 2, "pool")
    assert all(d.severity is Severity.ERROR for d in diags)


def test_existing_host_count_matches_pool_count() -> None:
    hosts = "{existing: {hosts: [{name: n1, address: 10.1.0.1, region: east, pool: train}]}}"
    (diag,) = found(head("existing", hosts) + EAST)
    assert diag.severity is Severity.WARNING
    assert diag.summary == "pool 'train' in region 'east' has count 2 but 1 host(s) are listed for it"
    assert diag.path == ("spec", "regions", 0, "pools", 0, "count")
