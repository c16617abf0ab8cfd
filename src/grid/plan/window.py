"""When a pool's update window (`pools[].update.window`) is open: pure arithmetic on an instant the caller gives.

A window opens on each of its `days` at the start of its `hours`, in its time zone, and closes at their end
(the next day when the end is at or before the start: `22:00-06:00` opened on a Saturday closes on Sunday
06:00). Times are wall-clock times of the zone, so a window keeps its local hours across daylight saving
changes. `grid up` plans at any time; it starts a new wave only while the window is open.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from grid.spec.lifecycle import DAYS, MINUTES_PER_DAY, UpdateWindow, find_time_zone, parse_hours

_WEEK = 7


@dataclass(frozen=True, slots=True)
class Opening:
    """One time the window is open, from `start` up to (not including) `end`; both in UTC."""

    start: datetime
    end: datetime

    def holds(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("give an aware instant (with its time zone), like datetime.now(UTC)")
    # Aware datetimes sharing one tzinfo compare by wall clock, not by instant: compare in UTC only.
    return instant.astimezone(UTC)


def openings(window: UpdateWindow, after: datetime) -> Iterator[Opening]:
    """The window's openings that end after `after`, earliest first, for the next eight days (a window that is
    ever open opens within any seven). Raises ValueError for a window validation refuses."""
    zone = find_time_zone(window.time_zone)
    hours = parse_hours(window.hours) if window.hours is not None else (0, MINUTES_PER_DAY)
    if zone is None or hours is None or hours[0] == hours[1]:
        raise ValueError(f"update window not valid: {window}")  # grid.validate.lifecycle refuses these
    days = set(window.days if window.days is not None else DAYS)
    start_minutes, end_minutes = hours
    runs_past_midnight = end_minutes <= start_minutes
    moment = _utc(after)
    first = moment.astimezone(zone).date() - timedelta(days=1)  # an opening of yesterday may still run
    for offset in range(_WEEK + 2):
        day = first + timedelta(days=offset)
        if DAYS[day.weekday()] not in days:
            continue
        start = _wall_clock(day, start_minutes, zone)
        end = _wall_clock(day + timedelta(days=1) if runs_past_midnight else day, end_minutes, zone)
        if end > moment:
            yield Opening(start, end)


def _wall_clock(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """`minutes` after midnight of `day` in `zone`, in UTC (24:00 is the next day's midnight)."""
    day += timedelta(days=minutes // MINUTES_PER_DAY)
    minutes %= MINUTES_PER_DAY
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    return local.astimezone(UTC)


def is_open(window: UpdateWindow | None, at: datetime) -> bool:
    """Whether a new wave may start at `at` (no window: always)."""
    if window is None:
        _utc(at)
        return True
    moment = _utc(at)
    return any(opening.holds(moment) for opening in openings(window, moment))


def next_opening(window: UpdateWindow | None, at: datetime) -> datetime | None:
    """When a new wave may start, at `at` or later, in UTC: `at` itself when the window is open then; None only
    for a window that never opens (which validation refuses)."""
    moment = _utc(at)
    if window is None:
        return moment
    for opening in openings(window, moment):
        return max(opening.start, moment)
    return None


def closes_at(window: UpdateWindow | None, at: datetime) -> datetime | None:
    """When the opening that holds `at` ends, in UTC (adjoining openings count as one); None when the window
    is closed at `at` or never closes (no window, or every day all day)."""
    moment = _utc(at)
    if window is None or _always_open(window):
        return None
    end: datetime | None = None
    for opening in openings(window, moment):
        if opening.holds(moment) or (end is not None and opening.start <= end):
            end = max(end or opening.end, opening.end)
        elif end is not None or opening.start > moment:
            break
    return end


def _always_open(window: UpdateWindow) -> bool:
    whole_day = window.hours is None or parse_hours(window.hours) == (0, MINUTES_PER_DAY)
    return whole_day and (window.days is None or set(window.days) == set(DAYS))


def window_text(window: UpdateWindow | None) -> str:
    """`sat,sun 22:00-06:00 Asia/Shanghai`, `every day 22:00-06:00 UTC`, or `any time`."""
    if window is None:
        return "any time"
    days = ",".join(window.days) if window.days is not None else "every day"
    return f"{days} {window.hours or '00:00-24:00'} {window.time_zone}"
