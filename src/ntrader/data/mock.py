"""Deterministic mock OHLCV bars: a geometric random walk seeded from the symbol.

The same symbol and date always give the same bar, whatever range is asked for: daily closes
come from one walk that starts on a fixed epoch, and each day's minute bars from a walk seeded
by (symbol, day) that starts at the previous daily close.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from ntrader.data.bars import BAR_COLUMNS, MARKET_TZ, BarSize, empty_bars, parse_bar_size

EPOCH = pd.Timestamp("2000-01-03")
DAILY_VOL = 0.018
DAILY_DRIFT = 0.0001
MINUTES_PER_SESSION = 390


def _seed(*parts: str) -> int:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def trading_days(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Weekdays from start to end inclusive, as naive dates (exchange holidays are not modelled)."""
    return pd.bdate_range(start.normalize(), end.normalize())


def _daily_path(symbol: str, last_day: pd.Timestamp) -> pd.DataFrame:
    days = trading_days(EPOCH, max(last_day, EPOCH))
    rng = np.random.default_rng(_seed("daily", symbol))
    n = len(days)
    start_price = 20.0 + (rng.random() * 280.0)
    # One row of draws per day, so a day's bar does not depend on how many days were asked for.
    draws = rng.standard_normal((n, 4))
    log_returns = DAILY_DRIFT + DAILY_VOL * draws[:, 0]
    close = start_price * np.exp(np.cumsum(log_returns))
    prev_close = np.concatenate(([start_price], close[:-1]))
    open_ = prev_close * np.exp(DAILY_VOL / 4 * draws[:, 1])
    wick_up = np.abs(DAILY_VOL / 2 * draws[:, 2])
    wick_down = np.abs(DAILY_VOL / 2 * draws[:, 3])
    volume = 2_000_000 + np.round(np.abs(draws[:, 0] + draws[:, 2]) * 6_000_000)
    high = np.maximum(open_, close) * (1 + wick_up)
    low = np.minimum(open_, close) * (1 - wick_down)
    return _finish(days.tz_localize("UTC"), open_, high, low, close, volume)


def _finish(
    index: pd.DatetimeIndex,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
) -> pd.DataFrame:
    open_, close = np.round(open_, 2), np.round(close, 2)
    # Rounding to cents must not break the bar's invariants.
    high = np.maximum(np.round(high, 2), np.maximum(open_, close))
    low = np.minimum(np.round(low, 2), np.minimum(open_, close))
    low = np.maximum(low, 0.01)
    frame = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )
    frame.index.name = "timestamp"
    return frame[BAR_COLUMNS]


def _minute_bars(symbol: str, daily: pd.DataFrame, step: int) -> pd.DataFrame:
    per_day = MINUTES_PER_SESSION // step
    offsets = pd.to_timedelta(np.arange(per_day) * step, unit="min") + pd.Timedelta("9h30min")
    sigma = DAILY_VOL / np.sqrt(per_day)
    opens, highs, lows, closes, volumes, stamps = [], [], [], [], [], []
    for day, day_open, day_close in zip(daily.index, daily["open"], daily["close"], strict=True):
        rng = np.random.default_rng(_seed("intraday", symbol, day.strftime("%Y-%m-%d"), str(step)))
        # A Brownian bridge, so the session opens and closes where the daily bar does.
        walk = np.cumsum(rng.normal(0.0, sigma, per_day))
        drift = np.arange(1, per_day + 1) / per_day * (walk[-1] - np.log(day_close / day_open))
        path = day_open * np.exp(walk - drift)
        start = np.concatenate(([day_open], path[:-1]))
        wick = np.abs(rng.normal(0.0, sigma / 2, (2, per_day)))
        opens.append(start)
        closes.append(path)
        highs.append(np.maximum(start, path) * (1 + wick[0]))
        lows.append(np.minimum(start, path) * (1 - wick[1]))
        volumes.append(rng.integers(20_000, 200_000, per_day).astype("float64") * step)
        local = (pd.Timestamp(day.date()) + offsets).tz_localize(MARKET_TZ)
        stamps.append(local.tz_convert("UTC"))
    if not stamps:
        return empty_bars()
    index = pd.DatetimeIndex(np.concatenate([s.tz_localize(None).to_numpy() for s in stamps]))
    index = index.tz_localize("UTC")
    return _finish(
        index,
        np.concatenate(opens),
        np.concatenate(highs),
        np.concatenate(lows),
        np.concatenate(closes),
        np.concatenate(volumes),
    )


def generate_bars(
    symbol: str,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    bar_size: BarSize | str = "1-DAY",
) -> pd.DataFrame:
    """Mock bars for `symbol` on trading days from `start` to `end` (both dates inclusive)."""
    size = parse_bar_size(bar_size) if isinstance(bar_size, str) else bar_size
    first = pd.Timestamp(start).tz_localize(None).normalize()
    last = pd.Timestamp(end).tz_localize(None).normalize()
    if last < first:
        return empty_bars()
    daily = _daily_path(symbol.upper(), last)
    daily = daily.loc[(daily.index >= first.tz_localize("UTC")) & (daily.index <= last.tz_localize("UTC"))]
    if size.is_daily:
        return daily
    if size.unit == "HOUR":
        minutes = _minute_bars(symbol.upper(), daily, 30)
        return _resample(minutes, "60min")
    return _minute_bars(symbol.upper(), daily, size.step)


def _resample(frame: pd.DataFrame, rule: str) -> pd.DataFrame:
    local = frame.tz_convert(MARKET_TZ)
    # Anchor hourly bars at 09:30 like IB's RTH bars, so the last one is the 15:30 half-hour.
    grouped = local.resample(rule, origin="start_day", offset="30min")
    out = grouped.agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    ).dropna()
    out.index = pd.DatetimeIndex(out.index).tz_convert("UTC")
    out.index.name = "timestamp"
    return out[BAR_COLUMNS]
