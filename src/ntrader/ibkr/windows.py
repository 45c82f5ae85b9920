"""Plan IB historical-data requests: split a time range into windows IB accepts, find gaps."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from ntrader.data import calendar
from ntrader.data.bars import MARKET_TZ
from ntrader.errors import InputError
from ntrader.ibkr.sessions import Closures

NEW_YORK = MARKET_TZ

#: New York date -> the regular session's early close (13:00 on NYSE half days).
EarlyCloses = Mapping[dt.date, dt.time]

BAR_SIZES: tuple[str, ...] = ("1-SECOND", "5-SECOND", "1-MINUTE", "5-MINUTE", "1-HOUR", "1-DAY")

#: ntrader bar-size name -> IB ``barSizeSetting``.
BAR_SIZE_SETTING: dict[str, str] = {
    "1-SECOND": "1 secs",
    "5-SECOND": "5 secs",
    "1-MINUTE": "1 min",
    "5-MINUTE": "5 mins",
    "1-HOUR": "1 hour",
    "1-DAY": "1 day",
}

#: ntrader bar-size name -> length of one bar.
BAR_LENGTH: dict[str, pd.Timedelta] = {
    "1-SECOND": pd.Timedelta(seconds=1),
    "5-SECOND": pd.Timedelta(seconds=5),
    "1-MINUTE": pd.Timedelta(minutes=1),
    "5-MINUTE": pd.Timedelta(minutes=5),
    "1-HOUR": pd.Timedelta(hours=1),
    "1-DAY": pd.Timedelta(days=1),
}

#: IB's documented largest duration per request, as IB spells it.
MAX_DURATION_STR: dict[str, str] = {
    "1-SECOND": "1800 S",
    "5-SECOND": "3600 S",
    "1-MINUTE": "1 D",
    "5-MINUTE": "1 W",
    "1-HOUR": "1 M",
    "1-DAY": "1 Y",
}

_DAY_SECONDS = 86_400
_RTH = calendar.REGULAR_HOURS
_EXTENDED = calendar.EXTENDED_HOURS
# On a half day the post-market session still runs four hours past the (early) close: 13:00-17:00.
_POST_MARKET = calendar.POST_MARKET_AFTER_CLOSE.to_pytimedelta()


def check_bar_size(bar_size: str) -> str:
    """Return ``bar_size`` normalised to upper case, or raise InputError naming the valid ones."""
    name = bar_size.strip().upper()
    if name not in BAR_LENGTH:
        raise InputError(f"unknown bar size {bar_size!r}; expected one of {', '.join(BAR_SIZES)}")
    return name


def to_utc(value: pd.Timestamp | dt.datetime | dt.date | str) -> pd.Timestamp:
    """A UTC timestamp; naive input is taken to be UTC already."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def duration_to_str(span: pd.Timedelta) -> str:
    """IB duration string covering ``span``: whole days as "N D", shorter spans as "N S"."""
    seconds = span.total_seconds()
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {span}")
    if seconds % _DAY_SECONDS == 0:
        return f"{int(seconds // _DAY_SECONDS)} D"
    if seconds <= _DAY_SECONDS:
        return f"{math.ceil(seconds)} S"
    # IB refuses "S" durations beyond one day, so round a ragged multi-day span up to days.
    return f"{math.ceil(seconds / _DAY_SECONDS)} D"


def parse_duration(text: str) -> pd.Timedelta:
    """Time span of an IB duration string ("1800 S", "2 D", "1 W", "1 M", "1 Y")."""
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit() or parts[1].upper() not in ("S", "D", "W", "M", "Y"):
        raise ValueError(f"not an IB duration: {text!r}")
    count, unit = int(parts[0]), parts[1].upper()
    days = {"D": 1, "W": 7, "M": 30, "Y": 365}
    if unit == "S":
        return pd.Timedelta(seconds=count)
    return pd.Timedelta(days=count * days[unit])


#: The longest request per bar size the planner uses: what IB accepts in practice, longer than its
#: documented table where IB itself asks for more (its own samples request "10 D" of one-minute
#: bars). A gateway that refuses one (162 "Time length exceed max") gets the documented limit.
WINDOW_STR: dict[str, str] = {**MAX_DURATION_STR, "1-MINUTE": "10 D"}

#: The same limits as time spans. A month is taken as 30 days and a year as 365 so that a
#: window never exceeds what IB means by "1 M" / "1 Y"; windows are sent as "N D" / "N S".
MAX_DURATION: dict[str, pd.Timedelta] = {n: parse_duration(text) for n, text in MAX_DURATION_STR.items()}
WINDOW: dict[str, pd.Timedelta] = {n: parse_duration(text) for n, text in WINDOW_STR.items()}


@dataclass(frozen=True)
class RequestWindow:
    """One historical-data request: bars starting in [start, end), both UTC.

    IB counts durations back from the end, and a ragged multi-day span is sent rounded up to
    whole days, so a reply can hold bars from before ``start``: keep only [start, end).
    """

    start: pd.Timestamp
    end: pd.Timestamp
    #: Sent with an empty end date (IB counts back from now): IB's continuous futures take no other.
    open_end: bool = False

    @property
    def span(self) -> pd.Timedelta:
        return self.end - self.start

    @property
    def duration_str(self) -> str:
        if self.open_end:
            # Counted back from the moment IB answers, a little after ``end``: a day more reaches start.
            return duration_to_str(self.span.ceil("D") + pd.Timedelta(days=1))
        return duration_to_str(self.span)

    @property
    def end_datetime_str(self) -> str:
        """The end in IB's explicit-UTC form, so TWS never applies its own login time zone."""
        if self.open_end:
            return ""
        return f"{to_utc(self.end):%Y%m%d-%H:%M:%S}"


def _subtract(
    start: pd.Timestamp, end: pd.Timestamp, cached: Sequence[tuple[pd.Timestamp, pd.Timestamp]]
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Parts of [start, end) not covered by any cached [a, b)."""
    pieces = [(start, end)]
    for a, b in sorted((to_utc(lo), to_utc(hi)) for lo, hi in cached):
        if b <= a:
            continue
        nxt: list[tuple[pd.Timestamp, pd.Timestamp]] = []
        for s, e in pieces:
            if b <= s or a >= e:
                nxt.append((s, e))
                continue
            if s < a:
                nxt.append((s, a))
            if b < e:
                nxt.append((b, e))
        pieces = nxt
    return pieces


def plan_windows(
    start: pd.Timestamp | dt.datetime | str,
    end: pd.Timestamp | dt.datetime | str,
    bar_size: str,
    *,
    cached: Sequence[tuple[pd.Timestamp, pd.Timestamp]] = (),
    skip_closed: bool = True,
    closures: Closures | None = None,
    extended_hours: bool = False,
    max_span: pd.Timedelta | None = None,
) -> list[RequestWindow]:
    """Split [start, end) into request windows no longer than ``max_span`` (default: ``WINDOW``).

    Ranges in ``cached`` (each [a, b), UTC) are already stored: windows they cover fully are
    skipped, and windows they cover in part are trimmed to the uncovered part. Each uncovered
    stretch is cut from its end backwards, so that the short remainder (if any) is its oldest
    window. Windows come oldest first (the fetch reverses them for ``--newest-first``).

    With ``skip_closed`` (the default) windows that hold no session of a US equity are dropped
    (weekends, nights, and with ``closures`` its holidays and the afternoons of its early closes):
    each would cost a request against IB's pacing budget and return nothing. Pass
    ``extended_hours`` when requesting with useRTH=0, so that windows holding only pre- or
    post-market hours are kept.
    """
    name = check_bar_size(bar_size)
    lo, hi = to_utc(start), to_utc(end)
    if hi <= lo:
        raise InputError(f"empty range: start {lo} is not before end {hi}")
    holidays = closures.holidays if closures is not None else None
    early_closes = closures.early_closes if closures is not None else None
    hours = closures.hours if closures is not None else None
    limit = WINDOW[name] if max_span is None else max_span
    windows: list[RequestWindow] = []
    for s, e in _subtract(lo, hi, cached):
        cursor = e
        while cursor > s:
            w_start = max(s, cursor - limit)
            window = RequestWindow(w_start, cursor)
            cursor = w_start
            closed = (holidays, early_closes, hours)
            if skip_closed and not _could_trade(window, name, closed, extended_hours):
                continue
            windows.append(window)
    windows.sort(key=lambda w: w.start)
    return windows


def recut_windows(
    windows: Sequence[RequestWindow],
    bar_size: str,
    limit: pd.Timedelta,
    *,
    closures: Closures | None = None,
    extended_hours: bool = False,
) -> list[RequestWindow]:
    """``windows`` with each one longer than ``limit`` cut into pieces no longer than it (in order)."""
    out: list[RequestWindow] = []
    for w in windows:
        if w.span <= limit:
            out.append(w)
            continue
        out.extend(
            plan_windows(
                w.start, w.end, bar_size, closures=closures, extended_hours=extended_hours, max_span=limit
            )
        )
    return out


def _could_trade(
    window: RequestWindow,
    bar_size: str,
    closed: tuple[Collection[dt.date] | None, EarlyCloses | None, calendar.TradingHours | None],
    extended_hours: bool,
) -> bool:
    holidays, early_closes, hours = closed
    if bar_size == "1-DAY":
        # Daily bars are stamped at midnight UTC: the window must hold a trading date's midnight.
        starts = bar_starts(window.start, window.end, BAR_LENGTH[bar_size], holidays=holidays, hours=hours)
        return bool(len(starts))
    return any(
        s_open < window.end and window.start < s_close
        for s_open, s_close in _sessions(
            window.start, window.end, holidays, extended_hours, early_closes, hours
        )
    )


def _sessions(
    lo: pd.Timestamp,
    hi: pd.Timestamp,
    holidays: Collection[dt.date] | None,
    extended_hours: bool,
    early_closes: EarlyCloses | None = None,
    hours: calendar.TradingHours | None = None,
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """(open, close) in UTC of every weekday session whose New York date is near [lo, hi).

    A date in ``early_closes`` ends at its early close (regular hours) or four hours later
    (extended hours). With an instrument's own ``hours`` (futures, forex), its sessions instead.
    """
    if hours is not None:
        return calendar.trading_sessions(
            hours, (lo - pd.Timedelta(days=1)).date(), (hi + pd.Timedelta(days=2)).date()
        )
    open_t, close_t = _EXTENDED if extended_hours else _RTH
    skip = set(holidays or ())
    early = early_closes or {}
    first = lo.tz_convert(NEW_YORK).date() - dt.timedelta(days=1)
    last = hi.tz_convert(NEW_YORK).date() + dt.timedelta(days=1)
    out = []
    for day in pd.date_range(first, last, freq="D"):
        date = day.date()
        if day.day_of_week >= 5 or date in skip:
            continue
        s_open = pd.Timestamp(dt.datetime.combine(date, open_t)).tz_localize(NEW_YORK)
        if date in early:
            end = dt.datetime.combine(date, early[date]) + (
                _POST_MARKET if extended_hours else dt.timedelta()
            )
        else:
            end = dt.datetime.combine(date, close_t)
        s_close = pd.Timestamp(end).tz_localize(NEW_YORK)
        out.append((s_open.tz_convert("UTC"), s_close.tz_convert("UTC")))
    return out


def _freq(step: pd.Timedelta) -> str:
    """A pandas frequency string for ``step`` (the stubs only accept strings in ``floor``)."""
    return f"{int(step.total_seconds())}s"


def bar_starts(
    start: pd.Timestamp,
    end: pd.Timestamp,
    step: pd.Timedelta,
    *,
    holidays: Collection[dt.date] | None = None,
    extended_hours: bool = False,
    early_closes: EarlyCloses | None = None,
    hours: calendar.TradingHours | None = None,
) -> pd.DatetimeIndex:
    """Start times (UTC) of the bars a US equity produces in [start, end) for bars of ``step``.

    Bars of a day or longer get one bar per weekday, stamped at midnight UTC of the trading date
    (the way Nautilus stamps IB daily bars). Shorter bars cover the session in New York time
    (09:30-16:00, or 04:00-20:00 with ``extended_hours``) on a clock-aligned grid, the first bar
    starting at the open (an hourly session is 09:30, 10:00, ..., 15:00, as IB returns it).
    Dates in ``holidays`` (New York dates) are left out; a date in ``early_closes`` ends at its
    early close (13:00 on an NYSE half day, so its last one-minute bar starts at 12:59).
    With an instrument's own ``hours`` its calendar's dates and sessions are used instead (a
    daily bar per trading date, intraday bars over each session: nights of forex included).
    """
    lo, hi = to_utc(start), to_utc(end)
    skip = set(holidays or ())
    if hi <= lo:
        return pd.DatetimeIndex([], tz="UTC")
    if step >= pd.Timedelta(days=1) and hours is not None:
        dates = calendar.trading_dates(hours.calendar, lo.date(), hi.date()).tz_localize("UTC")
        return pd.DatetimeIndex(dates[(dates >= lo) & (dates < hi)])
    if step >= pd.Timedelta(days=1):
        days = pd.date_range(lo.normalize(), hi, freq="D")
        days = days[(days >= lo) & (days < hi) & (days.day_of_week < 5)]
        if skip:
            days = days[[d.date() not in skip for d in days]]
        return pd.DatetimeIndex(days)
    parts: list[pd.DatetimeIndex] = []
    for s_open, s_close in _sessions(lo, hi, holidays, extended_hours, early_closes, hours):
        # Floor in UTC: New York is a whole number of hours off, so the grid is the same, and
        # UTC has no ambiguous wall-clock times. Only the part inside [lo, hi) is generated.
        freq = _freq(step)
        begin = max(s_open.floor(freq), lo.floor(freq))
        stop = min(s_close, hi)
        if begin >= stop:
            continue
        grid = pd.date_range(begin, stop, freq=step, inclusive="left")
        stamps = grid.where(grid >= s_open, s_open)
        parts.append(stamps[(stamps >= lo) & (stamps < hi)])
    if not parts:
        return pd.DatetimeIndex([], tz="UTC")
    return pd.DatetimeIndex(parts[0].append(parts[1:])).unique()


def expected_sessions(
    start: pd.Timestamp | dt.datetime | str,
    end: pd.Timestamp | dt.datetime | str,
    bar_size: str,
    *,
    holidays: Collection[dt.date] | None = None,
    extended_hours: bool = False,
    early_closes: EarlyCloses | None = None,
    hours: calendar.TradingHours | None = None,
) -> pd.DatetimeIndex:
    """Bar timestamps a US equity (or an instrument of ``hours``) should have in [start, end).

    Weekdays only; daily bars are stamped at midnight UTC of the date, intraday bars at their
    start. The exchange calendar is not known here: a weekday holiday shows up as a gap unless
    its New York date is passed in ``holidays``, and a half day's afternoon unless the date is in
    ``early_closes`` (the fetch service passes both from the NYSE calendar).
    """
    name = check_bar_size(bar_size)
    return bar_starts(
        to_utc(start),
        to_utc(end),
        BAR_LENGTH[name],
        holidays=holidays,
        extended_hours=extended_hours,
        early_closes=early_closes,
        hours=hours,
    )


def find_gaps(
    expected: pd.DatetimeIndex, received: pd.DatetimeIndex, bar_size: str
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Missing bars as [first missing bar start, last missing bar start + bar length) ranges.

    Missing bars that are neighbours in ``expected`` form one range, even when a night or a
    weekend lies between them, so a range is what one re-fetch would need.
    """
    length = BAR_LENGTH[check_bar_size(bar_size)]
    exp = pd.DatetimeIndex(expected).sort_values()
    got = pd.DatetimeIndex(received)
    if exp.tz is None:
        exp = exp.tz_localize("UTC")
    if len(got) and got.tz is None:
        got = got.tz_localize("UTC")
    missing = ~exp.isin(got)
    gaps: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    run_start: int | None = None
    for i, is_missing in enumerate(missing):
        if is_missing and run_start is None:
            run_start = i
        elif not is_missing and run_start is not None:
            gaps.append((exp[run_start], exp[i - 1] + length))
            run_start = None
    if run_start is not None:
        gaps.append((exp[run_start], exp[len(exp) - 1] + length))
    return gaps
