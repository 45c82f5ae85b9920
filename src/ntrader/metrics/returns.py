"""Return figures of an equity curve: total, CAGR, annual mean and vol, buy-and-hold, exposure."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ntrader.errors import InputError
from ntrader.metrics.trades import validate_trades

DAYS_PER_YEAR = 365.25
TRADING_DAYS_PER_YEAR = 252
_SECONDS_PER_DAY = 86_400.0

# Conventions shared by the whole metrics package, fixed here so every figure agrees:
# * The equity curve is a mark-to-market Series on a sorted, duplicate-free DatetimeIndex (UTC in
#   ntrader), one point per bar, first value above zero.
# * Ruin: the first bar whose equity is <= 0 ends the curve. Returns after it are undefined (a
#   ratio to zero or to a negative base), so every return and risk figure stops there and that
#   bar counts as exactly zero equity: total return, CAGR and max drawdown are all -100 %.
# * Daily returns use the last equity value of each calendar day that has data (days of the
#   index's own time zone, UTC for ntrader), then simple returns between consecutive such days,
#   so intraday and daily curves annualize alike with 252 periods. The first day has no return
#   of its own: P&L made on it after the first bar shows in total return and CAGR only.
# * CAGR counts years of 365.25 calendar days from the first to the last timestamp. It is defined
#   for any period longer than zero, also under a year, where it extrapolates the growth.


def validate_equity(equity: pd.Series) -> pd.Series:
    """Return ``equity`` as float64, or raise InputError if it is not a usable equity curve."""
    if not isinstance(equity, pd.Series):
        raise InputError(f"equity must be a pandas Series, not {type(equity).__name__}")
    if not isinstance(equity.index, pd.DatetimeIndex):
        raise InputError("equity must have a DatetimeIndex")
    if equity.empty:
        raise InputError("equity curve is empty")
    if equity.index.has_duplicates or not equity.index.is_monotonic_increasing:
        raise InputError("equity index must be strictly increasing")
    try:
        values = equity.to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        raise InputError(f"equity values must be numbers: {exc}") from exc
    if not np.isfinite(values).all():
        raise InputError("equity has NaN or infinite values")
    if values[0] <= 0:
        raise InputError(f"equity must start above zero, got {values[0]}")
    return pd.Series(values, index=equity.index, name=equity.name)


def stop_at_ruin(equity: pd.Series) -> tuple[pd.Series, pd.Timestamp | None]:
    """Cut the curve at the first bar with equity <= 0 (set to 0); also return that bar's time."""
    eq = validate_equity(equity)
    hits = np.flatnonzero(eq.to_numpy() <= 0)
    if hits.size == 0:
        return eq, None
    ruin = int(hits[0])
    cut = eq.iloc[: ruin + 1].copy()
    # A negative equity (leveraged loss) is still total loss; below zero no ratio means anything.
    cut.iloc[-1] = 0.0
    return cut, pd.Timestamp(eq.index[ruin])


def daily_equity(equity: pd.Series) -> pd.Series:
    """Last equity value of each calendar day that has data, indexed by that day at midnight."""
    eq, _ = stop_at_ruin(equity)
    index = pd.DatetimeIndex(eq.index)
    return eq.groupby(index.normalize()).last()


def daily_returns(equity: pd.Series) -> pd.Series:
    """Simple returns between consecutive days of :func:`daily_equity` (one fewer than days)."""
    daily = daily_equity(equity)
    values = daily.to_numpy()
    # Explicit ratio instead of pct_change: no fill-method semantics to worry about.
    return pd.Series(values[1:] / values[:-1] - 1.0, index=daily.index[1:], name="daily_return")


def total_return(equity: pd.Series) -> float:
    """Last over first equity minus one (-1.0 on ruin); 0.0 for a single point."""
    eq, _ = stop_at_ruin(equity)
    return float(eq.iloc[-1] / eq.iloc[0] - 1.0)


def years_between(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Length of [start, end] in years of 365.25 calendar days."""
    return (end - start).total_seconds() / _SECONDS_PER_DAY / DAYS_PER_YEAR


def cagr(equity: pd.Series) -> float | None:
    """Compound annual growth rate over 365.25-day years from the first to the last timestamp.

    None for a single point (no time elapsed) or when the growth over a very short period is too
    large to annualize in a float; -1.0 on ruin.
    """
    eq, _ = stop_at_ruin(equity)
    years = years_between(pd.Timestamp(eq.index[0]), pd.Timestamp(eq.index[-1]))
    if years <= 0:
        return None
    growth = float(eq.iloc[-1] / eq.iloc[0])
    if growth == 0.0:
        return -1.0
    try:
        return float(growth ** (1.0 / years) - 1.0)
    except OverflowError:
        return None


def annualized_return(
    equity: pd.Series,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> float | None:
    """Arithmetic mean of daily returns times ``periods_per_year``; None without daily returns."""
    returns = daily_returns(equity).to_numpy()
    if returns.size == 0:
        return None
    return float(returns.mean() * periods_per_year)


def annualized_volatility(
    equity: pd.Series,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> float | None:
    """Sample std (ddof=1) of daily returns times sqrt(``periods_per_year``); None under 2 days."""
    returns = daily_returns(equity).to_numpy()
    if returns.size < 2:
        return None
    return float(returns.std(ddof=1) * math.sqrt(periods_per_year))


def buy_and_hold_return(
    closes: pd.Series,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> float | None:
    """Last close over first close minus one within [start, end]; None without usable closes."""
    if not isinstance(closes, pd.Series) or not isinstance(closes.index, pd.DatetimeIndex):
        raise InputError("closes must be a pandas Series with a DatetimeIndex")
    window = closes.sort_index()
    if start is not None:
        window = window[window.index >= start]
    if end is not None:
        window = window[window.index <= end]
    values = window.to_numpy(dtype="float64")
    values = values[np.isfinite(values)]
    if values.size == 0 or values[0] <= 0:
        return None
    return float(values[-1] / values[0] - 1.0)


def exposure_time(
    index: pd.Index | pd.Series,
    trades: pd.DataFrame | None = None,
    *,
    positions: pd.Series | None = None,
) -> float:
    """Fraction (0..1) of bars spent in a position.

    With ``positions`` (bool, or signed quantity per bar) it is the share of bars where it is
    true / non-zero (NaN counts as flat), and ``index`` is ignored. Otherwise bars come from
    ``index`` (or the index of an equity Series) and a bar at time t counts as exposed when a
    trade was open at some moment of the bar's interval (t_prev, t]: ``entry_time <= t`` and
    ``exit_time > t_prev`` (the first bar has t_prev = -inf, an open trade exits at +inf). With
    fills on bar timestamps this counts the entry bar through the exit bar, both inclusive.
    """
    if positions is not None:
        flags = positions.fillna(0).to_numpy()
        if flags.size == 0:
            return 0.0
        return float(np.count_nonzero(flags) / flags.size)
    bars = pd.DatetimeIndex(index.index if isinstance(index, pd.Series) else index)
    n = len(bars)
    if n == 0:
        return 0.0
    frame = validate_trades(trades)
    if frame.empty:
        return 0.0
    entries = _align_tz(pd.DatetimeIndex(frame["entry_time"]), bars)
    exits = _align_tz(pd.DatetimeIndex(frame["exit_time"]), bars)
    first = bars.searchsorted(entries, side="left")
    # Bars i with t_{i-1} < exit: i <= count of bars strictly before exit.
    last = np.where(exits.isna(), n - 1, np.minimum(bars.searchsorted(exits, side="left"), n - 1))
    marks = np.zeros(n + 1, dtype=np.int64)
    valid = first <= last
    np.add.at(marks, first[valid], 1)
    np.add.at(marks, last[valid] + 1, -1)
    return float(np.count_nonzero(np.cumsum(marks[:-1])) / n)


def _align_tz(times: pd.DatetimeIndex, like: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Bring trade times (UTC after validation) to the bars' zone; naive bars are read as UTC."""
    return times.tz_convert(like.tz) if like.tz is not None else times.tz_localize(None)
