"""Where a reading turns from ok to warning to failed: one table, per catalog model family, with defaults.

The accelerator figures are grid's operating margins, chosen below the points where the vendors' parts start to
throttle or shut down, not the vendors' own limits: a device that runs this hot on a busy node is one to look at.
An uncorrectable (double-bit) ECC error in the current boot is a failure on every family: the data it touched is
lost and the part needs a reset and a page retirement / row remap at least.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from grid.physics.catalog import model_family


@dataclass(frozen=True, slots=True)
class Thresholds:
    temperature_warning_c: float
    temperature_failed_c: float
    ecc_uncorrected_failed: int = 1  # this many uncorrectable errors (volatile, this boot) or more: failed

    def temperature_text(self) -> str:
        return f"warning at {self.temperature_warning_c:g} C, failed at {self.temperature_failed_c:g} C"

    def ecc_text(self) -> str:
        return f"failed at {self.ecc_uncorrected_failed} uncorrectable"


DEFAULT_THRESHOLDS = Thresholds(temperature_warning_c=85, temperature_failed_c=95)

# Keyed by `model_family` of a catalog id: ("h100",) covers h100-sxm, ("ascend", "910") ascend-910b and 910c.
# Which temperature each family's tool reports: nvidia-smi the GPU core, npu-smi the chip, cnmon the chip,
# hy-smi the DCU's sensor, amd-smi the hotspot (junction), which runs hotter than an edge or core sensor.
THRESHOLDS: Mapping[tuple[str, ...], Thresholds] = MappingProxyType({
    ("a100",): Thresholds(85, 92),
    ("h100",): Thresholds(85, 92),
    ("h200",): Thresholds(85, 92),
    ("h20",): Thresholds(85, 92),
    ("b200",): Thresholds(85, 92),
    ("l40",): Thresholds(85, 92),
    ("mi250",): Thresholds(95, 105),
    ("mi300",): Thresholds(95, 105),
    ("ascend", "910"): Thresholds(85, 100),
    ("mlu590",): Thresholds(85, 95),
    ("hygon", "k100"): Thresholds(85, 95),
})

DISK_FREE_WARNING = 0.10  # fraction of the file system still free
DISK_FREE_FAILED = 0.05
CLOCK_OFFSET_WARNING_S = 0.1  # |node clock - reference|: logs and traces stop lining up
CLOCK_OFFSET_FAILED_S = 1.0  # and credentials with short lifetimes (munge, Kerberos) start to be refused


def thresholds_for(model: str | None) -> Thresholds:
    """The table's entry for `model`'s family, else DEFAULT_THRESHOLDS."""
    if not model:
        return DEFAULT_THRESHOLDS
    return THRESHOLDS.get(model_family(model), DEFAULT_THRESHOLDS)
