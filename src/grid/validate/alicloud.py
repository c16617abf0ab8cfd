"""Validators of NAS and CPFS (the alicloud target's file storage): what they sell (deployment types,
throughput, billed sizes).

The backend choice itself and eRDMA ports are checked for every cloud by grid.validate.cloud_offer from the
target's traits; this module checks the storage settings with the one function the stack builds with
(grid.spec.alicloud_offer.file_storage), so a warning's billed size is what the stack creates.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from grid.diagnostics import Diagnostic, Path, error, warning
from grid.spec.alicloud_offer import CPFS_MIN_GIB, CPFS_STEP_GIB, FILE_BACKENDS, file_storage
from grid.spec.model import Cluster
from grid.spec.targets import traits_of
from grid.validate.base import Validator

REGIONS: Path = ("spec", "regions")


def file_storage_sold(cluster: Cluster) -> Iterator[Diagnostic]:
    """NAS/CPFS settings Alibaba Cloud does not sell are errors (the stack would refuse them); a CPFS size
    rounded up to what is sold is a warning giving the billed size."""
    offers = traits_of(cluster).storage_backends
    for r, region in enumerate(cluster.spec.regions):
        for s, storage in enumerate(region.storage):
            offered = offers.get(storage.kind, ())
            backend = storage.backend or (offered[0] if offered else None)
            if backend not in offered or backend not in FILE_BACKENDS.get(storage.kind, ()):
                continue  # not NAS/CPFS, or a backend grid.validate.cloud_offer already refused
            path: Path = (*REGIONS, r, "storage", s)
            try:
                built = file_storage(storage.kind, storage.capacity_tib, backend=storage.backend,
                                     deployment_type=storage.deployment_type,
                                     throughput_mbps_per_tib=storage.throughput_mbps_per_tib)
            except ValueError as exc:
                key = "throughput_mbps_per_tib" if storage.throughput_mbps_per_tib is not None and (
                    "throughput" in str(exc) or storage.deployment_type is None) else "deployment_type"
                yield error(f"storage '{storage.name}' asks Alibaba Cloud for what it does not sell",
                            (*path, key), code="target.alicloud-storage", detail=str(exc).split(":")[0],
                            hint=str(exc).split(": ", 1)[-1])
                continue
            if storage.capacity_tib is None or built.billed_gib is None or built.billed_gib == built.requested_gib:
                continue
            tib = math.floor(built.billed_gib / 1024 * 100) / 100
            yield warning(f"storage '{storage.name}': capacity_tib {storage.capacity_tib:g} -> CPFS bills "
                          f"{tib:g} TiB ({built.billed_gib} GiB)", (*path, "capacity_tib"),
                          code="storage.billed-size",
                          detail=f"CPFS sells {CPFS_MIN_GIB} GiB, then steps of {CPFS_STEP_GIB} GiB; grid creates "
                                 "the smallest size that holds the capacity",
                          hint=f"set capacity_tib: {tib:g} to ask for what is billed, or backend: nas "
                               "(billed by what is stored)")


VALIDATORS: list[Validator] = [file_storage_sold]
