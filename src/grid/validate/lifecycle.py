"""Validators of `pools[].health` and `pools[].update`: shares that fit their pool, a window that opens at some
time in a time zone that exists, a `replace` only where the target makes nodes, and drain settings only where a
scheduler has jobs to drain.

Like the other validators they walk pools, never nodes.
"""

from __future__ import annotations

import difflib
import zoneinfo
from collections.abc import Iterator

from grid.diagnostics import Diagnostic, Path, error, warning
from grid.spec.lifecycle import Health, Update, UpdateWindow, find_time_zone, parse_hours, share_percent
from grid.spec.model import Cluster, Pool
from grid.spec.targets import traits_of
from grid.validate.base import Validator


def _pools(cluster: Cluster) -> Iterator[tuple[Path, Pool]]:
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            yield ("spec", "regions", r, "pools", p), pool


def _share(share: int | str, pool: Pool, path: Path, what: str) -> Iterator[Diagnostic]:
    percent = share_percent(share)
    if percent is not None:
        if not 1 <= percent <= 100:
            yield error(f"{what} {share} is not a percentage from 1% to 100%", path, code="lifecycle.share",
                        hint="write a percentage from 1% to 100% of the pool, or a number of nodes")
        return
    if int(share) < 1:
        yield error(f"{what} {share} would never let a node out of service", path, code="lifecycle.share",
                    hint="write at least 1 (a number of nodes) or a percentage like 25%")
    elif pool.count >= 1 and int(share) > pool.count:
        yield error(f"{what} {share} is more than pool '{pool.name}' has ({pool.count} nodes)", path,
                    code="lifecycle.share",
                    hint=f"write at most {pool.count}, or a percentage that follows the pool's size")


def shares_fit_pools(cluster: Cluster) -> Iterator[Diagnostic]:
    """`max_unhealthy` and `max_unavailable`: 1% to 100%, or 1 to the pool's count."""
    for at, pool in _pools(cluster):
        if pool.health is not None:
            yield from _share(pool.health.max_unhealthy, pool, (*at, "health", "max_unhealthy"), "max_unhealthy")
        if pool.update is not None:
            yield from _share(pool.update.max_unavailable, pool, (*at, "update", "max_unavailable"),
                              "max_unavailable")


def windows_open(cluster: Cluster) -> Iterator[Diagnostic]:
    """A window's hours are a clock, it opens at some time, and its time zone exists."""
    for at, pool in _pools(cluster):
        if pool.update is not None and pool.update.window is not None:
            yield from _window(pool.update.window, (*at, "update", "window"))


def _window(window: UpdateWindow, at: Path) -> Iterator[Diagnostic]:
    if window.days is not None and not window.days:
        yield error("the update window has no days: it never opens, so no wave would ever start", (*at, "days"),
                    code="lifecycle.window", hint="list the days it opens on (days: [sat, sun]), or remove "
                                                  "`days` for every day")
    if window.hours is not None:
        hours = parse_hours(window.hours)
        if hours is None:
            yield error(f"hours '{window.hours}' is not a time of day range", (*at, "hours"),
                        code="lifecycle.window",
                        hint="write HH:MM-HH:MM on a 24-hour clock, like \"22:00-06:00\" (past midnight) or "
                             "\"09:00-17:30\"; the end may be 24:00")
        elif hours[0] == hours[1]:
            yield error(f"hours '{window.hours}' start and end at the same time: the window never opens",
                        (*at, "hours"), code="lifecycle.window",
                        hint="give a start and an end that differ, or remove `hours` for the whole day")
    if find_time_zone(window.time_zone) is None:
        yield error(f"time zone '{window.time_zone}' is unknown", (*at, "time_zone"), code="lifecycle.time-zone",
                    hint=_zone_hint(window.time_zone))


def _zone_hint(name: str) -> str:
    zones = zoneinfo.available_timezones()
    same = [zone for zone in zones if zone.lower() == name.lower()]
    close = same or difflib.get_close_matches(name, sorted(zones), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "write an IANA time zone name, like Asia/Shanghai, Europe/Berlin or UTC"


def replace_needs_nodes(cluster: Cluster) -> Iterator[Diagnostic]:
    """`on_failure: replace` makes a new node: a target that never makes machines (existing) cannot."""
    traits = traits_of(cluster)
    if traits.creates_infrastructure:
        return
    for at, pool in _pools(cluster):
        if pool.health is not None and pool.health.on_failure == "replace":
            yield error(f"on_failure: replace needs new nodes, which target '{traits.name}' never makes",
                        (*at, "health", "on_failure"), code="lifecycle.replace",
                        detail="its machines exist already; grid adopts them, it cannot make another",
                        hint="use on_failure: quarantine (grid drains the node and records it out of service; "
                             "repair or swap the machine, then list it in the spec)")


def drains_need_scheduler(cluster: Cluster) -> Iterator[Diagnostic]:
    """Draining and requeueing are the scheduler's: without one they do nothing (a warning, not an error)."""
    if cluster.spec.scheduler is not None:
        return
    hint = "add spec.scheduler (docs/spec.md, Scheduler), or remove the key"
    for at, pool in _pools(cluster):
        yield from _health_without_scheduler(pool.health, (*at, "health"))
        yield from _update_without_scheduler(pool.update, (*at, "update"), hint)


def _health_without_scheduler(health: Health | None, at: Path) -> Iterator[Diagnostic]:
    if health is not None and health.on_failure in ("quarantine", "replace"):
        yield warning(f"on_failure: {health.on_failure} without a scheduler only records a failing node as out "
                      "of service: nothing keeps work off it", (*at, "on_failure"), code="lifecycle.no-scheduler",
                      hint="add spec.scheduler so that grid drains the node in Slurm, or use on_failure: report")


def _update_without_scheduler(update: Update | None, at: Path, hint: str) -> Iterator[Diagnostic]:
    if update is None:
        return
    if update.drain == "requeue":
        yield warning("drain: requeue without a scheduler: there are no jobs to requeue", (*at, "drain"),
                      code="lifecycle.no-scheduler", hint=hint)
    elif "drain" in update.model_fields_set:
        yield warning("drain without a scheduler: there are no jobs to wait for", (*at, "drain"),
                      code="lifecycle.no-scheduler", hint=hint)
    if update.drain_timeout is not None:
        yield warning("drain_timeout without a scheduler: there are no jobs to wait for", (*at, "drain_timeout"),
                      code="lifecycle.no-scheduler", hint=hint)


VALIDATORS: list[Validator] = [shares_fit_pools, windows_open, replace_needs_nodes, drains_need_scheduler]
