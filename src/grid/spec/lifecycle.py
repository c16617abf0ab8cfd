"""A pool's node lifecycle: what grid does with a node that fails its health checks (`health`) and how it
replaces the pool's nodes when a change needs new ones (`update`).

Kept loose here where a precise message helps more than a pattern: whether a share is in range for its pool,
whether a window's hours are a clock and ever open, and whether a time zone exists are judged by
grid.validate.lifecycle at file:line:col. The arithmetic that reads these values (how many nodes a share
allows, when a window is open) lives in grid.plan.waves, grid.plan.window and grid.plan.quarantine.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StringConstraints

_PERCENT = re.compile(r"[0-9]{1,3}%")
_HOURS = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names in the order of `datetime.weekday()` (Monday is 0)."""
MINUTES_PER_DAY = 24 * 60


def _share(value: object) -> object:
    # One clear message instead of pydantic's two (one per member of the union below).
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _PERCENT.fullmatch(value):
        return value
    raise ValueError("write a number of nodes (like 2) or a percentage of the pool (like 25%)")


Share = Annotated[StrictInt | Annotated[str, StringConstraints(pattern=r"^[0-9]{1,3}%$")],
                  BeforeValidator(_share)]
"""A number of a pool's nodes (2) or a percentage of them ("25%")."""

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# `HH:MM-HH:MM`; whether the numbers are a clock is grid.validate.lifecycle's to say (with the forms in its hint).
HoursText = Annotated[str, StringConstraints(pattern=r"^[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}$")]
TimeZoneName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_+./-]{1,64}$")]


def share_percent(share: int | str) -> int | None:
    """The percentage a share states, or None when it is a number of nodes."""
    return int(share[:-1]) if isinstance(share, str) else None


def allowed_nodes(share: int | str, pool_size: int) -> int:
    """How many of a pool's `pool_size` nodes a share allows at once. A percentage is rounded down but allows
    at least one node (10% of an 8-node pool is 1, not 0: a policy that could never act would be a trap); a
    number is taken as written, capped at the pool's size."""
    percent = share_percent(share)
    if percent is None:
        return max(0, min(int(share), pool_size))
    return min(pool_size, max(1, pool_size * percent // 100)) if pool_size > 0 else 0


def share_text(share: int | str, pool_size: int) -> str:
    """`25% (2)` or `2`: a share as written, with what it allows in the pool when it is a percentage."""
    if share_percent(share) is None:
        return str(share)
    return f"{share} ({allowed_nodes(share, pool_size)})"


def parse_hours(text: str) -> tuple[int, int] | None:
    """`22:00-06:00` as minutes of the day (start, end); None when either side is not a clock. The end may be
    24:00 (midnight at the end of the day); an end at or before the start means the window runs past midnight."""
    match = _HOURS.fullmatch(text)
    if match is None:
        return None
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    if start_h > 23 or start_m > 59 or end_m > 59 or end_h > 24 or (end_h == 24 and end_m != 0):
        return None
    return start_h * 60 + start_m, end_h * 60 + end_m


def find_time_zone(name: str) -> zoneinfo.ZoneInfo | None:
    """The IANA time zone `name` names, or None when this machine's time zone database has none of that name."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class Health(_Model):
    """What grid does with a node of the pool that fails its health checks."""

    on_failure: Literal["report", "quarantine", "replace"] = Field(
        "report", description="report: say so; quarantine: drain it and record it out of service; replace: "
                              "quarantine it, make a new node, check it and remove the bad one once it passes")
    max_unhealthy: Share = Field(
        "10%", description="Most of the pool's nodes out of service at once (a number or a percentage, rounded "
                           "down, at least 1); beyond it grid stops: a mass failure is more likely a fabric "
                           "outage or a grid bug than dead nodes")


class UpdateWindow(_Model):
    """When `grid up` may start a new wave of a rolling replacement (it plans at any time)."""

    days: list[Day] | None = Field(
        None, max_length=7, description="The days on which the window opens (mon..sun); left out, every day")
    hours: HoursText | None = Field(
        None, description="HH:MM-HH:MM in the window's time zone; an end at or before the start runs past "
                          "midnight into the next day (22:00-06:00); left out, the whole day")
    time_zone: TimeZoneName = Field("UTC", description="An IANA time zone name, like Asia/Shanghai")


class Update(_Model):
    """How grid replaces the pool's nodes when a change needs new ones (image, fabrics, accelerator, ...)."""

    max_unavailable: Share = Field(
        1, description="Most nodes out of service at once during a roll: one wave (a number or a percentage, "
                       "rounded down, at least 1)")
    drain: Literal["wait", "requeue"] = Field(
        "wait", description="wait: let each wave's running jobs end first; requeue: requeue them in Slurm")
    drain_timeout: int | None = Field(
        None, ge=0, le=30 * 86400,
        description="Seconds a wave waits for its jobs; left out, the scheduler's drain_timeout")
    health_gate: Literal["quick", "none"] = Field(
        "quick", description="The health suite new nodes must pass before they are resumed and the next wave "
                             "starts; a failing gate stops the roll")
    window: UpdateWindow | None = Field(
        None, description="When a new wave may start; left out, at any time")
