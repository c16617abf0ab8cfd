"""What Alibaba Cloud sells, as far as a spec depends on it: eRDMA interfaces per instance type and the sizes of
NAS/CPFS file systems. One source for the `alicloud` stack program (grid.stacks.alicloud) and its validator
(grid.validate.alicloud), so what validate warns about is what the stack builds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ERI_INTERFACES: dict[str, int] = {
    # Elastic RDMA interfaces (ERIs) an instance takes: one per network card. The bare-metal GPU families on CIPU
    # list their bandwidth as two network cards ("170 (85 x 2)" Gbit/s) and support ERIs — "Overview of instance
    # families", https://www.alibabacloud.com/help/en/ecs/user-guide/overview-of-instance-families (ebmgn8v,
    # ebmgn8is, ebmgn8ia, ebmgn9gc); the API's authority is DescribeInstanceTypes' EriQuantity
    # (https://www.alibabacloud.com/help/en/ecs/user-guide/elastic-rdma-network-interface-card-eri).
    "ecs.ebmgn8v.48xlarge": 2,    # 8 x H20 96 GB, 170 (85 x 2) Gbit/s
    "ecs.ebmgn8is.32xlarge": 2,   # 8 x L20, 160 (80 x 2) Gbit/s
    "ecs.ebmgn8ia.64xlarge": 2,   # 4 x L20, 160 (80 x 2) Gbit/s
    "ecs.ebmgn9gc.64xlarge": 2,   # 8 x Blackwell 72 GB, 360 (180 x 2) Gbit/s
}
"""eRDMA interfaces per instance type; a type not listed is not checked (it may still have ERIs)."""


def eri_interfaces(instance_type: str) -> int | None:
    """Elastic RDMA interfaces `instance_type` takes, one per network card (None: grid's table does not know)."""
    return ERI_INTERFACES.get(instance_type)

FILE_BACKENDS: dict[str, tuple[str, ...]] = {"nfs": ("nas",), "parallel-fs": ("cpfs", "nas")}
"""The backends the alicloud target builds shared storage with, per kind (the first is the default)."""

NAS_TYPES = ("Performance", "Capacity")  # General-purpose NAS: billed by what is stored, no size bought
CPFS_TYPES = {"advance_100": 100, "advance_200": 200}  # CPFS storage types: MB/s per TiB of baseline throughput
CPFS_MIN_GIB, CPFS_STEP_GIB = 3600, 1200  # CPFS is sold from 3.6 TiB in 1.2 TiB steps


@dataclass(frozen=True)
class FileStorage:
    """How one shared storage entry is built on Alibaba Cloud and what is billed for it."""

    backend: str  # nas | cpfs
    storage_type: str  # NAS: Performance | Capacity; CPFS: advance_100 | advance_200
    requested_gib: int
    billed_gib: int | None  # None: billed by what is stored (general-purpose NAS)


def file_storage(kind: str, capacity_tib: float | None, *, backend: str | None = None,
                 deployment_type: str | None = None, throughput_mbps_per_tib: int | None = None) -> FileStorage:
    """The file system a `nfs`/`parallel-fs` entry becomes, its size rounded up to what the service sells.
    Raises ValueError (the message says what to write instead) for what Alibaba Cloud does not sell."""
    offered = FILE_BACKENDS.get(kind)
    if offered is None:
        raise ValueError(f"kind {kind} is not a shared file system")
    chosen = backend or offered[0]
    if chosen not in offered:
        raise ValueError(f"backend {chosen} does not build {kind} storage on Alibaba Cloud: use "
                         + " or ".join(offered))
    requested = max(1, math.ceil(float(capacity_tib or 0) * 1024))
    if chosen == "nas":
        if throughput_mbps_per_tib is not None:
            raise ValueError("general-purpose NAS has no provisioned throughput: remove throughput_mbps_per_tib, "
                             "or use backend: cpfs")
        storage_type = deployment_type or NAS_TYPES[0]
        if storage_type not in NAS_TYPES:
            raise ValueError(f"NAS has no deployment type {storage_type}: use " + " or ".join(NAS_TYPES))
        return FileStorage("nas", storage_type, requested, None)
    by_throughput = {mbps: name for name, mbps in CPFS_TYPES.items()}
    if throughput_mbps_per_tib is not None and throughput_mbps_per_tib not in by_throughput:
        raise ValueError(f"CPFS sells 100 or 200 MB/s per TiB, not {throughput_mbps_per_tib}: set "
                         "throughput_mbps_per_tib to 100 or 200")
    implied = by_throughput.get(throughput_mbps_per_tib or 0)
    storage_type = deployment_type or implied or "advance_100"
    if storage_type not in CPFS_TYPES:
        raise ValueError(f"CPFS has no deployment type {storage_type}: use " + " or ".join(CPFS_TYPES))
    if implied is not None and implied != storage_type:
        raise ValueError(f"deployment_type {storage_type} gives {CPFS_TYPES[storage_type]} MB/s per TiB, not "
                         f"{throughput_mbps_per_tib}: remove one of the two")
    billed = max(CPFS_MIN_GIB, math.ceil(requested / CPFS_STEP_GIB) * CPFS_STEP_GIB)
    return FileStorage("cpfs", storage_type, requested, billed)
