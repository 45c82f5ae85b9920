"""What the fake gateway serves: contract facts, session hours and deterministic synthetic bars.

Sessions come from the NYSE calendar (ntrader.data.calendar) and are laid out here, not with the
client's window planner, so a client that plans its windows wrongly is caught by the fake.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Collection, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from ntrader.data import calendar
from ntrader.data.bars import BAR_COLUMNS, MARKET_TZ
from ntrader.ibkr.fake import protocol as wire

# Real identifiers where we know them, so instruments look like the ones IB returns.
_KNOWN_STOCKS: dict[str, wire.StockInfo] = {
    "AAPL": wire.StockInfo("AAPL", 265598, "NASDAQ", "APPLE INC", "US0378331005"),
    "MSFT": wire.StockInfo("MSFT", 272093, "NASDAQ", "MICROSOFT CORP", "US5949181045"),
    "SPY": wire.StockInfo(
        "SPY",
        756733,
        "ARCA",
        "SPDR S&P 500 ETF TRUST",
        "US78462F1030",
        industry="Funds",
        category="Equity Fund",
        subcategory="Growth&Income-Large Cap",
        stock_type="ETF",
    ),
}

_BAR_SIZE = re.compile(r"^(\d+) (sec|secs|min|mins|hour|hours|day)$")
_UNIT_SECONDS = {"sec": 1, "min": 60, "hour": 3600, "day": 86_400}
_END_UTC = re.compile(r"^(\d{8})-(\d{2}:\d{2}:\d{2})$")
_END_LOCAL = re.compile(r"^(\d{8})(?: (\d{2}:\d{2}:\d{2}))?(?: (\S+))?$")
_DAY = pd.Timedelta(days=1)


def stock_info(symbol: str) -> wire.StockInfo:
    """Contract facts for ``symbol``: real ones for a few, made-up but stable ones otherwise."""
    symbol = symbol.upper()
    if symbol in _KNOWN_STOCKS:
        return _KNOWN_STOCKS[symbol]
    digest = _hash(symbol, 0, "conid")
    return wire.StockInfo(
        symbol=symbol,
        con_id=100_000 + digest % 900_000,
        primary_exchange="NYSE",
        long_name=f"{symbol} INC",
        isin=f"US{digest % 10**10:010d}",
    )


def parse_bar_size(setting: str) -> pd.Timedelta:
    """Bar length of an IB ``barSizeSetting`` ("1 min", "5 mins", "1 hour", "1 day", ...)."""
    m = _BAR_SIZE.match(setting.strip())
    if not m:
        raise ValueError(f"unsupported bar size {setting!r}")
    return pd.Timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2).rstrip("s")])


def parse_end_datetime(text: str, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """The UTC instant an IB ``endDateTime`` names; "" is now, no zone means US/Eastern."""
    text = text.strip()
    if not text:
        return now if now is not None else pd.Timestamp.now(tz="UTC")
    if m := _END_UTC.match(text):
        return pd.Timestamp(f"{m.group(1)} {m.group(2)}", tz="UTC")
    m2 = _END_LOCAL.match(text)
    if not m2:
        raise ValueError(f"bad endDateTime {text!r}")
    zone_name = m2.group(3) or "US/Eastern"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"bad time zone {zone_name!r}") from exc
    local = dt.datetime.strptime(f"{m2.group(1)} {m2.group(2) or '00:00:00'}", "%Y%m%d %H:%M:%S")
    return pd.Timestamp(local.replace(tzinfo=zone)).tz_convert("UTC")


def _hash(symbol: str, stamp: int, salt: str) -> int:
    digest = hashlib.blake2b(f"{symbol}|{stamp}|{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _unit(symbol: str, stamp: int, salt: str) -> float:
    """A deterministic number in [0, 1) for (symbol, time, salt)."""
    return _hash(symbol, stamp, salt) / 2**64


def _price(symbol: str, stamp: int) -> float:
    """Price at epoch second ``stamp``: smooth cycles plus per-second jitter, never negative."""
    base = 20.0 + _hash(symbol, 0, "base") % 48_000 / 100.0
    phase = _unit(symbol, 0, "phase") * 2 * math.pi
    days = stamp / 86_400.0
    cycle = (
        0.12 * math.sin(2 * math.pi * days / 97.0 + phase)
        + 0.04 * math.sin(2 * math.pi * days / 11.0 + 2 * phase)
        + 0.01 * math.sin(2 * math.pi * stamp / 5_400.0 + phase)
    )
    jitter = 0.002 * (2 * _unit(symbol, stamp, "jit") - 1)
    return round(base * (1.0 + cycle) * (1.0 + jitter), 2)


def _utc(value: pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _trading_dates(lo: pd.Timestamp, hi: pd.Timestamp, holidays: Collection[dt.date]) -> list[dt.date]:
    """New York weekdays around [lo, hi) that are not holidays."""
    first = lo.tz_convert(MARKET_TZ).date() - dt.timedelta(days=1)
    last = hi.tz_convert(MARKET_TZ).date() + dt.timedelta(days=1)
    return [d.date() for d in pd.bdate_range(first, last) if d.date() not in holidays]


def _session(
    date: dt.date, use_rth: bool, early_closes: Mapping[dt.date, dt.time]
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(open, close) in UTC of one trading date; all hours run from 04:00 to four hours past the close."""
    close = pd.Timestamp(dt.datetime.combine(date, early_closes.get(date, calendar.REGULAR_HOURS[1])))
    if use_rth:
        opens = pd.Timestamp(dt.datetime.combine(date, calendar.REGULAR_HOURS[0]))
    else:
        opens = pd.Timestamp(dt.datetime.combine(date, calendar.EXTENDED_HOURS[0]))
        close = close + calendar.POST_MARKET_AFTER_CLOSE
    return opens.tz_localize(MARKET_TZ).tz_convert("UTC"), close.tz_localize(MARKET_TZ).tz_convert("UTC")


def served_bar_starts(
    lo: pd.Timestamp,
    hi: pd.Timestamp,
    step: pd.Timedelta,
    use_rth: bool,
    closed: tuple[Collection[dt.date], Mapping[dt.date, dt.time]],
) -> pd.DatetimeIndex:
    """Start times (UTC) of the bars the fake has in [lo, hi): daily bars at midnight UTC of each
    trading date, shorter bars on a clock-aligned grid over each session, the first at the open."""
    holidays, early_closes = closed
    dates = _trading_dates(lo, hi, holidays)
    if step >= _DAY:
        days = pd.DatetimeIndex([pd.Timestamp(d, tz="UTC") for d in dates], dtype="datetime64[ns, UTC]")
        return days[(days >= lo) & (days < hi)]
    freq = f"{int(step.total_seconds())}s"
    stamps = pd.DatetimeIndex([], tz="UTC")
    for date in dates:
        opens, close = _session(date, use_rth, early_closes)
        first, stop = max(opens, lo).floor(freq), min(close, hi)
        if first < stop:
            grid = pd.date_range(first, stop, freq=freq, inclusive="left")
            grid = grid.where(grid >= opens, opens)  # the first bar starts at the open
            stamps = pd.DatetimeIndex(stamps.append(grid[grid >= lo]))
    return stamps.unique()


def nyse_closures(
    lo: pd.Timestamp,
    hi: pd.Timestamp,
    holidays: Collection[dt.date] | None = None,
    early_closes: Mapping[dt.date, dt.time] | None = None,
) -> tuple[Collection[dt.date], Mapping[dt.date, dt.time]]:
    """The NYSE's holidays and early closes around [lo, hi), unless the caller gave its own."""
    first, last = (lo - _DAY).date(), (hi + _DAY).date()
    if holidays is None:
        holidays = calendar.holidays(first, last)
    if early_closes is None:
        early_closes = calendar.early_closes(first, last)
    return holidays, early_closes


def synthetic_bars(
    symbol: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    bar_size: pd.Timedelta,
    *,
    use_rth: bool = True,
    holidays: Collection[dt.date] | None = None,
    early_closes: Mapping[dt.date, dt.time] | None = None,
    starts: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """The bars the fake gateway serves for ``symbol`` starting in [start, end), UTC-indexed.

    Values depend only on (symbol, bar start, bar size), so overlapping requests agree. Each
    bar opens at the price of its start and closes at the price of its end (a daily bar spans
    the regular session), so high >= max(open, close), low <= min(open, close), volume > 0.
    Sessions follow the NYSE calendar: no bars on its holidays, and its half days end at 13:00
    New York (17:00 outside regular hours). ``holidays`` / ``early_closes`` (New York dates)
    replace the calendar's when given. ``starts``: the bars' start times when they follow other
    hours than the NYSE's (futures, forex).
    """
    symbol = symbol.upper()
    daily = bar_size >= _DAY
    lo, hi = _utc(start), _utc(end)
    closed = nyse_closures(lo, hi, holidays, early_closes)
    if starts is None:
        starts = served_bar_starts(lo, hi, bar_size, use_rth, closed)
    rows: list[tuple[float, float, float, float, int]] = []
    for ts in starts:
        if daily:
            t0, t1 = (int(t.timestamp()) for t in _session(ts.tz_convert(None).date(), True, closed[1]))
        else:
            t0 = int(ts.timestamp())
            step = int(bar_size.total_seconds())
            # A bar clipped to the open (09:30 in an hourly grid) still ends on the grid.
            t1 = (t0 // step + 1) * step
        o, c = _price(symbol, t0), _price(symbol, t1)
        reach = max(o, c) * 0.004 * math.sqrt(max(1.0, (t1 - t0) / 60.0)) / 10.0
        high = round(max(o, c) + reach * _unit(symbol, t0, "hi"), 2)
        low = max(0.01, round(min(o, c) - reach * _unit(symbol, t0, "lo"), 2))
        scale = 5_000_000 if daily else 20_000
        volume = scale + _hash(symbol, t0, "vol") % (scale * 4)
        rows.append((o, high, low, c, volume))
    frame = pd.DataFrame(rows, columns=BAR_COLUMNS, index=starts)
    frame.index.name = "timestamp"
    return frame


def session_hours(days: int = 7, today: dt.date | None = None) -> tuple[str, str]:
    """IB-style tradingHours / liquidHours strings for the coming week, New York time (NYSE calendar)."""
    today = today or pd.Timestamp.now(tz=MARKET_TZ).date()
    closed = calendar.holidays(today, today + dt.timedelta(days=days))
    early = calendar.early_closes(today, today + dt.timedelta(days=days))
    trading, liquid = [], []
    for offset in range(days):
        day = today + dt.timedelta(days=offset)
        d = f"{day:%Y%m%d}"
        if day.weekday() >= 5 or day in closed:
            trading.append(f"{d}:CLOSED")
            liquid.append(f"{d}:CLOSED")
        elif day in early:
            close = early[day]
            post = (dt.datetime.combine(day, close) + dt.timedelta(hours=4)).time()
            trading.append(f"{d}:0400-{d}:{post:%H%M}")
            liquid.append(f"{d}:0930-{d}:{close:%H%M}")
        else:
            trading.append(f"{d}:0400-{d}:2000")
            liquid.append(f"{d}:0930-{d}:1600")
    return ";".join(trading), ";".join(liquid)


def ny_text(ts: pd.Timestamp) -> str:
    """A time as IB writes it in replies: New York wall clock, zone named."""
    return f"{ts.tz_convert(MARKET_TZ):%Y%m%d %H:%M:%S} US/Eastern"


def format_bar_date(ts: pd.Timestamp, daily: bool, format_date: int) -> str:
    if daily:
        return f"{ts:%Y%m%d}"
    if format_date == 2:
        return str(int(ts.timestamp()))
    return ny_text(ts)


def wire_bars(frame: pd.DataFrame, daily: bool, format_date: int) -> list[wire.WireBar]:
    """The rows of a bar frame as the wire encodes them."""
    columns = (frame[c].tolist() for c in BAR_COLUMNS)
    return [
        wire.WireBar(
            date=format_bar_date(ts, daily, format_date),
            open=o,
            high=h,
            low=lo,
            close=c,
            volume=int(v),
            wap=round((h + lo + c) / 3.0, 4),
            bar_count=max(1, int(v) // 100),
        )
        for ts, o, h, lo, c, v in zip(frame.index, *columns, strict=True)
    ]
