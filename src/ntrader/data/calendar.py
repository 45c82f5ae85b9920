"""The NYSE trading calendar: sessions, holidays and early closes, from exchange_calendars' XNYS.

One calendar serves the mock bars, the IBKR fetch planner and the fake gateway, so they agree on
which days trade and when a session ends (13:00 New York on half days such as 3 July and the day
after Thanksgiving).

`exchange_calendars` is imported and its calendar built on first use only (about 0.15 s to import
and 0.35 s to build for 2000-2040 on this machine), then kept for the process: commands that never
need a calendar (``--help``, reports, CSV runs) do not pay for it.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import pandas as pd

from ntrader.data.bars import MARKET_TZ

__all__ = [
    "CALENDAR_NAME",
    "EXTENDED_HOURS",
    "MARKET_TZ",
    "REGULAR_HOURS",
    "early_closes",
    "holidays",
    "session_dates",
    "sessions",
]

CALENDAR_NAME = "XNYS"
#: Regular and extended (pre/post-market) hours of a full day, New York time.
REGULAR_HOURS = (dt.time(9, 30), dt.time(16, 0))
EXTENDED_HOURS = (dt.time(4, 0), dt.time(20, 0))
#: On a half day the post-market session ends four hours after the 13:00 close.
POST_MARKET_AFTER_CLOSE = pd.Timedelta(hours=4)

# The span built up front; a request outside it builds a wider calendar (once per process).
_FIRST_YEAR = 2000
_LAST_YEAR = 2040

DateLike = pd.Timestamp | dt.date | str


@lru_cache(maxsize=4)
def _calendar(first_year: int, last_year: int) -> Any:
    import exchange_calendars as xcals  # slow import: only when a calendar is needed

    return xcals.get_calendar(CALENDAR_NAME, start=f"{first_year}-01-01", end=f"{last_year}-12-31")


@lru_cache(maxsize=4)
def _schedule(first_year: int, last_year: int) -> pd.DataFrame:
    schedule = _calendar(first_year, last_year).schedule[["open", "close"]]
    frame = pd.DataFrame(
        {"open": schedule["open"].to_numpy(), "close": schedule["close"].to_numpy()},
        index=pd.DatetimeIndex(schedule.index).tz_localize(None).normalize(),
    )
    frame.index.name = "session"
    return frame


def _day(value: DateLike) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.normalize()


def sessions(start: DateLike, end: DateLike) -> pd.DataFrame:
    """NYSE sessions dated start..end (inclusive): index = naive session dates, columns open/close (UTC).

    Timestamps with a time zone are taken by their wall-clock date in that zone.
    """
    first, last = _day(start), _day(end)
    if last < first:
        return _schedule(_FIRST_YEAR, _LAST_YEAR).iloc[:0]
    schedule = _schedule(min(_FIRST_YEAR, first.year), max(_LAST_YEAR, last.year))
    return schedule.loc[first:last]


def session_dates(start: DateLike, end: DateLike) -> pd.DatetimeIndex:
    """Dates (naive midnight) of the NYSE sessions from start to end inclusive."""
    return pd.DatetimeIndex(sessions(start, end).index)


def holidays(start: DateLike, end: DateLike) -> frozenset[dt.date]:
    """Weekdays from start to end inclusive on which the NYSE is closed all day."""
    weekdays = pd.bdate_range(_day(start), _day(end))
    open_days = set(session_dates(start, end))
    return frozenset(day.date() for day in weekdays if day not in open_days)


def early_closes(start: DateLike, end: DateLike) -> dict[dt.date, dt.time]:
    """Sessions from start to end inclusive that close before 16:00 New York, with their close time."""
    table = sessions(start, end)
    local = pd.DatetimeIndex(table["close"]).tz_convert(MARKET_TZ)
    regular = REGULAR_HOURS[1]
    return {
        day.date(): close.time()
        for day, close in zip(table.index, local, strict=True)
        if close.time() < regular
    }
