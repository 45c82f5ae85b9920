"""The fake gateway's futures and forex: contracts, the hours they trade, and what IB refuses for them.

Laid out here from the exchanges' published hours, not with the client's planner: CME Globex
equity futures trade 17:00 to 16:00 Chicago (from the evening before, Sunday to Friday), regular
hours 08:30-15:00, on CME's calendar; IDEALPRO forex trades 17:15 to 17:00 New York, Sunday
evening to Friday. IB refuses what it refuses: TRADES for a currency pair (there are none), an
end date for a continuous future (error 10339), a future named without its expiry (error 200).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from ntrader.data import calendar
from ntrader.ibkr.fake import protocol as wire

__all__ = [
    "CONTFUT_END_DATE_TEXT",
    "ERR_CONTFUT_END_DATE",
    "FOREX",
    "FUTURES",
    "SEC_TYPES",
    "Derivative",
    "contracts",
    "hours_text",
    "refusal",
    "served_starts",
]

#: The sec types served here; stocks are the server's own.
SEC_TYPES = frozenset({"FUT", "CONTFUT", "CASH"})
ERR_CONTFUT_END_DATE = 10339
CONTFUT_END_DATE_TEXT = (
    "Set EndDateTime to empty string while requesting continuous futures contract's historical data."
)
_NO_TRADES_TEXT = (
    "Historical Market Data Service error message:No historical market data for {pair}/CASH@FXSUBPIP Last 1d"
)
_MONTH_CODE = {3: "H", 6: "M", 9: "U", 12: "Z"}
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Derivative:
    """A futures root or a currency pair the fake knows, with the hours it trades."""

    symbol: str  # IB's symbol: "ES", or the pair's base "EUR"
    currency: str
    exchange: str
    con_id: int
    tz: str  # the zone IB states the hours in (timeZoneId)
    trading: tuple[dt.time, dt.time]  # open (the evening before) and close
    liquid: tuple[dt.time, dt.time]
    liquid_overnight: bool
    calendar: str
    long_name: str


FUTURES: dict[str, Derivative] = {
    "ES": Derivative(
        "ES", "USD", "CME", 495512551, "US/Central", (dt.time(17), dt.time(16)),
        (dt.time(8, 30), dt.time(15)), False, "CMES", "E-mini S&P 500",
    ),
    "NQ": Derivative(
        "NQ", "USD", "CME", 563947738, "US/Central", (dt.time(17), dt.time(16)),
        (dt.time(8, 30), dt.time(15)), False, "CMES", "E-mini NASDAQ 100",
    ),
}  # fmt: skip
FOREX: dict[str, Derivative] = {
    pair: Derivative(
        pair[:3], pair[4:], "IDEALPRO", con_id, "US/Eastern", (dt.time(17, 15), dt.time(17)),
        (dt.time(17, 15), dt.time(17)), True, "24/5", f"{pair[:3]} {pair[4:]}",
    )
    for pair, con_id in (("EUR.USD", 12087792), ("GBP.USD", 12087797), ("USD.JPY", 15016059))
}  # fmt: skip

_ZONES = {"US/Central": "America/Chicago", "US/Eastern": "America/New_York"}


def find(spec: wire.ContractSpec) -> Derivative | None:
    """The future or pair a request names (None: not one the fake knows)."""
    symbol = (spec.symbol or spec.local_symbol.split(".")[0]).upper()
    if spec.sec_type in ("FUT", "CONTFUT"):
        known = FUTURES.get(symbol) or next((f for f in FUTURES.values() if f.con_id == spec.con_id), None)
        if known is None or spec.exchange.upper() not in (known.exchange, "GLOBEX", ""):
            return None
        return known
    if spec.sec_type == "CASH":
        pair = f"{symbol}.{spec.currency.upper()}"
        return FOREX.get(pair)
    return None


def _third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def _expiries(today: dt.date, count: int = 4) -> list[dt.date]:
    """The next quarterly expiries (third Fridays of Mar, Jun, Sep, Dec) from ``today``."""
    out: list[dt.date] = []
    year, month = today.year, 3
    while len(out) < count:
        day = _third_friday(year, month)
        if day >= today:
            out.append(day)
        month += 3
        if month > 12:
            year, month = year + 1, 3
    return out


def _future(root: Derivative, expiry: dt.date, sec_type: str) -> wire.StockInfo:
    code = f"{root.symbol}{_MONTH_CODE[expiry.month]}{expiry.year % 10}"
    return wire.StockInfo(
        symbol=root.symbol,
        con_id=root.con_id + expiry.year * 100 + expiry.month,
        primary_exchange="",
        long_name=root.long_name,
        isin="",
        industry="",
        category="",
        subcategory="",
        min_tick=0.25,
        time_zone_id=root.tz,
        stock_type="",
        valid_exchanges=(root.exchange,),
        sec_type=sec_type,
        local_symbol=code,
        last_trade=f"{expiry:%Y%m%d}",
        multiplier="50",
        trading_class=root.symbol,
        contract_month=f"{expiry:%Y%m}",
        under_symbol=root.symbol,
        under_sec_type="IND",
    )


def _pair(pair: Derivative) -> wire.StockInfo:
    name = f"{pair.symbol}.{pair.currency}"
    return wire.StockInfo(
        symbol=pair.symbol,
        con_id=pair.con_id,
        primary_exchange="",
        long_name=pair.long_name,
        isin="",
        industry="",
        category="",
        subcategory="",
        currency=pair.currency,
        min_tick=0.00005,
        time_zone_id=pair.tz,
        stock_type="",
        valid_exchanges=(pair.exchange,),
        sec_type="CASH",
        local_symbol=name,
        trading_class=name,
        min_size=0.01,
    )


def contracts(spec: wire.ContractSpec, today: dt.date | None = None) -> list[wire.StockInfo]:
    """What IB answers a contract-details request for a future or a pair with (maybe several)."""
    known = find(spec)
    if known is None:
        return []
    if spec.sec_type == "CASH":
        return [_pair(known)]
    today = today or dt.date.today()
    months = _expiries(today)
    if spec.sec_type == "CONTFUT":
        return [_future(known, months[0], "CONTFUT")]
    if spec.con_id:
        return [
            c
            for c in (_future(known, m, "FUT") for m in _expiries(dt.date(2000, 1, 1), 200))
            if c.con_id == spec.con_id
        ][:1]
    wanted = spec.last_trade_date
    if not wanted:
        return [_future(known, m, "FUT") for m in months]  # every listed month, as IB does
    for year in range(2000, today.year + 3):
        for month in (3, 6, 9, 12):
            expiry = _third_friday(year, month)
            if wanted in (f"{expiry:%Y%m}", f"{expiry:%Y%m%d}"):
                return [_future(known, expiry, "FUT")]
    return []


def refusal(spec: wire.ContractSpec, what_to_show: str, end: str) -> tuple[str, int, str] | None:
    """(outcome, code, text) when IB refuses this historical request for a future or a pair."""
    if spec.sec_type == "CASH" and what_to_show.upper() == "TRADES":
        pair = spec.symbol.upper() or spec.local_symbol.split(".")[0].upper()
        return "no-trades", wire.ERR_HISTORICAL, _NO_TRADES_TEXT.format(pair=pair)
    if spec.sec_type == "CONTFUT" and end.strip():
        return "invalid", ERR_CONTFUT_END_DATE, CONTFUT_END_DATE_TEXT
    if spec.sec_type == "FUT" and not spec.last_trade_date and not spec.con_id:
        return "unknown", wire.ERR_NO_SECURITY, wire.NO_SECURITY_TEXT
    if find(spec) is None:
        return "unknown", wire.ERR_NO_SECURITY, wire.NO_SECURITY_TEXT
    return None


def _sessions(
    known: Derivative, lo: pd.Timestamp, hi: pd.Timestamp, use_rth: bool
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    zone = _ZONES[known.tz]
    opens, closes = known.liquid if use_rth else known.trading
    overnight = known.liquid_overnight if use_rth else True
    dates = calendar.trading_dates(known.calendar, (lo - _DAY).date(), (hi + 2 * _DAY).date())
    out = []
    for day in dates:
        date = day.date()
        start = pd.Timestamp(dt.datetime.combine(date - dt.timedelta(days=overnight), opens), tz=zone)
        end = pd.Timestamp(dt.datetime.combine(date, closes), tz=zone)
        out.append((start.tz_convert("UTC"), end.tz_convert("UTC")))
    return out


def served_starts(
    spec: wire.ContractSpec, lo: pd.Timestamp, hi: pd.Timestamp, step: pd.Timedelta, use_rth: bool
) -> pd.DatetimeIndex:
    """Start times (UTC) of the bars the fake has for a future or a pair in [lo, hi)."""
    known = find(spec)
    assert known is not None
    if step >= _DAY:
        days = calendar.trading_dates(known.calendar, lo.date(), hi.date()).tz_localize("UTC")
        return pd.DatetimeIndex(days[(days >= lo) & (days < hi)])
    freq = f"{int(step.total_seconds())}s"
    parts = []
    for opens, closes in _sessions(known, lo, hi, use_rth):
        first, stop = max(opens, lo).floor(freq), min(closes, hi)
        if first < stop:
            grid = pd.date_range(first, stop, freq=freq, inclusive="left")
            grid = grid.where(grid >= opens, opens)  # the first bar starts at the open
            parts.append(grid[grid >= lo])
    if not parts:
        return pd.DatetimeIndex([], tz="UTC")
    return pd.DatetimeIndex(parts[0].append(parts[1:])).unique()


def hours_text(spec: wire.ContractSpec, days: int = 7, today: dt.date | None = None) -> tuple[str, str]:
    """IB-style tradingHours / liquidHours for the coming week, in the contract's own zone."""
    known = find(spec)
    assert known is not None
    today = today or dt.date.today()
    trading, liquid = [], []
    dates = {d.date() for d in calendar.trading_dates(known.calendar, today, today + dt.timedelta(days=days))}
    for offset in range(days):
        day = today + dt.timedelta(days=offset)
        d, before = f"{day:%Y%m%d}", f"{day - dt.timedelta(days=1):%Y%m%d}"
        if day not in dates:
            trading.append(f"{d}:CLOSED")
            liquid.append(f"{d}:CLOSED")
            continue
        (t_open, t_close), (l_open, l_close) = known.trading, known.liquid
        trading.append(f"{before}:{t_open:%H%M}-{d}:{t_close:%H%M}")
        liquid.append(f"{before if known.liquid_overnight else d}:{l_open:%H%M}-{d}:{l_close:%H%M}")
    return ";".join(trading), ";".join(liquid)
