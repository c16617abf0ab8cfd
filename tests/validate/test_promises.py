"""promises.py (and the checks it made stricter elsewhere): what plan and render would refuse is a finding first,
at the spec's own line; each case here crashed `grid plan` with an internal error before."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_validate_promises import plan_and_render

from grid.diagnostics import Severity
from grid.spec import load_spec_text
from grid.spec.inventory import inventory_hosts
from grid.validate import validate
from support.specs import EAST_FABRICS, LOCAL_SPEC_HEAD, findings, where

POOLS = """\
      pools:
        - {name: train, count: 2, fabrics: [mgmt], roles: [compute, kube-node]}
        - {name: infer, count: 1, fabrics: [mgmt], roles: [kube_node]}
"""


def test_roles_that_map_to_one_inventory_group_are_found_at_the_second() -> None:
    (diag,) = findings(LOCAL_SPEC_HEAD + EAST_FABRICS + POOLS, "references.role-group")
    assert diag.severity is Severity.ERROR
    assert diag.summary == "pool role 'kube_node' and role 'kube-node' map to one inventory group 'role_kube_node'"
    assert diag.path == ("spec", "regions", 0, "pools", 1, "roles", 0)
    assert where(diag) == (14, 60)
    assert "spec.regions[0].pools[0].roles[1]" in diag.detail
    assert diag.hint.startswith("spell the role as 'kube-node' everywhere")


def test_one_role_spelled_alike_everywhere_is_fine() -> None:
    text = LOCAL_SPEC_HEAD + EAST_FABRICS + POOLS.replace("kube_node", "kube-node")
    assert findings(text, "references.role-group") == []
    loaded = load_spec_text(text, "t.yaml")
    assert not validate(loaded).has_errors


AWS_HEAD = LOCAL_SPEC_HEAD.replace("target: local", "target: aws")
AWS_POOL = "      pools:\n        - {name: train, count: %d, fabrics: [mgmt], instance_types: {aws: p5.48xlarge}}\n"


@pytest.mark.parametrize(("count", "fits"), [(3, True), (4, False)])
def test_aws_keeps_five_addresses_of_every_subnet(count: int, fits: bool) -> None:
    text = AWS_HEAD + EAST_FABRICS.replace("198.18.0.0/24", "198.18.0.0/29").replace(
        "mtu: 9000", "mtu: 9001") + AWS_POOL % count
    diags = findings(text, "addressing.capacity")
    assert (diags == []) is fits
    if not fits:
        (diag,) = diags
        assert diag.summary == "fabric 'mgmt' needs 9 addresses but 198.18.0.0/29 has 8"
        assert diag.detail == "4 node(s) from pools train (4), plus the 5 addresses AWS keeps in every subnet"


EXISTING_HEAD = LOCAL_SPEC_HEAD.replace("target: local", "target: existing")


def test_existing_pools_with_nodes_need_a_fabric_to_connect_over() -> None:
    hosts = ("  targets:\n    existing:\n      hosts:\n"
             "        - {name: h1, address: 198.18.0.9, region: east, pool: gpu}\n")
    pools = "      pools:\n        - {name: gpu, count: 1}\n        - {name: spare, count: 0}\n"
    (diag,) = findings(EXISTING_HEAD + EAST_FABRICS + pools + hosts, "target.existing-no-fabric")
    assert diag.summary == "pool 'gpu' attaches to no fabric"
    assert diag.path == ("spec", "regions", 0, "pools", 0, "fabrics")
    assert diag.hint == "add 'fabrics: [...]' to the pool, naming mgmt, compute"


def _existing_with_inventory(inventory: str) -> str:
    pools = "      pools:\n        - {name: gpu, count: 1, fabrics: [mgmt]}\n"
    return EXISTING_HEAD + EAST_FABRICS + pools + f"  targets:\n    existing: {{inventory: '{inventory}'}}\n"


def test_an_inventory_that_cannot_be_read_is_a_finding(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yml"
    (diag,) = findings(_existing_with_inventory(str(missing)), "target.existing-inventory")
    assert diag.summary == f"cannot use the existing-hosts inventory {missing}"
    assert "No such file or directory" in diag.detail
    assert diag.path == ("spec", "targets", "existing", "inventory")


@pytest.mark.parametrize(("hosts", "detail"), [
    ("h1: {ansible_host: 198.18.0.9}", "host h1 needs grid_region and grid_pool"),
    ("Bad_Name: {grid_region: east, grid_pool: gpu}", "host Bad_Name: name: String should match pattern"),
    ("h1: {ansible_host: 198.18.0.9, grid_region: east, grid_pool: gpu, ansible_port: ssh}",
     "host h1: ansible_port and grid_index are whole numbers"),
    ("h1: {ansible_host: not-an-ip, grid_region: east, grid_pool: gpu}", "host h1: address:"),
])
def test_inventory_hosts_grid_cannot_use_are_findings(tmp_path: Path, hosts: str, detail: str) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(f"all:\n  children:\n    gpus:\n      hosts:\n        {hosts}\n")
    with pytest.raises(ValueError, match="host"):
        inventory_hosts(inventory)
    (diag,) = findings(_existing_with_inventory(str(inventory)), "target.existing-inventory")
    assert detail in diag.detail


def test_a_good_inventory_validates_plans_and_renders(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  children:\n    gpus:\n      hosts:\n"
                         "        h1: {ansible_host: 198.18.0.9, grid_region: east, grid_pool: gpu}\n")
    loaded = load_spec_text(_existing_with_inventory(str(inventory)), "t.yaml")
    assert not validate(loaded).has_errors
    plan_and_render(loaded, tmp_path)


def test_two_regions_of_one_name_are_a_finding_not_a_crashed_validator() -> None:
    region = EAST_FABRICS + "      pools:\n        - {name: train, count: 1, fabrics: [mgmt]}\n"
    text = LOCAL_SPEC_HEAD + region + region.replace("198.18.0.", "198.18.8.").replace("198.18.1.", "198.18.9.")
    codes = {d.code for d in validate(load_spec_text(text, "t.yaml"))}
    assert "references.duplicate-name" in codes and "internal" not in codes


def test_aws_needs_an_ami_for_an_image_it_cannot_look_up() -> None:
    text = AWS_HEAD.replace("spec:\n", "spec:\n  defaults: {image: ubuntu-22.04}\n") + EAST_FABRICS.replace(
        "mtu: 9000", "mtu: 9001") + AWS_POOL % 2
    (diag,) = findings(text, "target.image")
    assert diag.summary == "the aws target finds no machine image named 'ubuntu-22.04' by itself"
    assert diag.path == ("spec", "defaults", "image")
    assert diag.hint.startswith("set spec.targets.aws.ami to the image to boot")
    with_ami = text.replace("  defaults:", "  targets: {aws: {ami: ami-0123456789abcdef0}}\n  defaults:")
    assert findings(with_ami, "target.image") == []
    assert findings(text.replace("ubuntu-22.04", "debian-12"), "target.image") == []
    assert findings(text.replace("target: aws", "target: openstack"), "target.image") == []


def test_aws_subnets_are_16_to_28() -> None:
    text = AWS_HEAD + EAST_FABRICS.replace("198.18.0.0/24", "198.18.0.0/29").replace(
        "198.18.1.0/24", "198.18.0.0/15").replace("mtu: 9000", "mtu: 9001") + AWS_POOL % 1
    diags = findings(text, "target.subnet-size")
    assert [d.summary for d in diags] == [
        "fabric 'mgmt' has a /29 subnet; AWS subnets are /16 to /28",
        "fabric 'compute' has a /15 subnet; AWS subnets are /16 to /28"]
    assert diags[0].path == ("spec", "regions", 0, "fabrics", 0, "cidr")


def test_an_aws_region_with_storage_needs_a_fabric() -> None:
    text = AWS_HEAD + "    - name: east\n      site: {power_mw: 1}\n      storage:\n" \
        "        - {name: pfs, capacity_tib: 1, mount: /shared}\n"
    (diag,) = findings(text, "target.region-fabric")
    assert diag.summary == "region 'east' has no fabric"
    assert findings(text.replace("target: aws", "target: openstack"), "target.region-fabric") == []


def test_aws_block_storage_shares_fit_one_volume() -> None:
    storage = "      storage:\n        - {name: disk, kind: block, capacity_tib: %s, mount: /disk}\n"
    pool = AWS_POOL.replace("fabrics: [mgmt]", "fabrics: [mgmt], storage: [disk]") % 2
    fabrics = EAST_FABRICS.replace("mtu: 9000", "mtu: 9001")
    assert findings(AWS_HEAD + fabrics + storage % 32 + pool, "target.block-size") == []
    (diag,) = findings(AWS_HEAD + fabrics + storage % 33 + pool, "target.block-size")
    assert diag.summary == "block storage 'disk' gives each of its 2 node(s) 16,896 GiB, over the 16,384 GiB of one " \
        "AWS volume"
    assert diag.hint.startswith("lower capacity_tib to at most 32,")
