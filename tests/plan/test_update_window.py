"""grid.plan.window: whether an update window is open at an instant and when it opens next (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grid.plan.window import closes_at, is_open, next_opening, window_text
from grid.spec.lifecycle import UpdateWindow

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEKEND_NIGHTS = UpdateWindow(days=["sat", "sun"], hours="22:00-06:00", time_zone="Asia/Shanghai")


def local(text: str, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


@pytest.mark.parametrize(("when", "open_"), [
    ("2026-12-05 21:59", False),  # Saturday, before the window
    ("2026-12-05 22:00", True),   # Saturday 22:00: opens
    ("2026-12-06 05:59", True),   # Sunday morning: still Saturday's opening
    ("2026-12-06 06:00", False),  # closed at 06:00
    ("2026-12-06 23:30", True),   # Sunday's opening
    ("2026-12-07 05:00", True),   # Monday morning: Sunday's opening runs past midnight
    ("2026-12-07 22:30", False),  # Monday evening: no opening on Mondays
    ("2026-12-05 01:00", False),  # Saturday early morning: Friday does not open
])
def test_weekend_nights_in_shanghai(when: str, open_: bool) -> None:
    assert is_open(WEEKEND_NIGHTS, local(when)) is open_


def test_next_opening_and_closing() -> None:
    tuesday = local("2026-12-08 10:00")
    assert next_opening(WEEKEND_NIGHTS, tuesday) == local("2026-12-12 22:00").astimezone(UTC)
    inside = local("2026-12-05 23:00")
    assert next_opening(WEEKEND_NIGHTS, inside) == inside.astimezone(UTC)
    assert closes_at(WEEKEND_NIGHTS, inside) == local("2026-12-06 06:00").astimezone(UTC)
    assert closes_at(WEEKEND_NIGHTS, tuesday) is None
    # The same instant given in another zone is the same answer.
    assert is_open(WEEKEND_NIGHTS, inside.astimezone(ZoneInfo("America/New_York")))


def test_adjoining_openings_close_as_one() -> None:
    nights = UpdateWindow(hours="18:00-24:00", days=["fri", "sat"], time_zone="UTC")
    assert closes_at(nights, datetime(2026, 12, 4, 20, tzinfo=UTC)) == datetime(2026, 12, 5, tzinfo=UTC)
    weekend = UpdateWindow(days=["sat", "sun"])
    assert closes_at(weekend, datetime(2026, 12, 5, 9, tzinfo=UTC)) == datetime(2026, 12, 7, tzinfo=UTC)


def test_no_window_and_an_always_open_window() -> None:
    now = datetime(2026, 12, 8, 10, tzinfo=UTC)
    assert is_open(None, now) and next_opening(None, now) == now and closes_at(None, now) is None
    always = UpdateWindow()
    assert is_open(always, now) and closes_at(always, now) is None
    assert window_text(None) == "any time" and window_text(always) == "every day 00:00-24:00 UTC"
    assert window_text(WEEKEND_NIGHTS) == "sat,sun 22:00-06:00 Asia/Shanghai"


def test_local_hours_hold_across_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    early = UpdateWindow(hours="01:00-04:00", time_zone="Europe/Berlin")
    # 2026-03-29: clocks go from 02:00 to 03:00; 2026-10-25: from 03:00 back to 02:00.
    assert next_opening(early, local("2026-03-28 12:00", berlin)) == datetime(2026, 3, 29, 0, tzinfo=UTC)
    assert closes_at(early, local("2026-03-29 01:30", berlin)) == datetime(2026, 3, 29, 2, tzinfo=UTC)
    assert closes_at(early, local("2026-10-25 01:30", berlin)) == datetime(2026, 10, 25, 3, tzinfo=UTC)
    assert is_open(early, datetime(2026, 7, 1, 0, 30, tzinfo=UTC))  # 02:30 summer time


def test_an_instant_needs_its_zone_and_a_window_must_be_valid() -> None:
    with pytest.raises(ValueError, match="aware instant"):
        is_open(WEEKEND_NIGHTS, datetime(2026, 12, 5, 22))
    with pytest.raises(ValueError, match="not valid"):
        is_open(UpdateWindow(hours="06:00-06:00"), datetime(2026, 12, 5, tzinfo=UTC))


WINDOWS = st.builds(
    UpdateWindow,
    days=st.one_of(st.none(), st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
                                       min_size=1, max_size=7)),
    hours=st.one_of(st.none(), st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(0, 24),
                                         st.integers(0, 59))
                    .filter(lambda t: (t[2] < 24 or t[3] == 0) and (t[0], t[1]) != (t[2], t[3]))
                    .map(lambda t: f"{t[0]:02d}:{t[1]:02d}-{t[2]:02d}:{t[3]:02d}")),
    time_zone=st.sampled_from(["UTC", "Asia/Shanghai", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]))
INSTANTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(window=WINDOWS, at=INSTANTS)
def test_next_opening_is_open_not_before_and_nothing_earlier_is(window: UpdateWindow, at: datetime) -> None:
    opens = next_opening(window, at)
    assert opens is not None and opens >= at and opens - at <= timedelta(days=8)
    assert is_open(window, opens)
    assert (opens == at) == is_open(window, at)
    if opens > at:  # closed until then: a minute before it opens it is still closed
        assert not is_open(window, max(at, opens - timedelta(minutes=1)))
    ends = closes_at(window, opens)
    assert ends is None or (ends > opens and not is_open(window, ends))
