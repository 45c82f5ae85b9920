"""Return figures of an equity curve: total, CAGR, annual mean and vol, buy-and-hold, exposure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ntrader.errors import InputError
from ntrader.metrics.constants import CALENDAR_DAYS_PER_YEAR as CALENDAR_DAYS_PER_YEAR
from ntrader.metrics.constants import DAYS_PER_YEAR as DAYS_PER_YEAR
from ntrader.metrics.constants import MIN_YEAR_DAYS as MIN_YEAR_DAYS
from ntrader.metrics.constants import TRADING_DAYS_PER_YEAR as TRADING_DAYS_PER_YEAR
from ntrader.metrics.trades import validate_trades

_SECONDS_PER_DAY = 86_400.0

# Conventions shared by the whole metrics package, fixed here so every figure agrees:
# * The equity curve is a mark-to-market Series on a sorted, duplicate-free DatetimeIndex (UTC in
#   ntrader), one point per bar, first value above zero.
# * Ruin: the first bar whose equity is <= 0 ends the curve. Returns after it are undefined (a
#   ratio to zero or to a negative base), so every return and risk figure stops there and that
#   bar counts as exactly zero equity: total return, CAGR and max drawdown are all -100 %.
# * Daily returns use the last equity value of each calendar day that has data (days of the
#   index's own time zone, UTC for ntrader), then simple returns between consecutive such days.
#   The first day is measured from the starting capital (``capital``; without it the curve's
#   first point is the capital), so a run of N days with data has N daily returns.
# * Annualization uses the data's own calendar (:func:`measure_annualization`): days with data
#   a year, measured over the calendar days from the first to the last day with data when that
#   span covers a year (MIN_YEAR_DAYS), as 365.25 x (5/7 x the share of the span's weekdays that
#   have data + 2/7 x the share of its Saturdays and Sundays that have data), rounded: 252 for a
#   year of NYSE data (250 sessions in 2023, 252 in 2024), 365 for 7-day data, 261 for weekday
#   data without holidays. A shorter run has too few holidays to measure and takes 365 when it
#   has data on a Saturday or Sunday (a 7-day market), else 252 (a weekday exchange calendar).
# * Total return and CAGR are measured from the starting capital too. CAGR counts years of
#   365.25 calendar days from the first to the last timestamp; under a year (``short_period``)
#   it extrapolates the growth, so reports show it as "n/a (< 1 year)" and keep the raw value.
# * Exposure is the share of bars at whose close a position was held (see exposure_time).


def validate_equity(equity: pd.Series) -> pd.Series:
    """Return ``equity`` as float64, or raise InputError if it is not a usable equity curve."""
    if not isinstance(equity, pd.Series):
        raise InputError(f"equity must be a pandas Series, not {type(equity).__name__}")
    if not isinstance(equity.index, pd.DatetimeIndex):
        raise InputError("equity must have a DatetimeIndex")
    if equity.empty:
        raise InputError("equity curve is empty")
    if not _strictly_increasing(equity.index):
        raise InputError("equity index must be strictly increasing")
    try:
        values = equity.to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        raise InputError(f"equity values must be numbers: {exc}") from exc
    if not np.isfinite(values).all():
        raise InputError("equity has NaN or infinite values")
    if values[0] <= 0:
        raise InputError(f"equity must start above zero, got {values[0]}")
    # Shared, not copied (a million points: 8 MB per metric); callers that change it copy first.
    return pd.Series(values, index=equity.index, name=equity.name, copy=False)


def _strictly_increasing(index: pd.DatetimeIndex) -> bool:
    """Compared neighbour by neighbour: pandas' `has_duplicates` would build (and keep) a hash table."""
    if index.hasnans:
        return False
    stamps = index.asi8
    return bool((stamps[1:] > stamps[:-1]).all())


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


@dataclass(frozen=True)
class Annualization:
    """How daily figures are annualized: ``factor`` periods a year and how it was found.

    ``basis`` is "measured" (from ``days`` with data over ``span_days`` calendar days),
    "short run: 7-day calendar" or "short run: weekday calendar" for runs under a year.
    """

    factor: int
    basis: str
    days: int
    span_days: int

    @property
    def short_period(self) -> bool:
        """True when the data spans less than a year (MIN_YEAR_DAYS)."""
        return self.span_days < MIN_YEAR_DAYS


MEASURED = "measured"
SHORT_7_DAY = "short run: 7-day calendar"
SHORT_WEEKDAY = "short run: weekday calendar"


def measure_annualization(index: pd.Index | pd.Series) -> Annualization:
    """Periods per year of the data's own calendar, from the days that have bars (see above)."""
    times = pd.DatetimeIndex(index.index if isinstance(index, pd.Series) else index)
    if len(times) == 0:
        raise InputError("cannot measure the calendar of an empty index")
    days = _distinct_days(times)
    span = int((days[-1] - days[0]) / pd.Timedelta(days=1)) + 1
    if span >= MIN_YEAR_DAYS:
        # Weekdays and weekend days are weighed apart, so a span that happens to start on a
        # Tuesday after a holiday and end on a Friday does not inflate the count.
        calendar = pd.date_range(days[0], days[-1], freq="D")
        weekend_span = int((calendar.day_of_week >= 5).sum())
        weekend_data = int((days.day_of_week >= 5).sum())
        rate = 5 / 7 * (len(days) - weekend_data) / (span - weekend_span)
        rate += 2 / 7 * weekend_data / weekend_span
        factor = max(1, round(DAYS_PER_YEAR * rate))
        return Annualization(factor, MEASURED, len(days), span)
    if bool((days.day_of_week >= 5).any()):
        return Annualization(CALENDAR_DAYS_PER_YEAR, SHORT_7_DAY, len(days), span)
    return Annualization(TRADING_DAYS_PER_YEAR, SHORT_WEEKDAY, len(days), span)


def resolve_periods(equity: pd.Series, periods_per_year: int | None) -> int:
    if periods_per_year is None:
        return measure_annualization(equity).factor
    if periods_per_year <= 0:
        raise InputError(f"periods_per_year must be positive, got {periods_per_year}")
    return periods_per_year


def _base(eq: pd.Series, capital: float | None) -> float:
    """The starting capital returns are measured from: ``capital``, else the first point."""
    if capital is None:
        return float(eq.iloc[0])
    if not math.isfinite(capital) or capital <= 0:
        raise InputError(f"capital must be a number above zero, got {capital}")
    return float(capital)


def _distinct_days(times: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The days (midnight) that have data, in order."""
    if not times.is_monotonic_increasing:
        return times.normalize().unique()
    return times[_day_ends(times)].normalize()


def _day_ends(times: pd.DatetimeIndex, step: int = 65_536) -> np.ndarray:
    """Positions of each day's last bar in time-ordered stamps (in their own zone). Midnights are
    taken a slice at a time, each with the stamp after it: no second index of a million stamps."""
    n = len(times)
    parts = []
    for start in range(0, n, step):
        days = times[start : start + step + 1].normalize().asi8
        parts.append(np.flatnonzero(days[1:] != days[:-1]) + start)
    parts.append(np.array([n - 1] if n else [], dtype=np.int64))
    return np.concatenate(parts)


def daily_equity(equity: pd.Series) -> pd.Series:
    """Last equity value of each calendar day that has data, indexed by that day at midnight."""
    eq, _ = stop_at_ruin(equity)  # validated: strictly increasing times, finite values
    times = pd.DatetimeIndex(eq.index)
    last = _day_ends(times)
    if len(last) == len(times):  # one bar a day: the days as they are (their frequency kept)
        return pd.Series(eq.to_numpy(), index=times.normalize(), name=eq.name)
    # normalize() infers a frequency; days picked out of intraday bars have none (the stubs omit None).
    days = pd.DatetimeIndex(times[last].normalize(), freq=None)  # type: ignore[arg-type]
    return pd.Series(eq.to_numpy()[last], index=days, name=eq.name)


def daily_returns(equity: pd.Series, capital: float | None = None) -> pd.Series:
    """Simple returns of :func:`daily_equity`, one per day: the first from ``capital``.

    Without ``capital`` the curve's first point is taken as the starting capital.
    """
    daily = daily_equity(equity)
    base = _base(validate_equity(equity), capital)
    values = np.concatenate(([base], daily.to_numpy()))
    # Explicit ratio instead of pct_change: no fill-method semantics to worry about.
    return pd.Series(values[1:] / values[:-1] - 1.0, index=daily.index, name="daily_return")


def total_return(equity: pd.Series, capital: float | None = None) -> float:
    """Last equity over the starting capital (default: the first point) minus one; -1.0 on ruin."""
    eq, _ = stop_at_ruin(equity)
    return float(eq.iloc[-1] / _base(eq, capital) - 1.0)


def years_between(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Length of [start, end] in years of 365.25 calendar days."""
    return (end - start).total_seconds() / _SECONDS_PER_DAY / DAYS_PER_YEAR


def cagr(equity: pd.Series, capital: float | None = None) -> float | None:
    """Compound annual growth rate over 365.25-day years from the first to the last timestamp.

    Growth is measured from ``capital`` (default: the first point). None for a single point (no
    time elapsed) or when the growth over a very short period is too large to annualize in a
    float; -1.0 on ruin.
    """
    eq, _ = stop_at_ruin(equity)
    years = years_between(pd.Timestamp(eq.index[0]), pd.Timestamp(eq.index[-1]))
    if years <= 0:
        return None
    growth = float(eq.iloc[-1] / _base(eq, capital))
    if growth == 0.0:
        return -1.0
    try:
        return float(growth ** (1.0 / years) - 1.0)
    except OverflowError:
        return None


def annualized_return(
    equity: pd.Series,
    periods_per_year: int | None = None,
    capital: float | None = None,
) -> float | None:
    """Arithmetic mean of daily returns times ``periods_per_year`` (None: measured from the bars)."""
    factor = resolve_periods(equity, periods_per_year)
    returns = daily_returns(equity, capital).to_numpy()
    if returns.size == 0:
        return None
    return float(returns.mean() * factor)


def annualized_volatility(
    equity: pd.Series,
    periods_per_year: int | None = None,
    capital: float | None = None,
) -> float | None:
    """Sample std (ddof=1) of daily returns times sqrt(``periods_per_year``); None under 2 days."""
    factor = resolve_periods(equity, periods_per_year)
    returns = daily_returns(equity, capital).to_numpy()
    if returns.size < 2:
        return None
    return float(returns.std(ddof=1) * math.sqrt(factor))


def buy_and_hold_return(
    closes: pd.Series,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> float | None:
    """Last close over first close minus one within [start, end]; None without usable closes."""
    if not isinstance(closes, pd.Series) or not isinstance(closes.index, pd.DatetimeIndex):
        raise InputError("closes must be a pandas Series with a DatetimeIndex")
    window = closes if closes.index.is_monotonic_increasing else closes.sort_index()
    # [start, end] of a sorted index by binary search: no masks or copies of a million closes.
    low = 0 if start is None else int(window.index.searchsorted(start, side="left"))
    high = len(window) if end is None else int(window.index.searchsorted(end, side="right"))
    values = window.to_numpy(dtype="float64")[low:high]
    finite = np.isfinite(values)
    if not finite.any():
        return None
    first, last = values[int(np.argmax(finite))], values[len(values) - 1 - int(np.argmax(finite[::-1]))]
    if first <= 0:
        return None
    return float(last / first - 1.0)


def exposure_time(
    index: pd.Index | pd.Series,
    trades: pd.DataFrame | None = None,
    *,
    positions: pd.Series | None = None,
    fills_at_open: bool = False,
) -> float:
    """Share (0..1) of bars at whose close a position was held.

    With ``positions`` (bool, or signed quantity per bar after the bar's fills) it is the share
    of bars where it is true / non-zero (NaN counts as flat), and ``index`` is ignored.
    Otherwise bars are ``index`` (bar close times, or an equity Series) and each fill belongs to
    a bar as the equity curve books it: a fill at a bar's close to that bar (the first bar
    closing at or after it); with ``fills_at_open`` (next-open fills) to the first bar closing
    strictly after it, the bar whose open it filled at. A trade is held at the closes of the
    bars from its entry's bar up to, not including, its exit's bar (to the end when open).
    """
    if positions is not None:
        flags = positions.fillna(0).to_numpy()
        if flags.size == 0:
            return 0.0
        return float(np.count_nonzero(flags) / flags.size)
    # One resolution for both sides of searchsorted (pandas 3 infers us for parsed times).
    bars = pd.DatetimeIndex(index.index if isinstance(index, pd.Series) else index)
    if bars.unit != "ns":  # (as_unit copies even an index already in ns)
        bars = bars.as_unit("ns")
    n = len(bars)
    if n == 0:
        return 0.0
    frame = validate_trades(trades)
    if frame.empty:
        return 0.0
    # Nanoseconds since the epoch, UTC (naive bars are read as UTC): the bars' own data, not a copy.
    stamps = bars.asi8
    entries = pd.DatetimeIndex(frame["entry_time"]).asi8  # UTC ns after validation
    exits = pd.DatetimeIndex(frame["exit_time"])
    side: Literal["left", "right"] = "right" if fills_at_open else "left"
    first = np.minimum(np.searchsorted(stamps, entries, side=side), n)
    # Held from the entry's bar up to the bar before the exit's bar; an open trade to the end.
    stop = np.where(exits.isna(), n, np.minimum(np.searchsorted(stamps, exits.asi8, side=side), n))
    # int32 and summed in place: a million bars cost 4 MB, not 16 (fewer than 2**31 open trades).
    marks = np.zeros(n + 1, dtype=np.int32)
    valid = first < stop
    np.add.at(marks, first[valid], 1)
    np.add.at(marks, stop[valid], -1)
    np.cumsum(marks, out=marks)
    return float(np.count_nonzero(marks[:-1]) / n)
