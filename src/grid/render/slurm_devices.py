"""The device files of a node's accelerators, as gres.conf's `File=` names them, and the lab's stand-ins for them.

Slurm binds a GPU job to its devices through `File=` (CUDA_VISIBLE_DEVICES and friends follow the index), and its
gres/gpu plugin counts a node's GPUs by those files: a `gpu` line without one registers 0 and drains the node
("gres/gpu count reported lower than configured"). Where the vendor's device names are known they are written;
elsewhere the line has a Count alone, which Slurm accepts for non-gpu GRES names.

The local target's nodes have no accelerators: the slurm role makes character devices with these names there
(`mknod`, no driver behind them; docs/lab-notes.md), so the same gres.conf registers and binds in the lab.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from grid.physics.catalog import Catalog, default_catalog


@dataclass(frozen=True)
class DeviceNaming:
    pattern: str  # str.format with the device's number
    first: int  # the number of device 0
    major: int  # the character major the lab's stand-ins get (the driver's, where it has a fixed one)


DEVICES: Mapping[str, DeviceNaming] = {
    "nvidia": DeviceNaming("/dev/nvidia{}", 0, 195),
    "amd": DeviceNaming("/dev/dri/renderD{}", 128, 226),
    "huawei": DeviceNaming("/dev/davinci{}", 0, 236),  # Ascend's davinci driver: the major is dynamic
}


def device_naming(model: str, catalog: Catalog | None = None) -> DeviceNaming | None:
    entry = (catalog or default_catalog()).get(model)
    vendor = entry.vendor.split()[0].lower() if entry is not None and entry.vendor else ""
    return DEVICES.get(vendor)


def device_files(model: str, count: int, catalog: Catalog | None = None) -> list[str]:
    """The device files of `count` accelerators of `model`; [] when grid does not know the vendor's names."""
    naming = device_naming(model, catalog)
    if naming is None:
        return []
    return [naming.pattern.format(naming.first + i) for i in range(count)]


def file_range(model: str, count: int, catalog: Catalog | None = None) -> str:
    """gres.conf's `File=` value (`/dev/nvidia[0-7]`), '' when unknown."""
    naming = device_naming(model, catalog)
    if naming is None or count <= 0:
        return ""
    prefix, _, suffix = naming.pattern.partition("{}")
    last = naming.first + count - 1
    numbers = str(naming.first) if count == 1 else f"[{naming.first}-{last}]"
    return f"{prefix}{numbers}{suffix}"


def standins(model: str, count: int, catalog: Catalog | None = None) -> list[str]:
    """`path:major:minor` of each character device the lab makes for a node of `model` (grid-daemon standins)."""
    naming = device_naming(model, catalog)
    if naming is None:
        return []
    return [f"{naming.pattern.format(naming.first + i)}:{naming.major}:{naming.first + i}" for i in range(count)]
