"""A drift report as text lines (with their styles)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

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
    yield from _unverifiable_lines(report.unverifiable)
    if report.drifted:
        yield (f"{len(report.items) + len(report.unreachable)} drifted item(s); `grid up {spec_path}` repairs "
               "them."), "bold"


LISTED_HOSTS = 3
"""Up to this many hosts with the same unverifiable tasks are listed one per line; more are one line (`--json`
keeps every host): a mount's write probe is unverifiable on every host that mounts it, 12,500 lines at a hub."""


def _unverifiable_lines(unverifiable: Mapping[str, Sequence[str]]) -> Iterator[tuple[str, str]]:
    hosts_by_tasks: dict[tuple[str, ...], list[str]] = {}
    for address, tasks in unverifiable.items():
        hosts_by_tasks.setdefault(tuple(tasks), []).append(address)
    for tasks, addresses in hosts_by_tasks.items():
        what = f"not verifiable in check mode: {', '.join(tasks)}"
        if len(addresses) <= LISTED_HOSTS:
            for address in addresses:
                yield f"  ? {address}: {what}", "dim"
        else:
            first, last = min(addresses), max(addresses)
            yield f"  ? {len(addresses)} hosts ({first} … {last}): {what}", "dim"
