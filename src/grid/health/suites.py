"""The health suites as data: per accelerator family, the commands a runner executes on a node over SSH and the
parser of each; `judge_node` turns their outputs into results.

`quick` takes seconds and is safe on a node running jobs (status queries, DCGM's level-1 deployment checks);
`full` may take minutes and loads the devices (DCGM level 2), so it is for drained nodes only. Every node also
gets the generic probes (disk space, clock offset). A family without a tool here (Intel Gaudi, Kunlunxin, MetaX)
gets the generic probes only, and `judge_node` says so in an `unknown` accelerators result.
"""

from __future__ import annotations

import enum
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from grid.health.ascend import HCCN_LINK, NPU_SMI_INFO, parse_hccn_link, parse_npu_smi_info
from grid.health.judge import clock_offset, judge_clock, judge_devices, judge_diag, judge_disk, judge_links, parse_df
from grid.health.nvidia import NVIDIA_SMI_QUERY, parse_dcgmi_diag, parse_nvidia_smi_query
from grid.health.others import (
    AMD_SMI_METRIC,
    AMD_SMI_STATIC,
    CNMON_INFO,
    HY_SMI,
    parse_amd_smi,
    parse_cnmon_info,
    parse_hy_smi,
)
from grid.health.results import NODE_WIDE, CheckResult, Status, UnreadableOutput
from grid.physics.catalog import Catalog, default_catalog

DISK_PATHS = ("/", "/tmp")
NOT_INSTALLED = 127  # what a POSIX shell exits with when the command is not found


class Suite(enum.StrEnum):
    QUICK = "quick"
    FULL = "full"


class Role(enum.StrEnum):
    """What a probe's output tells: the devices, their names (AMD), fabric links, diagnostics, disk, clock."""

    DEVICES = "devices"
    NAMES = "names"
    LINKS = "links"
    DIAG = "diag"
    DISK = "disk"
    CLOCK = "clock"


@dataclass(frozen=True)
class Probe:
    """One command to run on a node. `per_device` commands hold `{device}` and run once per declared device."""

    name: str
    command: str
    parse: Callable[..., Any]
    role: Role
    timeout_s: int = 30
    per_device: bool = False

    def commands(self, devices: int) -> tuple[tuple[str, str], ...]:
        """(output key, shell command) pairs: the runner stores each command's output under its key."""
        if not self.per_device:
            return ((self.name, self.command),)
        return tuple((f"{self.name}/{i}", self.command.format(device=i)) for i in range(devices))


@dataclass(frozen=True)
class ProbeOutput:
    """What running one command gave; `sent_at`/`received_at` are the controller's clock (epoch seconds)."""

    exit_code: int
    stdout: str
    stderr: str = ""
    sent_at: float = 0.0
    received_at: float = 0.0

    @property
    def round_trip_s(self) -> float:
        return self.received_at - self.sent_at


# Families by the catalog entry's vendor (its first word, lower case).
VENDOR_FAMILIES = {"nvidia": "nvidia", "huawei": "ascend", "cambricon": "cambricon", "hygon": "hygon", "amd": "amd"}

_NVIDIA_SMI = Probe("nvidia-smi", NVIDIA_SMI_QUERY, parse_nvidia_smi_query, Role.DEVICES)
_NPU_SMI = Probe("npu-smi", NPU_SMI_INFO, parse_npu_smi_info, Role.DEVICES)
_HCCN_LINK = Probe("hccn-link", HCCN_LINK, parse_hccn_link, Role.LINKS, per_device=True)
_CNMON = Probe("cnmon", CNMON_INFO, parse_cnmon_info, Role.DEVICES)
_HY_SMI = Probe("hy-smi", HY_SMI, parse_hy_smi, Role.DEVICES)
_AMD_STATIC = Probe("amd-smi-static", AMD_SMI_STATIC, str, Role.NAMES)  # read together with the metric output
_AMD_METRIC = Probe("amd-smi-metric", AMD_SMI_METRIC, parse_amd_smi, Role.DEVICES)

FAMILY_SUITES: Mapping[str, Mapping[Suite, tuple[Probe, ...]]] = {
    "nvidia": {Suite.QUICK: (_NVIDIA_SMI, Probe("dcgmi-diag", "dcgmi diag -r 1 -j", parse_dcgmi_diag, Role.DIAG,
                                                timeout_s=120)),
               Suite.FULL: (_NVIDIA_SMI, Probe("dcgmi-diag", "dcgmi diag -r 2 -j", parse_dcgmi_diag, Role.DIAG,
                                               timeout_s=1200))},
    # No vendor stress test is wired for these yet: their full suite is their quick one (docs/health.md).
    "ascend": {Suite.QUICK: (_NPU_SMI, _HCCN_LINK), Suite.FULL: (_NPU_SMI, _HCCN_LINK)},
    "cambricon": {Suite.QUICK: (_CNMON,), Suite.FULL: (_CNMON,)},
    "hygon": {Suite.QUICK: (_HY_SMI,), Suite.FULL: (_HY_SMI,)},
    "amd": {Suite.QUICK: (_AMD_STATIC, _AMD_METRIC), Suite.FULL: (_AMD_STATIC, _AMD_METRIC)},
}

GENERIC_PROBES = (
    Probe("disk", "df -P -k " + " ".join(shlex.quote(p) for p in DISK_PATHS), parse_df, Role.DISK),
    Probe("clock", "date +%s.%N", clock_offset, Role.CLOCK, timeout_s=10),
)


def family_of(model: str | None, catalog: Catalog | None = None) -> str | None:
    """The tool family of a catalog model (by its vendor), None for CPU-only pools and unknown models."""
    entry = (catalog or default_catalog()).get(model) if model else None
    if entry is None:
        return None
    return VENDOR_FAMILIES.get(entry.vendor.split()[0].lower()) if entry.vendor.split() else None


def probes_for(model: str | None, suite: Suite, catalog: Catalog | None = None) -> tuple[Probe, ...]:
    """Every probe a node with `model` accelerators runs in `suite`: its family's, then the generic ones."""
    family = family_of(model, catalog)
    return (FAMILY_SUITES[family][suite] if family is not None and family in FAMILY_SUITES else ()) + GENERIC_PROBES


def judge_node(node: str, model: str | None, per_node: int, suite: Suite, outputs: Mapping[str, ProbeOutput],
               catalog: Catalog | None = None) -> tuple[CheckResult, ...]:
    """All results for one node from the outputs of `probes_for(model, suite)`, keyed as `Probe.commands` says.
    A probe without output is `unknown`; one whose tool is missing or exits non-zero fails what it checks."""
    results: list[CheckResult] = []
    probes = probes_for(model, suite, catalog)
    if model and per_node and family_of(model, catalog) is None:
        results.append(CheckResult(node, "accelerators.count", NODE_WIDE, Status.UNKNOWN,
                                   f"grid has no status tool for {model}'s vendor", f"{per_node} declared"))
    names = next((outputs.get(p.name) for p in probes if p.role is Role.NAMES), None)
    for probe in probes:
        if probe.role is Role.NAMES:
            continue
        for key, command in probe.commands(per_node):
            output = outputs.get(key)
            device = key.partition("/")[2]
            failed = _unusable(node, probe, command, device, output)
            if failed is not None:
                results.append(failed)
                continue
            assert output is not None
            try:
                results.extend(_judge(node, probe, device, output, model or "", per_node, names))
            except UnreadableOutput as exc:
                results.append(CheckResult(node, _check_of(probe), device, Status.UNKNOWN, str(exc)))
    return tuple(results)


def _judge(node: str, probe: Probe, device: str, output: ProbeOutput, model: str, per_node: int,
           names: ProbeOutput | None) -> list[CheckResult]:
    if probe.role is Role.DEVICES:
        extra = (names.stdout,) if names is not None and names.exit_code == 0 and probe is _AMD_METRIC else ()
        return judge_devices(node, model, per_node, probe.parse(output.stdout, *extra))
    if probe.role is Role.LINKS:
        return judge_links(node, [probe.parse(output.stdout, device)])
    if probe.role is Role.DIAG:
        return judge_diag(node, probe.parse(output.stdout))
    if probe.role is Role.DISK:
        return [judge_disk(node, mount, free, total) for mount, free, total in probe.parse(output.stdout)]
    offset = probe.parse(output.stdout, output.sent_at, output.received_at)
    return [judge_clock(node, offset, uncertainty_s=output.round_trip_s / 2)]


def _unusable(node: str, probe: Probe, command: str, device: str, output: ProbeOutput | None) -> CheckResult | None:
    check = _check_of(probe)
    if output is None:
        return CheckResult(node, check, device, Status.UNKNOWN, f"no output from {command!r} (not run)")
    if output.exit_code == NOT_INSTALLED:
        return CheckResult(node, check, device, Status.FAILED,
                           f"{command.split()[0]} is not installed on the node (or not on PATH)")
    if output.exit_code != 0:
        said = (output.stderr.strip() or output.stdout.strip()).splitlines()
        return CheckResult(node, check, device, Status.FAILED,
                           f"{command!r} exited {output.exit_code}" + (f": {said[0][:200]}" if said else ""))
    return None


def _check_of(probe: Probe) -> str:
    return {Role.DEVICES: "accelerators.count", Role.NAMES: "accelerators.model", Role.LINKS: "link",
            Role.DIAG: "diag", Role.DISK: "disk", Role.CLOCK: "clock"}[probe.role]
