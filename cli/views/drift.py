"""A drift report as text lines (with their styles)."""

from __future__ import annotations

from collections.abc import Iterator

from grid.drift import DriftReport


def drift_lines(report: DriftReport, *, spec_path: str) -> Iterator[tuple[str, str]]:
    if not report.items and not report.unreachable:
        yield f"No drift: {report.cluster} is what the state says.", "bold green"
    for item in report.items:
        yield (f"  ! {item.address} ({item.kind}): recorded {item.recorded}; actually {item.actual}; "
               f"grid up will {item.remedy}", "yellow")
        for line in item.findings or tuple(f"task changed: {task}" for task in item.tasks):
            yield f"      {line}", ""
    for address in report.unreachable:
        yield f"  ! {address}: unreachable over SSH", "red"
    for address, tasks in report.unverifiable.items():
        yield f"  ? {address}: not verifiable in check mode: {', '.join(tasks)}", "dim"
    if report.drifted:
        yield (f"{len(report.items) + len(report.unreachable)} drifted item(s); `grid up {spec_path}` repairs "
               "them."), "bold"
