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
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd

from ntrader.data.bars import MARKET_TZ

__all__ = [
    "CALENDAR_NAME",
    "EXTENDED_HOURS",
    "MARKET_TZ",
    "REGULAR_HOURS",
    "TradingHours",
    "early_closes",
    "holidays",
    "session_dates",
    "sessions",
    "trading_dates",
    "trading_sessions",
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
    return _named(CALENDAR_NAME, first_year, last_year)


@lru_cache(maxsize=8)
def _named(name: str, first_year: int, last_year: int) -> Any:
    import exchange_calendars as xcals  # slow import: only when a calendar is needed

    return xcals.get_calendar(name, start=f"{first_year}-01-01", end=f"{last_year}-12-31")


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


# -- instruments that trade other hours (futures, forex) -------------------------------------------


@dataclass(frozen=True)
class TradingHours:
    """When an instrument trades: the dates of an exchange calendar, each with one session.

    ``calendar`` names the exchange_calendars calendar whose sessions are the trading dates
    ("CMES" for CME futures, "24/5" for forex); ``open``/``close`` are wall-clock times in ``tz``;
    ``overnight``: a date's session opens the calendar day before (CME Globex: 17:00 Chicago the
    day before to 16:00; IDEALPRO: 17:15 to 17:00 New York). A date the calendar closes early
    (CME's half days) ends at the calendar's close when that is earlier.
    """

    calendar: str
    tz: str
    open: dt.time
    close: dt.time
    overnight: bool = False

    @classmethod
    def from_ib(cls, text: str, tz: str, calendar: str) -> TradingHours | None:
        """The hours of IB's ``tradingHours``/``liquidHours`` text ("20240102:1700-20240103:1600;...").

        The first open day gives the daily session; None when IB sent none.
        """
        for part in text.split(";"):
            if "CLOSED" in part or "-" not in part:
                continue
            begin, end = part.split("-", 1)
            try:
                day_a, time_a = begin.split(":")
                day_b, time_b = end.split(":")
                opens = dt.datetime.strptime(time_a, "%H%M").time()
                closes = dt.datetime.strptime(time_b, "%H%M").time()
            except ValueError:
                continue
            return cls(calendar, _zone(tz), opens, closes, overnight=day_a != day_b)
        return None

    def to_json(self) -> list[str | bool]:
        return [self.calendar, self.tz, f"{self.open:%H:%M}", f"{self.close:%H:%M}", self.overnight]

    @classmethod
    def from_json(cls, row: list[str | bool]) -> TradingHours:
        name, tz, opens, closes, overnight = row
        return cls(
            str(name),
            str(tz),
            dt.time.fromisoformat(str(opens)),
            dt.time.fromisoformat(str(closes)),
            bool(overnight),
        )


_ZONES = {"US/Eastern": "America/New_York", "US/Central": "America/Chicago", "EST": "America/New_York"}


def _zone(name: str) -> str:
    """An IANA zone for IB's ``timeZoneId`` (IB sends "US/Eastern", "US/Central", ...)."""
    return _ZONES.get(name, name or MARKET_TZ)


def _calendar_schedule(name: str, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    calendar = _named(name, min(_FIRST_YEAR, first.year), max(_LAST_YEAR, last.year))
    schedule = calendar.schedule[["open", "close"]]
    index = pd.DatetimeIndex(schedule.index)
    index = (index.tz_localize(None) if index.tz is not None else index).normalize()
    frame = pd.DataFrame({"close": schedule["close"].to_numpy()}, index=index)
    frame["early"] = frame.index.isin(pd.DatetimeIndex(calendar.early_closes).tz_localize(None).normalize())
    return frame.loc[first:last]


def trading_dates(name: str, start: DateLike, end: DateLike) -> pd.DatetimeIndex:
    """Trading dates (naive midnight) of calendar ``name`` from start to end inclusive."""
    first, last = _day(start), _day(end)
    if last < first:
        return pd.DatetimeIndex([])
    return pd.DatetimeIndex(_calendar_schedule(name, first, last).index)


def trading_sessions(
    hours: TradingHours, start: DateLike, end: DateLike
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """(open, close) in UTC of the sessions dated start..end (inclusive) under ``hours``."""
    first, last = _day(start), _day(end)
    if last < first:
        return []
    table = _calendar_schedule(hours.calendar, first, last)
    out = []
    for day, calendar_close, early in zip(table.index, table["close"], table["early"], strict=True):
        date = day.date()
        open_date = date - dt.timedelta(days=1) if hours.overnight else date
        opens = pd.Timestamp(dt.datetime.combine(open_date, hours.open)).tz_localize(hours.tz)
        closes = pd.Timestamp(dt.datetime.combine(date, hours.close)).tz_localize(hours.tz)
        if early:
            closes = min(closes, pd.Timestamp(calendar_close).tz_convert(hours.tz))
        out.append((opens.tz_convert("UTC"), closes.tz_convert("UTC")))
    return out
