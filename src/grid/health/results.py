"""The values health checks produce: one result per node, per check, per device, and the readings parsers return."""

from __future__ import annotations

import enum
from dataclasses import dataclass

NODE_WIDE = ""
"""The `device` of a result about the node as a whole (disk, clock, accelerator count)."""


class Status(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the tool did not answer or printed what grid cannot read: not evidence of a fault

    @property
    def rank(self) -> int:
        return {"ok": 0, "unknown": 1, "warning": 2, "failed": 3}[self.value]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """`found` says what was seen, `threshold` what it was held against (both as people read them)."""

    node: str
    check: str  # accelerators.count, accelerators.model, temperature, ecc, device.health, link, diag, disk, clock
    device: str  # the tool's device index ("3", or "3:1" for NPU 3 chip 1); NODE_WIDE for the node
    status: Status
    found: str
    threshold: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"node": self.node, "check": self.check, "device": self.device, "status": self.status.value,
                "found": self.found, "threshold": self.threshold}

    def line(self) -> str:
        where = f"{self.node} {self.check}" + (f" device {self.device}" if self.device else "")
        limit = f" (threshold: {self.threshold})" if self.threshold else ""
        return f"{where}: {self.status.value}: {self.found}{limit}"


@dataclass(frozen=True, slots=True)
class DeviceReading:
    """One accelerator as a status tool lists it. `None`/"" where the tool does not say."""

    index: str
    name: str = ""
    bus_id: str = ""
    temperature_c: float | None = None
    ecc_uncorrected: int | None = None
    health: str = ""  # the vendor's own word: OK/Warning/Alarm/Critical (npu-smi), Good (cnmon), Normal (hy-smi)


@dataclass(frozen=True, slots=True)
class LinkReading:
    """A device's fabric port (hccn_tool): up, down, or None when the tool printed something else."""

    index: str
    up: bool | None
    text: str


@dataclass(frozen=True, slots=True)
class DiagReading:
    """One diagnostic test's verdict on one device (dcgmi diag); device "" when the test covers all of them."""

    test: str
    device: str
    status: str  # pass | fail | warn | skip, lower case
    detail: str = ""


class UnreadableOutput(ValueError):
    """A tool printed something its parser does not recognise; the message says what was expected."""


def worst(results: tuple[CheckResult, ...] | list[CheckResult]) -> Status:
    """The most serious status among `results` (ok when there are none)."""
    return max((r.status for r in results), key=lambda s: s.rank, default=Status.OK)
