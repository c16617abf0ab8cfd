"""Pure judgements: readings (and what the spec declares) in, `CheckResult`s out."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from grid.health.results import (
    NODE_WIDE,
    CheckResult,
    DeviceReading,
    DiagReading,
    LinkReading,
    Status,
    UnreadableOutput,
)
from grid.health.thresholds import (
    CLOCK_OFFSET_FAILED_S,
    CLOCK_OFFSET_WARNING_S,
    DISK_FREE_FAILED,
    DISK_FREE_WARNING,
    thresholds_for,
)
from grid.physics.catalog import model_family

# The vendors' health words (npu-smi: OK/Warning/Alarm/Critical; cnmon: Good/Bad), lower case.
HEALTH_WORDS = {"ok": Status.OK, "good": Status.OK, "normal": Status.OK, "warning": Status.WARNING,
                "minor": Status.WARNING, "alarm": Status.FAILED, "major": Status.FAILED,
                "critical": Status.FAILED, "bad": Status.FAILED, "error": Status.FAILED}


def judge_devices(node: str, model: str, declared: int, devices: Sequence[DeviceReading]) -> list[CheckResult]:
    """Count and model against the spec, then temperature, ECC and the vendor's health word per device."""
    results = [_count(node, declared, devices)]
    limits = thresholds_for(model)
    for device in devices:
        if device.name:
            matches = names_model(device.name, model)
            results.append(CheckResult(node, "accelerators.model", device.index,
                                       Status.OK if matches else Status.FAILED,
                                       f"{device.name!r}" + ("" if matches else f", but the pool declares {model}"),
                                       f"a {model} ({'/'.join(model_family(model))})"))
        if device.temperature_c is not None:
            t = device.temperature_c
            status = (Status.FAILED if t >= limits.temperature_failed_c else
                      Status.WARNING if t >= limits.temperature_warning_c else Status.OK)
            results.append(CheckResult(node, "temperature", device.index, status, f"{t:g} C",
                                       limits.temperature_text()))
        if device.ecc_uncorrected is not None:
            count = device.ecc_uncorrected
            results.append(CheckResult(node, "ecc", device.index,
                                       Status.FAILED if count >= limits.ecc_uncorrected_failed else Status.OK,
                                       f"{count} uncorrectable ECC error{'s' if count != 1 else ''} this boot",
                                       limits.ecc_text()))
        if device.health:
            status = HEALTH_WORDS.get(device.health.lower(), Status.UNKNOWN)
            results.append(CheckResult(node, "device.health", device.index, status,
                                       f"the tool says {device.health!r}", "OK"))
    return results


def names_model(name: str, model: str) -> bool:
    """Whether a tool's device name (`NVIDIA H100 80GB HBM3`, `910B3`, `MLU590-X8`) is of `model`'s family:
    its numbered family word stands alone in the name (`h20` does not match `H200`)."""
    family = model_family(model)
    if not family:
        return False
    word = re.escape(family[-1])
    return re.search(rf"(?<![a-z0-9]){word}(?!\d)", name.lower()) is not None


def judge_links(node: str, links: Iterable[LinkReading]) -> list[CheckResult]:
    return [CheckResult(node, "link", link.index,
                        Status.OK if link.up else Status.FAILED if link.up is False else Status.UNKNOWN,
                        f"link {link.text}", "UP") for link in links]


def judge_diag(node: str, readings: Iterable[DiagReading]) -> list[CheckResult]:
    """One result per device: its worst test, naming the tests that did not pass."""
    by_device: dict[str, list[DiagReading]] = {}
    for reading in readings:
        by_device.setdefault(reading.device, []).append(reading)
    results = []
    for device, tests in sorted(by_device.items()):
        failed = [t for t in tests if t.status == "fail"]
        warned = [t for t in tests if t.status == "warn"]
        status = Status.FAILED if failed else Status.WARNING if warned else Status.OK
        named = failed or warned
        found = (f"{len(tests)} tests passed or skipped" if not named else
                 "; ".join(f"{t.test}: {t.status}" + (f" ({t.detail})" if t.detail else "") for t in named))
        results.append(CheckResult(node, "diag", device or NODE_WIDE, status, found, "every test passes"))
    return results


def judge_disk(node: str, mount: str, free_bytes: int, total_bytes: int) -> CheckResult:
    share = free_bytes / total_bytes if total_bytes > 0 else 0.0
    status = (Status.FAILED if share < DISK_FREE_FAILED else
              Status.WARNING if share < DISK_FREE_WARNING else Status.OK)
    return CheckResult(node, "disk", mount, status,
                       f"{_gib(free_bytes)} free of {_gib(total_bytes)} ({share:.0%})",
                       f"warning below {DISK_FREE_WARNING:.0%} free, failed below {DISK_FREE_FAILED:.0%}")


UNCERTAINTY_SHOWN_S = 0.01  # below it the round trip changes nothing an operator reads


def judge_clock(node: str, offset_s: float, *, uncertainty_s: float = 0.0) -> CheckResult:
    """The offset is known to ± half the round trip (`uncertainty_s`): only what is certain is judged, so a slow
    round trip on a busy network never quarantines a node whose clock is right."""
    size = abs(offset_s)
    certain = max(0.0, size - uncertainty_s)
    status = (Status.FAILED if certain >= CLOCK_OFFSET_FAILED_S else
              Status.WARNING if certain >= CLOCK_OFFSET_WARNING_S else Status.OK)
    direction = "ahead of" if offset_s >= 0 else "behind"
    spread = f" (± {uncertainty_s * 1000:.0f} ms: half the round trip)" if uncertainty_s >= UNCERTAINTY_SHOWN_S else ""
    return CheckResult(node, "clock", NODE_WIDE, status, f"{size * 1000:.0f} ms {direction} the controller{spread}",
                       f"warning at {CLOCK_OFFSET_WARNING_S * 1000:.0f} ms, failed at {CLOCK_OFFSET_FAILED_S:g} s")


def parse_df(text: str) -> list[tuple[str, int, int]]:
    """(mount point, free bytes, total bytes) per line of `df -P -k PATH…` (POSIX format: 1024-byte blocks;
    total is used + available, as df's own capacity figure counts it, without the root reserve)."""
    rows = []
    for line in text.splitlines()[1:]:
        words = line.split()
        if len(words) < 6:
            continue
        try:
            used, available = int(words[2]), int(words[3])
        except ValueError:
            raise UnreadableOutput(f"df -P printed {line.strip()!r}; expected numbers in its 3rd and 4th columns") \
                from None
        rows.append((" ".join(words[5:]), available * 1024, (used + available) * 1024))
    if not rows:
        raise UnreadableOutput("df -P printed no file system line")
    return rows


def clock_offset(node_epoch_text: str, sent_at: float, received_at: float) -> float:
    """How far the node's clock (`date +%s.%N`, read while the command ran) is from the controller's, taking
    the midpoint of the round trip as the moment the node read it."""
    try:
        node_time = float(node_epoch_text.strip())
    except ValueError:
        raise UnreadableOutput(f"date +%s.%N printed {node_epoch_text.strip()[:40]!r}, not seconds") from None
    return node_time - (sent_at + received_at) / 2


def _count(node: str, declared: int, devices: Sequence[DeviceReading]) -> CheckResult:
    found = len(devices)
    threshold = f"{declared} declared"
    if found == declared:
        return CheckResult(node, "accelerators.count", NODE_WIDE, Status.OK, f"{found} found", threshold)
    seen = {d.index for d in devices}
    missing = [str(i) for i in range(declared) if str(i) not in seen]
    if found < declared:
        gone = f" (missing: {', '.join(missing)})" if missing else ""
        return CheckResult(node, "accelerators.count", NODE_WIDE, Status.FAILED,
                           f"{found} of {declared} found{gone}", threshold)
    return CheckResult(node, "accelerators.count", NODE_WIDE, Status.WARNING,
                       f"{found} found, more than the {declared} the pool declares", threshold)


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f} GiB"
