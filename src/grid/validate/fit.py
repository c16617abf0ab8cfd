"""Validator: every spec field the chosen target cannot honour is a WARNING naming the field and the target.

`FIT` is the table: per field of the spec (its path below the Cluster, a list written `name[]`), which targets
honour it, asked by their traits (grid.spec.targets) so a target added later is placed by what it is, and what
counts as asking for it (a value other than the field's default, unless the row says otherwise).
`HONOURED_EVERYWHERE` lists the parts every target honours (or that only feed planning: power, energy).
tests/validate/test_fit.py walks every field of grid.spec.model and fails on one that neither names, so a new
field cannot slip through unplaced. A row whose field another validator already reports in its own words
(`reported_by`) is only checked there: one warning per field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from grid.diagnostics import Diagnostic, Path, warning
from grid.physics.units import LINK
from grid.spec.model import Cluster, ClusterSpec, Fabric, Link, Pool, Region, RegionTargets, Storage, TargetSettings
from grid.spec.targets import TARGET_TRAITS, TargetTraits, traits_of
from grid.validate.base import Validator

Honours = Callable[[TargetTraits, Any], bool]
"""Whether a target honours the field, given the object the field belongs to (a fabric's kind matters)."""

HONOURED_EVERYWHERE: tuple[str, ...] = (
    "apiVersion", "kind",
    "metadata",  # the cluster's name and labels: descriptive everywhere, tags on every cloud resource
    "spec.target", "spec.defaults", "spec.configuration", "spec.energy", "spec.access", "spec.catalog",
    "spec.regions[].name", "spec.regions[].fabrics", "spec.regions[].storage", "spec.regions[].pools",
    # A site's supply, PUE and carbon feed the power check and the energy figures on every target (on a public
    # cloud a power/quota budget); its racks and cooling are in FIT.
    "spec.regions[].site.power_mw", "spec.regions[].site.pue", "spec.regions[].site.renewable_fraction",
    "spec.regions[].site.grid_carbon_g_per_kwh", "spec.regions[].site.province",
    "spec.links[].between",
    "spec.scheduler",  # Slurm is configured over SSH on every target's nodes (grid.render.slurm)
    "spec.images",  # built on local, an id or a build step on clouds; on existing, grid.validate.images warns
    "spec.policy",  # policy packs check the plan document, whatever the target (docs/policy.md)
)
"""Whole parts of the spec every target honours. A prefix covers what lies below it, except fields FIT names."""


def _public_cloud(traits: TargetTraits, _: Any) -> bool:
    return traits.cloud and not traits.has_facility


def _cloud(traits: TargetTraits, _: Any) -> bool:
    return traits.cloud


def _facility(traits: TargetTraits, _: Any) -> bool:
    return traits.has_facility


def _named(*names: str) -> Honours:
    return lambda traits, _: traits.name in names


def _sizes_nodes(traits: TargetTraits, _: Any) -> bool:
    """The lab makes its nodes as containers of the asked size; clouds size by instance type."""
    return traits.creates_infrastructure and not traits.cloud


def _rails(traits: TargetTraits) -> bool:
    """A node gets one RDMA interface per port of a roce fabric (EFA, eRDMA; GCP's rails)."""
    return traits.rdma is not None or traits.roce_rails


def _storage_service(traits: TargetTraits, _: Any) -> bool:
    """The target builds shared storage with a cloud service the spec chooses (grid.validate.cloud_offer and
    grid.validate.gcp judge each backend's settings)."""
    return bool(traits.storage_backends)


def _throughput(traits: TargetTraits, _: Any) -> bool:
    return bool(traits.storage_backends)  # cloud_offer: which backend has it (FSx for Lustre), which not


def _ports(traits: TargetTraits, fabric: Any) -> bool:
    if not traits.creates_infrastructure:
        return True  # the machines' own NICs: the figure describes them
    return _rails(traits) and isinstance(fabric, Fabric) and fabric.kind == "roce"


def _mtu(traits: TargetTraits, fabric: Any) -> bool:
    return traits.mtu_caveat is None or traits.honours_mtu(fabric.mtu)


def _machines(traits: TargetTraits) -> str:
    """How the target makes a node, for the detail of a warning."""
    if not traits.creates_infrastructure:
        return f"the {traits.name} target uses machines that exist already and makes none"
    if not traits.cloud:
        return f"the {traits.name} target makes every node a container on this machine"
    if traits.has_facility:
        return f"the {traits.name} target makes every node an ordinary {traits.provider} server"
    return f"{traits.provider} places and sizes the machines"


@dataclass(frozen=True)
class Fit:
    field: str
    honours: Honours
    detail: Callable[[TargetTraits], str]
    asked: Callable[[Any], bool] | None = None
    """Whether the value asks for anything (None: it differs from the field's default)."""
    reported_by: str = ""
    """A validator of grid.validate.target that reports this field in its own words."""


def _not_none(value: Any) -> bool:
    return value is not None


def _always(_: Any) -> bool:
    return True


def _read_by(name: str, what: str) -> Callable[[TargetTraits], str]:
    return lambda _: f"only the {name} target reads {what}"


POOL, STORAGE, FABRIC, SITE = ("spec.regions[].pools[]", "spec.regions[].storage[]", "spec.regions[].fabrics[]",
                               "spec.regions[].site")

FIT: tuple[Fit, ...] = (
    Fit(f"{POOL}.provisioning", _public_cloud,
        lambda t: f"{_machines(t)}: nothing is bought as spot capacity or from a reservation"),
    Fit(f"{POOL}.reservation", _public_cloud,
        lambda t: f"{_machines(t)}: no capacity reservation is targeted", asked=_not_none),
    Fit(f"{POOL}.placement", _public_cloud,
        lambda t: t.placement_detail or f"{_machines(t)}: no placement group is made"),
    Fit(f"{POOL}.labels", _cloud, lambda t: f"{_machines(t)}: there is no cloud resource to tag"),
    Fit(f"{POOL}.nodes_per_rack", _facility,
        lambda t: f"{_machines(t)}: there are no racks of yours to fill (placement: cluster packs machines close)"),
    Fit(f"{POOL}.resources.cpus", _sizes_nodes, _machines, reported_by="cloud_resources"),
    Fit(f"{POOL}.resources.memory_gb", _sizes_nodes, _machines, reported_by="cloud_resources"),
    Fit(f"{STORAGE}.backend", _storage_service,
        lambda t: t.storage_detail or f"{_machines(t)}: no cloud file service is made", asked=_not_none),
    Fit(f"{STORAGE}.deployment_type", _storage_service,
        lambda t: f"the {t.name} target has no deployment type or tier to choose for its storage",
        asked=_not_none),
    Fit(f"{STORAGE}.throughput_mbps_per_tib", _throughput,
        lambda t: f"the {t.name} target provisions no throughput per TiB for its storage",
        asked=_not_none),
    Fit(f"{STORAGE}.kind", lambda t, s: t.object_storage_caveat is None or s.kind != "object",
        lambda t: t.object_storage_caveat.detail if t.object_storage_caveat else "", asked=_always,
        reported_by="emulation_limits"),
    Fit(f"{FABRIC}.mtu", _mtu, lambda t: t.mtu_caveat.detail if t.mtu_caveat else "", asked=_always,
        reported_by="fabric_support"),
    Fit(f"{FABRIC}.kind", lambda t, f: t.infiniband_caveat is None or f.kind != "infiniband",
        lambda t: t.infiniband_caveat.detail if t.infiniband_caveat else "", asked=_always,
        reported_by="fabric_support"),
    Fit(f"{FABRIC}.ports_per_node", _ports,
        lambda t: f"the {t.name} target gives a node one interface per fabric"
                  + (" (one per port on a roce fabric only)" if _rails(t) else "")
                  + "; the fabric capacity and link checks still count every port", asked=lambda n: n > 1),
    Fit(f"{SITE}.cooling", _facility,
        lambda t: f"{_machines(t)}: racks and cooling are the cloud's, so air cooling is not checked"),
    Fit(f"{SITE}.rack_kw_max", _facility,
        lambda t: f"{_machines(t)}: racks are the cloud's, so rack density is not checked"),
    Fit("spec.links[].bandwidth_gbps", lambda t, _: t.emulates_links, lambda t: "", asked=_always,
        reported_by="emulation_limits"),
    Fit("spec.links[].latency_ms", lambda t, _: t.emulates_links, lambda t: "", asked=_always,
        reported_by="emulation_limits"),
    # Renames keep the objects where grid's own stack program aliases them (local) or there is none (existing).
    Fit("spec.moved", lambda t, _: not t.cloud,
        lambda t: f"the {t.name} target's stack programs have no aliases: a renamed resource would be replaced",
        reported_by="moved_entries"),
    # Settings of one target, and a hub's place in one cloud, are read by that target alone.
    *(Fit(f"spec.targets.{name}", _named(name), _read_by(name, f"targets.{name}"))
      for name in TargetSettings.model_fields),
    *(Fit(f"spec.regions[].targets.{name}", _named(name), _read_by(name, f"a region's targets.{name}"),
          asked=_not_none) for name in RegionTargets.model_fields),
)

ROWS = {row.field: row for row in FIT}


def covered(field: str) -> bool:
    """Whether the table places `field` (its own row, or a part of the spec it lies in)."""
    return field in ROWS or any(field == part or field.startswith(part + ".") or field.startswith(part + "[]")
                                for part in (*HONOURED_EVERYWHERE, *ROWS))


def honours(traits: TargetTraits, field: str, owner: Any) -> bool:
    return ROWS[field].honours(traits, owner)


def honoured_by(field: str, owner: Any) -> list[str]:
    return [name for name, traits in TARGET_TRAITS.items() if ROWS[field].honours(traits, owner)]


Found = tuple[Path, str, str, BaseModel, Any]
"""(config path, the owner's words, the field as the user wrote it, the model holding it, its value)."""


def instances(cluster: Cluster, field: str) -> Iterator[Found]:
    """Every place `field` takes a value in the spec (nothing under a part left out, like a missing site)."""
    parts = field.split(".")
    frontier: list[tuple[Path, Any, str, int]] = [((), cluster, "the spec", 0)]
    for depth, part in enumerate(parts):
        many, name = part.endswith("[]"), part.removesuffix("[]")
        last = depth == len(parts) - 1
        ahead: list[tuple[Path, Any, str, int]] = []
        for path, obj, owner, since in frontier:
            value = getattr(obj, name)
            if last:
                label = ".".join(parts[since:]).replace("[]", "")
                yield (*path, name), owner, label, obj, value
                continue
            if value is None:
                continue
            items = list(enumerate(value)) if many else [(None, value)]
            for index, item in items:
                at: Path = (*path, name) if index is None else (*path, name, index)
                words = _words(item)
                ahead.append((at, item, words or owner, depth + 1 if words else since))
        frontier = ahead


def _words(item: Any) -> str:
    if isinstance(item, ClusterSpec):
        return "the spec"
    if isinstance(item, (Pool, Storage, Fabric, Region)):
        return f"{type(item).__name__.lower()} '{item.name}'"
    if isinstance(item, Link):
        return f"link {item.between[0]}{LINK}{item.between[1]}"
    return ""


def _asks(row: Fit, model: BaseModel, name: str, value: Any) -> bool:
    if row.asked is not None:
        return row.asked(value)
    return bool(value != type(model).model_fields[name].get_default(call_default_factory=True))


def asked_fields(cluster: Cluster, row: Fit) -> Iterator[Found]:
    for found in instances(cluster, row.field):
        path, _, _, model, value = found
        if _asks(row, model, str(path[-1]), value):
            yield found


def target_fit(cluster: Cluster) -> Iterator[Diagnostic]:
    """A warning per field the target ignores; fields another validator reports are left to it."""
    traits = traits_of(cluster)
    for row in FIT:
        if row.reported_by:
            continue
        for path, owner, label, model, value in asked_fields(cluster, row):
            if row.honours(traits, model):
                continue
            shown = f"{label}: {value}" if isinstance(value, (str, int, float)) else label
            others = ", ".join(honoured_by(row.field, model)) or "none yet"
            yield warning(f"{owner} asks for {shown}, which the {traits.name} target ignores", path,
                          code=f"target.{traits.name}-{label.replace('.', '-').replace('_', '-')}",
                          detail=row.detail(traits),
                          hint=f"remove {label}, or keep it for a target that honours it ({others})")


VALIDATORS: list[Validator] = [target_fit]
