"""Validation: every validator returns findings; none raises for a user mistake.

A validator is a function `Cluster -> Iterable[Diagnostic]` with config paths;
`validate` attaches source positions and turns a crashing validator into an
ERROR finding, so one bug never hides the other findings.
"""

from __future__ import annotations

from pathlib import Path

from grid.diagnostics import Diagnostics, error
from grid.physics.catalog import Catalog, CatalogError, load_catalog
from grid.render.own import OwnFiles
from grid.spec import LoadedSpec
from grid.validate import (
    addressing,
    alicloud,
    cloud_offer,
    fit,
    gcp,
    images,
    lifecycle,
    moved,
    network,
    physics,
    pool_config,
    promises,
    references,
    safety,
    scheduler,
    storage,
    target,
)
from grid.validate.base import Validator
from grid.validate.policy import policy_packs
from grid.validate.roles import own_files

__all__ = ["Validator", "spec_catalog", "validate", "validators"]


def validators(catalog: Catalog | None = None) -> list[Validator]:
    checks = physics.make_validators(catalog) if catalog is not None else physics.VALIDATORS
    return [*references.VALIDATORS, *storage.VALIDATORS,
            *safety.VALIDATORS, *addressing.VALIDATORS, *network.VALIDATORS, *checks, *target.VALIDATORS,
            *fit.VALIDATORS, *promises.VALIDATORS, *pool_config.VALIDATORS, *gcp.VALIDATORS,
            *cloud_offer.VALIDATORS, *alicloud.VALIDATORS, *images.VALIDATORS,
            *scheduler.VALIDATORS, *lifecycle.VALIDATORS, *moved.VALIDATORS]


def spec_catalog(loaded: LoadedSpec) -> tuple[Catalog | None, Diagnostics]:
    """The catalog a spec names in `spec.catalog` (relative to the spec file), or None for the built-in one."""
    if loaded.cluster is None or loaded.cluster.spec.catalog is None:
        return None, Diagnostics()
    path = Path(loaded.source.file).parent / loaded.cluster.spec.catalog
    try:
        return load_catalog(path), Diagnostics()
    except CatalogError as exc:
        return None, exc.diagnostics


def validate(loaded: LoadedSpec, *, own: tuple[OwnFiles, Diagnostics] | None = None) -> Diagnostics:
    """All findings for a loaded spec: load/schema findings first, then semantic ones. `own`: the user's roles
    and scripts as the caller already read them (`own_files`), so that they are read once per command."""
    found = list(loaded.diagnostics)
    if loaded.cluster is None:
        return Diagnostics.of(found)
    catalog, problems = spec_catalog(loaded)
    found.extend(problems)
    found.extend((own if own is not None else own_files(loaded))[1])  # the user's roles and scripts
    found.extend(images.image_files(loaded)[1])  # the files image recipes copy
    found.extend(policy_packs(loaded))  # the policy packs every plan runs
    for check in validators(catalog):
        try:
            produced = list(check(loaded.cluster))
        except Exception as exc:  # noqa: BLE001 - a crashing validator becomes a finding
            produced = [error(f"validator {check.__name__} failed: {type(exc).__name__}: {exc}",
                              hint="this is a bug in grid; please report it", code="internal")]
        for diag in produced:
            found.append(diag if diag.source else diag.at(loaded.source.locate(diag.path)))
    return Diagnostics.of(found)
