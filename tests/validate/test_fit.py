"""fit.py: every spec field a target cannot honour is a warning naming field and target; the table places
every field of the spec model, so a new field cannot slip through unplaced."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from grid.diagnostics import Severity
from grid.spec.model import Cluster, Fabric, Pool, Storage
from grid.spec.targets import TARGET_TRAITS
from grid.validate import fit
from support.specs import findings, where


def model_fields(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every leaf field path below `model` (lists as `name[]`), through models in lists, dicts and unions."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        inner, many = _models(info.annotation)
        if not inner:
            yield path  # a leaf: what a user sets
        for sub in inner:
            yield from model_fields(sub, f"{path}[]." if many else f"{path}.")


def _models(annotation: Any) -> tuple[list[type[BaseModel]], bool]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation], False
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _models(args[0])
    if origin in (list, tuple):
        found = [m for a in args for m in _models(a)[0]]
        return found, True
    if origin is dict:
        return _models(args[1])[0], False
    if origin in (typing.Union, types.UnionType):
        found = [m for a in args for m in _models(a)[0]]
        many = any(_models(a)[1] for a in args)
        return found, many
    return [], False


ALL_FIELDS = sorted(set(model_fields(Cluster)))


def test_the_walk_sees_the_fields_that_matter() -> None:
    for field in ("spec.regions[].pools[].provisioning", "spec.regions[].site.cooling",
                  "spec.regions[].targets.gcp.zone", "spec.targets.alicloud.image_id",
                  "spec.regions[].storage[].throughput_mbps_per_tib", "spec.links[].latency_ms"):
        assert field in ALL_FIELDS


@pytest.mark.parametrize("field", ALL_FIELDS)
def test_every_field_of_the_spec_is_placed_in_the_fit_table(field: str) -> None:
    assert fit.covered(field), (
        f"{field} is in no row of grid.validate.fit: add it to HONOURED_EVERYWHERE, or a Fit row naming the "
        "targets that honour it")


def test_every_row_names_a_field_that_exists() -> None:
    def exists(part: str) -> bool:
        return any(f == part or f.startswith((part + ".", part + "[]")) for f in ALL_FIELDS)

    assert [part for part in (*fit.ROWS, *fit.HONOURED_EVERYWHERE) if not exists(part)] == []


SAMPLES: dict[str, Any] = {
    "pools[]": Pool(name="gpu", count=1),
    "storage[]": Storage(name="pfs", kind="object"),
    "fabrics[]": Fabric(name="rdma", kind="infiniband", mtu=9000, ports_per_node=8, cidr="10.0.0.0/24"),
}


@pytest.mark.parametrize("target", sorted(TARGET_TRAITS))
def test_every_row_answers_for_every_target(target: str) -> None:
    """Each row says yes or no for each target by its traits, and its detail reads as a sentence."""
    traits = TARGET_TRAITS[target]
    for field, row in fit.ROWS.items():
        owner = next((v for k, v in SAMPLES.items() if k in field), None)
        honoured = row.honours(traits, owner)
        assert isinstance(honoured, bool), field
        if not honoured and not row.reported_by:
            assert row.detail(traits).strip(), (field, target)


@pytest.mark.parametrize("target", sorted(TARGET_TRAITS))
def test_targets_read_their_own_settings_only(target: str) -> None:
    traits = TARGET_TRAITS[target]
    for name in TARGET_TRAITS:
        row = fit.ROWS.get(f"spec.targets.{name}")
        if row is not None:
            assert row.honours(traits, None) is (name == target)


def test_public_clouds_and_facilities() -> None:
    facility = {n for n, t in TARGET_TRAITS.items() if t.has_facility}
    assert {"local", "existing", "openstack"} <= facility
    assert not facility & {"aws", "gcp", "alicloud"}
    for name in ("aws", "gcp", "alicloud"):
        if name in TARGET_TRAITS:
            traits = TARGET_TRAITS[name]
            assert fit.honours(traits, "spec.regions[].pools[].provisioning", None)
            assert not fit.honours(traits, "spec.regions[].pools[].nodes_per_rack", None)
            assert not fit.honours(traits, "spec.regions[].site.cooling", None)
    for name in ("local", "existing", "openstack"):
        assert not fit.honours(TARGET_TRAITS[name], "spec.regions[].pools[].provisioning", None)


# -- the warnings, at the spec's own lines --------------------------------------------------------------

def head(target: str, settings: str = "") -> str:
    return ("apiVersion: grid/v1\nkind: Cluster\nmetadata: {name: t}\nspec:\n"
            f"  target: {target}\n{settings}  regions:\n")


def region(*, site: str = "  site: {power_mw: 1}\n", pool: str = "", fabric: str = "", storage: str = "") -> str:
    return ("    - name: east\n"
            + (f"    {site}" if site else "") +
            "      fabrics:\n"
            f"        - {{name: compute, kind: roce, mtu: 1500, cidr: 198.18.0.0/24{fabric}}}\n"
            "      storage:\n"
            f"        - {{name: pfs, kind: nfs, capacity_tib: 1, mount: /shared{storage}}}\n"
            "      pools:\n"
            "        - {name: gpu, count: 2, fabrics: [compute], storage: [pfs], "
            "instance_types: {aws: p5.48xlarge, openstack: g1, gcp: a3-highgpu-8g, "
            f"alicloud: ecs.gn7i-c8g1.2xlarge}}{pool}}}\n")


def fit_findings(text: str) -> list[Any]:
    codes = tuple(f"target.{name}-" for name in TARGET_TRAITS)
    return [d for d in findings(text, "target.") if d.code.startswith(codes) and d.code.split("-", 1)[1] in {
        "provisioning", "reservation", "placement", "labels", "nodes-per-rack", "backend", "deployment-type",
        "throughput-mbps-per-tib", "ports-per-node", "site-cooling", "site-rack-kw-max", "targets-aws",
        "targets-gcp", "targets-alicloud", "targets-openstack", "targets-local", "targets-existing"}]


def test_spot_on_openstack_is_a_warning_naming_field_and_target() -> None:
    (diag,) = fit_findings(head("openstack") + region(pool=", provisioning: spot"))
    assert diag.severity is Severity.WARNING
    assert diag.summary == "pool 'gpu' asks for provisioning: spot, which the openstack target ignores"
    assert diag.code == "target.openstack-provisioning"
    assert diag.path == ("spec", "regions", 0, "pools", 0, "provisioning")
    assert where(diag) == (14, 187)
    assert "ordinary OpenStack server" in diag.detail
    assert diag.hint.startswith("remove provisioning, or keep it for a target that honours it (")
    assert "aws" in diag.hint and "openstack" not in diag.hint


def test_what_public_clouds_honour_is_not_warned_there() -> None:
    pool = ", provisioning: reservation, reservation: cr-0123, placement: none, labels: {team: llm}"
    assert fit_findings(head("aws") + region(pool=pool, site="")) == []


def test_racks_and_cooling_are_the_clouds_on_public_clouds() -> None:
    text = head("aws") + region(site="  site: {power_mw: 1, cooling: liquid, rack_kw_max: 120}\n",
                                pool=", nodes_per_rack: 2")
    assert [(d.summary, d.code) for d in fit_findings(text)] == [
        ("pool 'gpu' asks for nodes_per_rack: 2, which the aws target ignores", "target.aws-nodes-per-rack"),
        ("region 'east' asks for site.cooling: liquid, which the aws target ignores", "target.aws-site-cooling"),
        ("region 'east' asks for site.rack_kw_max: 120.0, which the aws target ignores",
         "target.aws-site-rack-kw-max"),
    ]
    assert fit_findings(head("openstack") + region(pool=", nodes_per_rack: 2")) == []


def test_the_lab_has_one_interface_per_fabric_and_nothing_to_tag() -> None:
    text = head("local") + region(fabric=", ports_per_node: 8", pool=", labels: {team: llm}, placement: spread")
    diags = fit_findings(text)
    assert [d.summary for d in diags] == [
        "pool 'gpu' asks for placement: spread, which the local target ignores",
        "pool 'gpu' asks for labels, which the local target ignores",
        "fabric 'compute' asks for ports_per_node: 8, which the local target ignores",
    ]
    assert "one interface per fabric" in diags[2].detail and "still count every port" in diags[2].detail
    assert diags[2].path == ("spec", "regions", 0, "fabrics", 0, "ports_per_node")


def test_settings_of_another_target_are_warned() -> None:
    settings = "  targets:\n    aws: {region: eu-central-1}\n"
    text = head("openstack", settings) + region().replace(
        "    - name: east\n", "    - name: east\n      targets: {gcp: {region: europe-west4}}\n")
    diags = fit_findings(text)
    assert [(d.summary, d.path) for d in diags] == [
        ("the spec asks for targets.aws, which the openstack target ignores", ("spec", "targets", "aws")),
        ("region 'east' asks for targets.gcp, which the openstack target ignores",
         ("spec", "regions", 0, "targets", "gcp")),
    ]
    assert diags[0].code == "target.openstack-targets-aws"
    assert "only the aws target reads targets.aws" in diags[0].detail


def test_storage_settings_on_a_target_without_cloud_storage() -> None:
    storage = ", backend: efs, deployment_type: x1, throughput_mbps_per_tib: 250"
    diags = fit_findings(head("openstack") + region(storage=storage))
    assert [d.summary for d in diags] == [
        "storage 'pfs' asks for backend: efs, which the openstack target ignores",
        "storage 'pfs' asks for deployment_type: x1, which the openstack target ignores",
        "storage 'pfs' asks for throughput_mbps_per_tib: 250, which the openstack target ignores",
    ]
    assert "Manila where the cloud has it" in diags[0].detail


def test_a_plain_spec_asks_nothing_of_any_target() -> None:
    for target in sorted(TARGET_TRAITS):
        if target == "existing":
            continue  # needs hosts; its own tests
        assert fit_findings(head(target) + region(site="" if target in ("aws", "gcp", "alicloud") else
                                                  "  site: {power_mw: 1}\n")) == [], target


def test_resources_are_folded_into_the_table_and_reported_once() -> None:
    text = head("aws") + region(pool=", resources: {cpus: 4}")
    diags = findings(text, "target.")
    assert [d.summary for d in diags if "cpus" in d.summary] == [
        "pool 'gpu' sets cpus, which the aws target ignores"]
    assert fit.ROWS["spec.regions[].pools[].resources.cpus"].reported_by == "cloud_resources"


def test_machines_that_exist_are_not_sized_either() -> None:
    settings = "  targets:\n    existing: {inventory: inventories/example/hosts.yml}\n"
    text = head("existing", settings) + region(pool=", resources: {memory_gb: 64}")
    (diag,) = [d for d in findings(text, "target.resources") if "memory_gb" in d.summary]
    assert diag.summary == "pool 'gpu' sets memory_gb, which the existing target ignores"
    assert diag.detail == "the machines exist already: grid sizes none of them"
