"""references.py: unique names and references that resolve, with exact paths and positions."""

from __future__ import annotations

from grid.diagnostics import Diagnostic, Severity
from grid.validate import references
from support.specs import EAST_FABRICS, LOCAL_SPEC_HEAD, findings, where

HEAD = LOCAL_SPEC_HEAD
EAST = EAST_FABRICS + """\
      storage:
        - {name: pfs, capacity_tib: 1, mount: /shared}
      pools:
        - {name: train, count: 2, fabrics: [mgmt], storage: [pfs]}
"""
WEST = """\
    - name: west
      site: {power_mw: 1}
      fabrics:
        - {name: wan, cidr: 198.18.2.0/24}
      pools:
        - {name: infer, count: 1, fabrics: [wan]}
"""


def found(text: str, code: str = "references.") -> list[Diagnostic]:
    return findings(text, code)


def test_clean_spec_has_no_reference_findings() -> None:
    text = HEAD + EAST + WEST + "  links:\n    - {between: [east, west], bandwidth_gbps: 10}\n"
    assert found(text) == []


def test_duplicate_region_names() -> None:
    (diag,) = found(HEAD + EAST + EAST.replace("198.18.", "198.19."))
    assert diag.severity is Severity.ERROR
    assert diag.summary == "region name 'east' is used twice"
    assert diag.path == ("spec", "regions", 1, "name")
    assert diag.detail == "first defined at spec.regions[0].name"
    assert where(diag) == (16, 13)


def test_duplicate_fabric_storage_and_pool_names_within_a_region() -> None:
    text = HEAD + EAST.replace("name: compute", "name: mgmt").replace(
        "      pools:\n", "        - {name: pfs, capacity_tib: 1, mount: /other}\n      pools:\n") + \
        "        - {name: train, count: 1, fabrics: [mgmt]}\n"
    summaries = {d.summary: d for d in found(text)}
    fabric = summaries["fabric name 'mgmt' is used twice in region 'east'"]
    assert fabric.path == ("spec", "regions", 0, "fabrics", 1, "name")
    assert where(fabric) == (11, 18)
    storage = summaries["storage name 'pfs' is used twice in region 'east'"]
    assert storage.path == ("spec", "regions", 0, "storage", 1, "name")
    pool = summaries["pool name 'train' is used twice in region 'east'"]
    assert pool.path == ("spec", "regions", 0, "pools", 1, "name")
    assert where(pool) == (17, 18)


def test_same_pool_name_in_two_regions_is_fine() -> None:
    assert found(HEAD + EAST + WEST.replace("name: infer", "name: train")) == []


def test_undefined_fabric_with_did_you_mean() -> None:
    (diag,) = found(HEAD + EAST.replace("fabrics: [mgmt]", "fabrics: [mgmt, compte]"))
    assert diag.summary == "pool 'train' uses fabric 'compte', which region 'east' does not define"
    assert diag.path == ("spec", "regions", 0, "pools", 0, "fabrics", 1)
    assert diag.hint == "did you mean 'compute'?"
    assert where(diag) == (15, 51)


def test_undefined_storage_lists_the_region_names() -> None:
    (diag,) = found(HEAD + EAST.replace("storage: [pfs]", "storage: [scratch]"))
    assert diag.summary == "pool 'train' uses storage 'scratch', which region 'east' does not define"
    assert diag.path == ("spec", "regions", 0, "pools", 0, "storage", 0)
    assert diag.hint == "storage defined in region 'east': pfs"


def test_fabric_of_another_region_is_not_usable() -> None:
    (diag,) = found(HEAD + EAST + WEST.replace("fabrics: [wan]", "fabrics: [wan, compute]"))
    assert diag.path == ("spec", "regions", 1, "pools", 0, "fabrics", 1)
    assert "defined in region 'east'" in diag.hint
    assert "fabrics defined in region 'west': wan" in diag.hint


def test_region_without_storage() -> None:
    (diag,) = found(HEAD + WEST.replace("fabrics: [wan]}", "fabrics: [wan], storage: [pfs]}"))
    assert diag.hint == "region 'west' defines no storage"


def test_fabric_listed_twice() -> None:
    diags = found(HEAD + EAST.replace("fabrics: [mgmt]", "fabrics: [mgmt, compute, mgmt]"))
    assert [d.summary for d in diags] == ["pool 'train' lists fabric 'mgmt' twice"]
    assert diags[0].path == ("spec", "regions", 0, "pools", 0, "fabrics", 2)


def test_storage_listed_twice_and_shared_mount() -> None:
    second = "        - {name: pfs2, capacity_tib: 1, mount: /shared}\n      pools:\n"
    text = HEAD + EAST.replace("      pools:\n", second).replace("storage: [pfs]", "storage: [pfs, pfs2]")
    (diag,) = found(text)
    assert diag.summary == "pool 'train' mounts storage 'pfs2' and 'pfs' at the same path /shared"
    assert diag.path == ("spec", "regions", 0, "pools", 0, "storage", 1)
    (twice,) = found(HEAD + EAST.replace("storage: [pfs]", "storage: [pfs, pfs]"))
    assert twice.summary == "pool 'train' lists storage 'pfs' twice"


def test_pool_without_fabric_is_an_error_except_for_existing() -> None:
    text = HEAD + EAST.replace(", fabrics: [mgmt]", "")
    (diag,) = found(text)
    assert diag.summary == "pool 'train' attaches to no fabric"
    assert diag.detail == "a node needs at least one fabric to be reachable"
    assert diag.path == ("spec", "regions", 0, "pools", 0, "fabrics")
    assert where(diag) == (15, 11)  # no `fabrics` key: the pool itself
    targets = "target: existing\n  targets: {existing: {inventory: hosts.ini}}"
    existing = text.replace("target: local", targets)
    assert found(existing) == []


def test_links() -> None:
    links = ("  links:\n"
             "    - {between: [east, wset], bandwidth_gbps: 10}\n"
             "    - {between: [west, west], bandwidth_gbps: 10}\n"
             "    - {between: [east, west], bandwidth_gbps: 10}\n"
             "    - {between: [west, east], bandwidth_gbps: 10}\n")
    diags = found(HEAD + EAST + WEST + links)
    assert [d.summary for d in diags] == [
        "link 1 names region 'wset', which is not defined",
        "link 2 joins region 'west' to itself",
        "regions 'west' and 'east' are linked twice",
    ]
    assert diags[0].hint == "did you mean 'west'?"
    assert diags[0].path == ("spec", "links", 0, "between", 1)
    assert where(diags[0]) == (23, 24)
    assert diags[1].path == ("spec", "links", 1, "between")
    assert diags[2].detail == "first linked at spec.links[2]"
    assert where(diags[2]) == (26, 17)


def test_users_and_admin() -> None:
    config = ("  configuration:\n    admin_user: root\n    users:\n"
              "      - {name: ops}\n      - {name: root}\n      - {name: ops}\n")
    diags = found(HEAD + EAST + config)
    assert [d.summary for d in diags] == [
        "admin_user must not be 'root'",
        "user name 'ops' is used twice in configuration.users",
        "user 'root' is the admin_user",
    ]
    assert where(diags[0]) == (17, 17)
    assert diags[1].path == ("spec", "configuration", "users", 2, "name")
    assert where(diags[1]) == (21, 16)


def test_user_equal_to_default_admin() -> None:
    (diag,) = found(HEAD + EAST + "  configuration:\n    users: [{name: gridadmin}]\n")
    assert diag.summary == "user 'gridadmin' is the admin_user"


def test_hostname_collision_across_regions() -> None:
    a = EAST.replace("name: east", "name: a-b").replace("name: train", "name: c")
    b = WEST.replace("name: west", "name: a").replace("name: infer", "name: b-c")
    (diag,) = found(HEAD + a + b)
    assert diag.summary.startswith(
        "pool 'b-c' in region 'a' gives the same hostnames as pool 'c' in region 'a-b'")
    assert diag.path == ("spec", "regions", 1, "pools", 0, "name")


def test_validators_are_registered() -> None:
    names = {v.__name__ for v in references.VALIDATORS}
    assert {"region_names_unique", "pool_references_exist", "links_valid", "users_valid"} <= names


def test_pool_names_that_would_share_addresses_with_fabrics_or_storage_are_reserved() -> None:
    (diag,) = found(HEAD + EAST.replace("name: train", "name: fabric"))
    assert diag.summary == "pool name 'fabric' is reserved" and diag.code == "references.reserved-name"
    assert diag.path == ("spec", "regions", 0, "pools", 0, "name")
    assert where(diag) == (15, 18)
    assert "fabric-nodes" in diag.hint
    assert [d.summary for d in found(HEAD + EAST.replace("name: train", "name: storage"))] == [
        "pool name 'storage' is reserved"]
