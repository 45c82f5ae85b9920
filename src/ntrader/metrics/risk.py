"""Risk figures of an equity curve: drawdowns and their durations, Sharpe, Sortino, Calmar."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ntrader.metrics.returns import cagr, daily_returns, resolve_periods, stop_at_ruin

# Conventions:
# * Drawdowns are negative fractions (-0.25 is 25 % below the running peak), as in empyrical and
#   pyfolio, and are measured bar by bar: an intraday dip counts even if the day closes flat.
# * A drawdown period starts at its peak bar (the last bar at the running high before equity
#   falls) and ends at its recovery bar (the first bar back at or above that high). A period
#   still open at the end runs to the last bar; it has no recovery but its duration counts.
#   Durations are calendar days (fractions for intraday curves). Two durations are reported:
#   the deepest drawdown's (max_drawdown(...).duration_days) and the longest drawdown's
#   (longest_drawdown_duration), which are often different periods.
# * Sharpe and Sortino use daily returns (see returns.py: the first day from the starting
#   capital), a daily risk-free rate of risk_free_rate / periods_per_year, and annualize with
#   sqrt(periods_per_year), measured from the bars unless given. Sortino's
#   downside deviation is sqrt(mean(min(r - rf, 0)^2)) over all days, the textbook definition.
#   Both need two daily returns and are None when the deviation is (numerically) zero.

# Daily-return deviations below this are float noise (a steadily compounding curve yields
# ~1e-19), and dividing by them would print a meaningless ratio of ~1e15.
ZERO_DEVIATION = 1e-12
_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Drawdown:
    """One drawdown: depth (<= 0), peak, trough and recovery times; recovery None if none yet."""

    depth: float
    peak: pd.Timestamp | None
    trough: pd.Timestamp | None
    recovery: pd.Timestamp | None
    duration_days: float


NO_DRAWDOWN = Drawdown(depth=0.0, peak=None, trough=None, recovery=None, duration_days=0.0)


def drawdown_series(equity: pd.Series) -> pd.Series:
    """Equity over its running peak minus one, per bar (<= 0), up to ruin."""
    eq, _ = stop_at_ruin(equity)
    values = eq.to_numpy()
    depth = np.maximum.accumulate(values)  # the running peak, turned into the depth in place
    np.divide(values, depth, out=depth)
    depth -= 1.0
    return pd.Series(depth, index=eq.index, name="drawdown", copy=False)


def drawdowns(equity: pd.Series) -> list[Drawdown]:
    """Every drawdown period in time order."""
    return list(_each_drawdown(equity))


def _each_drawdown(equity: pd.Series, step: int = 65_536) -> Iterator[Drawdown]:
    """The drawdown periods one at a time (a random walk over a million bars has tens of thousands:
    the figures below never hold them all), from `step` bars of depth at a time (the running peak
    carried over): never a second curve-long array."""
    eq, _ = stop_at_ruin(equity)
    values = eq.to_numpy()
    times = pd.DatetimeIndex(eq.index)
    n = len(values)
    high = -math.inf
    under_way: tuple[int, int, float] | None = None  # (start, trough, depth) not yet recovered
    for offset in range(0, n, step):
        chunk = values[offset : offset + step]
        depth = np.maximum.accumulate(chunk)  # as drawdown_series: chunk / running peak - 1
        np.maximum(depth, high, out=depth)
        high = float(depth[-1])
        np.divide(chunk, depth, out=depth)
        depth -= 1.0
        under = depth < 0
        # Runs of equal state in this chunk; the first bar is never underwater, so start >= 1.
        cuts = [0, *(np.flatnonzero(under[1:] != under[:-1]) + 1).tolist(), len(chunk)]
        for first, stop in itertools.pairwise(cuts):
            if not under[first]:
                if under_way is not None:
                    yield _drawdown(times, *under_way, offset + first)
                    under_way = None
                continue
            trough = first + int(np.argmin(depth[first:stop]))  # the earliest on a tie
            if under_way is None:
                under_way = (offset + first, offset + trough, float(depth[trough]))
            elif depth[trough] < under_way[2]:
                under_way = (under_way[0], offset + trough, float(depth[trough]))
    if under_way is not None:
        yield _drawdown(times, *under_way, n)


def _drawdown(times: pd.DatetimeIndex, start: int, trough: int, depth: float, stop: int) -> Drawdown:
    """Underwater from bar `start` up to `stop` (its recovery bar; len(times): not recovered)."""
    recovered = stop < len(times)
    peak_time = pd.Timestamp(times[start - 1])
    end_time = pd.Timestamp(times[stop] if recovered else times[-1])
    return Drawdown(
        depth=depth,
        peak=peak_time,
        trough=pd.Timestamp(times[trough]),
        recovery=end_time if recovered else None,
        duration_days=(end_time - peak_time).total_seconds() / _SECONDS_PER_DAY,
    )


def max_drawdown(equity: pd.Series) -> Drawdown:
    """The deepest drawdown (the earliest on a tie); depth 0.0 and no dates if never under water."""
    return min(_each_drawdown(equity), key=lambda period: period.depth, default=NO_DRAWDOWN)


def longest_drawdown_duration(equity: pd.Series) -> float:
    """Longest drawdown period in calendar days, an unrecovered one included; 0.0 if none.

    Not necessarily the deepest drawdown's duration: that is ``max_drawdown(equity).duration_days``.
    """
    return max((period.duration_days for period in _each_drawdown(equity)), default=0.0)


def average_drawdown_duration(equity: pd.Series) -> float | None:
    """Mean drawdown period in calendar days, an unrecovered one included; None if none."""
    durations = [period.duration_days for period in _each_drawdown(equity)]
    if not durations:
        return None
    return float(np.mean(durations))


def _excess_daily_returns(
    equity: pd.Series,
    risk_free_rate: float,
    periods_per_year: int,
    capital: float | None,
) -> np.ndarray:
    return daily_returns(equity, capital).to_numpy() - risk_free_rate / periods_per_year


def sharpe_ratio(
    equity: pd.Series,
    risk_free_rate: float = 0.0,
    periods_per_year: int | None = None,
    capital: float | None = None,
) -> float | None:
    """Annualized Sharpe ratio of daily returns; ``risk_free_rate`` is annual.

    ``periods_per_year`` None measures it from the bars (see measure_annualization); the first
    day's return is measured from ``capital`` (default: the curve's first point).
    """
    periods_per_year = resolve_periods(equity, periods_per_year)
    excess = _excess_daily_returns(equity, risk_free_rate, periods_per_year, capital)
    if excess.size < 2:
        return None
    deviation = float(excess.std(ddof=1))
    if deviation <= ZERO_DEVIATION:
        return None
    return float(excess.mean() / deviation * math.sqrt(periods_per_year))


def sortino_ratio(
    equity: pd.Series,
    risk_free_rate: float = 0.0,
    periods_per_year: int | None = None,
    capital: float | None = None,
) -> float | None:
    """Annualized Sortino ratio of daily returns; None when no day is below the risk-free rate."""
    periods_per_year = resolve_periods(equity, periods_per_year)
    excess = _excess_daily_returns(equity, risk_free_rate, periods_per_year, capital)
    if excess.size < 2:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside <= ZERO_DEVIATION:
        return None
    return float(excess.mean() / downside * math.sqrt(periods_per_year))


def calmar_ratio(equity: pd.Series, capital: float | None = None) -> float | None:
    """CAGR over the absolute max drawdown; None without a drawdown or a CAGR."""
    growth = cagr(equity, capital)
    depth = max_drawdown(equity).depth
    if growth is None or depth == 0.0:
        return None
    return growth / abs(depth)
