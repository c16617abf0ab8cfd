"""What Google Cloud accepts and sells, as pure rules: label syntax, resource names, Filestore sizes and
the RDMA NIC a machine family takes. Read by validation (what to warn about) and by the gcp stack program
(what to build), so both say the same thing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

_LABEL_KEY_BAD = re.compile(r"[^a-z0-9_-]")
_NAME_BAD = re.compile(r"[^a-z0-9-]")


def label_key(key: str) -> str:
    """A GCP label key for a grid label key: lowercase, [a-z][a-z0-9_-]{0,62}; any other character becomes
    `_`, a key not starting with a letter gets `k` before it (`app.kubernetes.io/name` -> `app_kubernetes_io_name`)."""
    text = _LABEL_KEY_BAD.sub("_", key.lower())
    if not text[:1].isalpha():
        text = "k" + text
    return text[:63]


def label_value(value: str) -> str:
    """A GCP label value: lowercase, [a-z0-9_-]{0,63}; any other character becomes `_`."""
    return _LABEL_KEY_BAD.sub("_", value.lower())[:63]


def labels(given: Mapping[str, str]) -> dict[str, str]:
    """`given` as GCP labels (keys sorted; two keys that convert alike: the later one in sort order wins)."""
    return {label_key(k): label_value(str(v)) for k, v in sorted(given.items())}


def resource_name(text: str) -> str:
    """A GCP resource name for `text`: [a-z]([-a-z0-9]{0,61}[a-z0-9])?; a longer one keeps its first 54
    characters and a digest of the whole (deterministic, and distinct for distinct texts)."""
    name = _NAME_BAD.sub("-", text.lower()).strip("-") or "grid"
    if not name[0].isalpha():
        name = "g-" + name
    if len(name) > 63:
        name = name[:54].rstrip("-") + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return name


@dataclass(frozen=True)
class FilestoreBand:
    """Capacities a Filestore tier sells: min_gib to max_gib in steps of step_gib."""

    min_gib: int
    max_gib: int
    step_gib: int


FILESTORE_TIERS: Mapping[str, tuple[FilestoreBand, ...]] = {
    "BASIC_HDD": (FilestoreBand(1024, 65_434, 1),),
    "BASIC_SSD": (FilestoreBand(2560, 65_434, 1),),
    "ZONAL": (FilestoreBand(1024, 9984, 256), FilestoreBand(10_240, 102_400, 2560)),
    "REGIONAL": (FilestoreBand(1024, 9984, 256), FilestoreBand(10_240, 102_400, 2560)),
    "ENTERPRISE": (FilestoreBand(1024, 10_240, 256),),
    "HIGH_SCALE_SSD": (FilestoreBand(10_240, 102_400, 2560),),
}
"""Filestore service tiers and the capacities each sells (Filestore's "Service tiers" page)."""

FILESTORE_DEFAULT_TIER: Mapping[str, str] = {"nfs": "BASIC_SSD", "parallel-fs": "ZONAL"}


def filestore_tier(kind: str, deployment_type: str | None) -> str:
    """The tier a storage entry gets: its deployment_type, else the default of its kind."""
    return deployment_type or FILESTORE_DEFAULT_TIER.get(kind, "BASIC_SSD")


def filestore_billed_gib(tier: str, wanted_gib: int) -> int | None:
    """The capacity Filestore sells for `wanted_gib` in `tier`: rounded UP to the tier's minimum and step.
    None when the tier is unknown or sells nothing that large."""
    for band in FILESTORE_TIERS.get(tier, ()):
        if wanted_gib > band.max_gib:
            continue
        size = max(wanted_gib, band.min_gib)
        steps = -(-(size - band.min_gib) // band.step_gib)
        return band.min_gib + steps * band.step_gib
    return None


RDMA_NIC_FAMILIES: Mapping[str, str] = {"a3-ultragpu": "MRDMA", "a4-highgpu": "MRDMA", "a4x-highgpu": "MRDMA",
                                        "h4d-highmem": "IRDMA", "h4d-standard": "IRDMA"}
"""Machine families whose RDMA NICs sit in one VPC network with an RDMA network profile (RoCE: MRDMA,
Falcon: IRDMA). Other GPU families (a3-megagpu: GPUDirect-TCPXO, a3-highgpu: TCPX) take a gVNIC per rail,
each in its own VPC network."""

RDMA_PROFILES: Mapping[str, str] = {"MRDMA": "vpc-roce", "IRDMA": "vpc-falcon"}


def rdma_nic_type(machine_type: str) -> str | None:
    """The RDMA NIC type of a machine type (`a3-ultragpu-8g` -> MRDMA), None for a family without one."""
    family = "-".join(machine_type.split("-")[:2])
    return RDMA_NIC_FAMILIES.get(family)


GPUDIRECT_NICS: Mapping[str, int] = {"a3-ultragpu-8g": 8, "a4-highgpu-8g": 8, "a4x-highgpu-4g": 4,
                                     "a3-megagpu-8g": 8, "a3-highgpu-8g": 4}
"""GPUDirect NICs per machine type, one per rail: RDMA (MRDMA) on A3 Ultra and A4, GPUDirect-TCPXO/TCPX gVNICs
on A3 Mega and A3 High (Compute Engine's "GPU network bandwidth" tables)."""


def gpudirect_nics(machine_type: str) -> int | None:
    """The rails a machine type can attach (0: no GPUDirect NICs; None: a GPU family grid has no figure for)."""
    if machine_type in GPUDIRECT_NICS:
        return GPUDIRECT_NICS[machine_type]
    return None if machine_type.startswith(("a3-", "a4-", "a4x-")) else 0
