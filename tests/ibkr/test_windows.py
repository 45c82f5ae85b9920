"""Request planning: windows within IB's limits, expected bar times, gap ranges."""

from __future__ import annotations

import datetime as dt
import itertools

import pandas as pd
import pytest

from ntrader.errors import InputError
from ntrader.ibkr.sessions import Closures
from ntrader.ibkr.windows import (
    BAR_SIZE_SETTING,
    MAX_DURATION,
    MAX_DURATION_STR,
    WINDOW,
    WINDOW_STR,
    RequestWindow,
    duration_to_str,
    expected_sessions,
    find_gaps,
    parse_duration,
    plan_windows,
)


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_tables_follow_ib_limits() -> None:
    assert MAX_DURATION_STR == {
        "1-SECOND": "1800 S",
        "5-SECOND": "3600 S",
        "1-MINUTE": "1 D",
        "5-MINUTE": "1 W",
        "1-HOUR": "1 M",
        "1-DAY": "1 Y",
    }
    assert BAR_SIZE_SETTING["1-MINUTE"] == "1 min"
    assert BAR_SIZE_SETTING["5-MINUTE"] == "5 mins"
    assert BAR_SIZE_SETTING["1-HOUR"] == "1 hour"
    assert BAR_SIZE_SETTING["1-DAY"] == "1 day"
    for name, text in MAX_DURATION_STR.items():
        assert MAX_DURATION[name] <= parse_duration(text)


@pytest.mark.parametrize("bar_size", list(MAX_DURATION))
def test_windows_cover_the_range_without_overlap_or_excess(bar_size: str) -> None:
    # The planner's windows are the longest IB accepts (WINDOW), no longer its documented table.
    start, end = ts("2024-01-01"), ts("2024-01-03 07:00")
    if bar_size in ("1-MINUTE", "5-MINUTE"):
        end = ts("2024-02-15 07:00")
    if bar_size in ("1-HOUR", "1-DAY"):
        end = ts("2025-03-01")
    windows = plan_windows(start, end, bar_size, skip_closed=False)
    assert windows[0].start == start
    assert windows[-1].end == end
    for a, b in itertools.pairwise(windows):
        assert a.end == b.start
    assert len(windows) > 1
    assert all(w.span <= WINDOW[bar_size] for w in windows)
    # Every window but the oldest is full: as few requests as IB's limit allows.
    assert all(w.span == WINDOW[bar_size] for w in windows[1:])


def test_a_year_of_one_minute_bars_needs_at_most_37_requests() -> None:
    # IB's own samples ask for "10 D" of one-minute bars: a year is 37 such windows, not 252 days.
    assert WINDOW_STR["1-MINUTE"] == "10 D" and MAX_DURATION_STR["1-MINUTE"] == "1 D"
    windows = plan_windows(ts("2023-01-01"), ts("2024-01-01"), "1-MINUTE")
    assert len(windows) <= 37 and all(w.duration_str == "10 D" for w in windows[1:])
    documented = plan_windows(
        ts("2023-01-01"), ts("2024-01-01"), "1-MINUTE", max_span=MAX_DURATION["1-MINUTE"]
    )
    assert len(documented) == 260  # every weekday (holidays not passed): what the old planner sent


def test_weekend_windows_are_skipped_unless_asked_for() -> None:
    # 2024-01-06 and 07 are a Saturday and a Sunday.
    day = MAX_DURATION["1-MINUTE"]  # one-day windows, so that each day's window can be skipped
    windows = plan_windows(ts("2024-01-05"), ts("2024-01-09"), "1-MINUTE", max_span=day)
    assert [w.start.day for w in windows] == [5, 8]
    assert (
        len(plan_windows(ts("2024-01-05"), ts("2024-01-09"), "1-MINUTE", skip_closed=False, max_span=day))
        == 4
    )
    holiday = plan_windows(
        ts("2024-01-01"),
        ts("2024-01-03"),
        "1-MINUTE",
        closures=Closures(holidays={dt.date(2024, 1, 1)}),
        max_span=day,
    )
    assert [w.start.day for w in holiday] == [2]


def test_cached_ranges_skip_and_trim_windows() -> None:
    cached = [(ts("2024-01-02"), ts("2024-01-03 12:00"))]
    day = MAX_DURATION["1-MINUTE"]
    windows = plan_windows(ts("2024-01-01"), ts("2024-01-05"), "1-MINUTE", cached=cached, max_span=day)
    assert [(w.start, w.end) for w in windows] == [
        (ts("2024-01-01"), ts("2024-01-02")),
        (ts("2024-01-03 12:00"), ts("2024-01-04")),
        (ts("2024-01-04"), ts("2024-01-05")),
    ]
    assert (
        plan_windows(
            ts("2024-01-02"),
            ts("2024-01-03"),
            "1-MINUTE",
            cached=[(ts("2024-01-01"), ts("2024-02-01"))],
        )
        == []
    )


def test_window_strings_use_ib_formats() -> None:
    w = RequestWindow(ts("2024-01-02 14:30"), ts("2024-01-02 15:00"))
    assert w.duration_str == "1800 S"
    assert w.end_datetime_str == "20240102-15:00:00"
    assert RequestWindow(ts("2024-01-01"), ts("2024-01-08")).duration_str == "7 D"
    assert duration_to_str(pd.Timedelta(hours=30)) == "2 D"
    assert duration_to_str(pd.Timedelta(days=365)) == "365 D"


def test_bad_input_is_an_input_error() -> None:
    with pytest.raises(InputError):
        plan_windows(ts("2024-01-02"), ts("2024-01-01"), "1-DAY")
    with pytest.raises(InputError):
        plan_windows(ts("2024-01-01"), ts("2024-01-02"), "3-MINUTE")


def test_expected_sessions_intraday_regular_hours() -> None:
    day = expected_sessions(ts("2024-01-02"), ts("2024-01-03"), "1-MINUTE")
    assert len(day) == 390
    assert day[0] == ts("2024-01-02 14:30") and day[-1] == ts("2024-01-02 20:59")
    assert len(expected_sessions(ts("2024-01-02"), ts("2024-01-03"), "5-MINUTE")) == 78
    # Summer time: the open is 13:30 UTC.
    assert expected_sessions(ts("2024-07-01"), ts("2024-07-02"), "1-MINUTE")[0] == ts("2024-07-01 13:30")
    hours = expected_sessions(ts("2024-01-02"), ts("2024-01-03"), "1-HOUR")
    assert [t.tz_convert("America/New_York").strftime("%H:%M") for t in hours] == [
        "09:30",
        "10:00",
        "11:00",
        "12:00",
        "13:00",
        "14:00",
        "15:00",
    ]
    week = expected_sessions(ts("2024-01-01"), ts("2024-01-08"), "1-MINUTE")
    assert len(week) == 5 * 390


def test_expected_sessions_daily_and_holidays() -> None:
    days = expected_sessions(ts("2024-01-01"), ts("2024-01-09"), "1-DAY")
    assert [d.day for d in days] == [1, 2, 3, 4, 5, 8]
    assert days[0] == ts("2024-01-01")
    without = expected_sessions(ts("2024-01-01"), ts("2024-01-09"), "1-DAY", holidays={dt.date(2024, 1, 1)})
    assert [d.day for d in without] == [2, 3, 4, 5, 8]
    minutes = expected_sessions(
        ts("2024-01-01"), ts("2024-01-03"), "1-MINUTE", holidays={dt.date(2024, 1, 1)}
    )
    assert len(minutes) == 390


def test_find_gaps_merges_neighbouring_missing_bars() -> None:
    expected = expected_sessions(ts("2024-01-02"), ts("2024-01-03"), "1-MINUTE")
    received = expected.delete([0, 1, 2, 100, 389])
    assert find_gaps(expected, received, "1-MINUTE") == [
        (ts("2024-01-02 14:30"), ts("2024-01-02 14:33")),
        (expected[100], expected[100] + pd.Timedelta(minutes=1)),
        (ts("2024-01-02 20:59"), ts("2024-01-02 21:00")),
    ]
    assert find_gaps(expected, expected, "1-MINUTE") == []


def test_find_gaps_spans_a_weekend_between_missing_days() -> None:
    expected = expected_sessions(ts("2024-01-01"), ts("2024-01-13"), "1-DAY")
    received = expected[(expected < ts("2024-01-05")) | (expected > ts("2024-01-09"))]
    assert find_gaps(expected, received, "1-DAY") == [(ts("2024-01-05"), ts("2024-01-10"))]
    assert find_gaps(expected, pd.DatetimeIndex([], tz="UTC"), "1-DAY") == [
        (ts("2024-01-01"), ts("2024-01-13"))
    ]


HALF_DAY = {dt.date(2024, 7, 3): dt.time(13, 0)}


def test_a_half_day_ends_at_its_early_close() -> None:
    # 3 July 2024 closes at 13:00 New York (17:00 UTC): 210 one-minute bars, the last at 12:59.
    minutes = expected_sessions(ts("2024-07-03"), ts("2024-07-04"), "1-MINUTE", early_closes=HALF_DAY)
    assert len(minutes) == 210
    assert minutes[0] == ts("2024-07-03 13:30") and minutes[-1] == ts("2024-07-03 16:59")
    hourly = expected_sessions(ts("2024-07-03"), ts("2024-07-04"), "1-HOUR", early_closes=HALF_DAY)
    assert [t.strftime("%H:%M") for t in hourly.tz_convert("America/New_York")] == [
        "09:30",
        "10:00",
        "11:00",
        "12:00",
    ]
    # With useRTH=0 the post-market session of a half day ends at 17:00 instead of 20:00.
    extended = expected_sessions(
        ts("2024-07-03"), ts("2024-07-04"), "1-MINUTE", early_closes=HALF_DAY, extended_hours=True
    )
    assert len(extended) == 13 * 60 and extended[-1] == ts("2024-07-03 20:59")
    # The day bar itself is still expected.
    assert len(expected_sessions(ts("2024-07-03"), ts("2024-07-04"), "1-DAY", early_closes=HALF_DAY)) == 1


def test_windows_after_an_early_close_are_not_requested() -> None:
    # One-second bars: 30-minute windows. The afternoon of a half day holds no session.
    windows = plan_windows(
        ts("2024-07-03 16:00"), ts("2024-07-03 20:00"), "1-SECOND", closures=Closures(early_closes=HALF_DAY)
    )
    assert [w.start for w in windows] == [ts("2024-07-03 16:00"), ts("2024-07-03 16:30")]
    full = plan_windows(ts("2024-07-03 16:00"), ts("2024-07-03 20:00"), "1-SECOND")
    assert len(full) == 8
