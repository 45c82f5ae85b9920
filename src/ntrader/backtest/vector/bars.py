"""Bars as the vector engine sees them: prices in integer cents, fill times, months, day ends."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ntrader.data.bars import MARKET_TZ, BarSize
from ntrader.errors import InputError
from ntrader.metrics import TRADING_DAYS_PER_YEAR
from ntrader.metrics.returns import DAYS_PER_YEAR, measure_annualization
from ntrader.nautilus_compat import close_offers

# Money.as_double(): the fixed-point raw (cents × 10^14) converted to double, then divided by 10^16.
RAW_PER_CENT = 1e14
RAW_SCALE = 1e16


def to_cents(values: np.ndarray) -> np.ndarray:
    """Prices as Nautilus stores them at 2 decimals: round half away from zero of value × 100."""
    scaled = np.asarray(values, dtype="float64") * 100.0
    return (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int64)


def as_double(cents: np.ndarray) -> np.ndarray:
    """`Price.as_double()` / `Money.as_double()` of amounts in cents, bit for bit."""
    return (np.asarray(cents, dtype="float64") * RAW_PER_CENT) / RAW_SCALE


def _months(times: pd.DatetimeIndex) -> np.ndarray:
    local = times.tz_convert(MARKET_TZ)
    return (local.year * 12 + local.month - 1).to_numpy(dtype=np.int64)


@dataclass(frozen=True)
class VectorBars:
    """One bar frame as arrays: prices in cents, fill times, months for tiers, day ends for metrics."""

    frame: pd.DataFrame
    bar_size: BarSize
    close_c: np.ndarray
    open_c: np.ndarray
    close_f: np.ndarray
    volume: np.ndarray
    #: Shares the engine's book offers at each close (`ntrader.nautilus_compat.close_offers`).
    close_offer: np.ndarray
    close_times: pd.DatetimeIndex
    open_times: pd.DatetimeIndex
    month_close: np.ndarray
    month_open: np.ndarray
    day_end: np.ndarray
    years: float
    # Daily figures annualize with the bars' own calendar, as compute_metrics measures it.
    periods_per_year: int = TRADING_DAYS_PER_YEAR
    #: Whether `close_offer` assumes an opening trade tick before each bar (next-open fills).
    next_open: bool = False

    @property
    def n(self) -> int:
        return len(self.close_c)

    def slice(self, start: int, stop: int) -> VectorBars:
        """Bars [start, stop) as their own VectorBars (walk-forward folds)."""
        return prepare_bars(self.frame.iloc[start:stop], self.bar_size, next_open=self.next_open)

    def kernel_arrays(self) -> tuple[np.ndarray, ...]:
        """(close_c, open_c, close_f, open_f, volume, close_offer, month_close, month_open, day_end) for
        `_simulate`."""
        return (
            self.close_c,
            self.open_c,
            self.close_f,
            as_double(self.open_c),
            self.volume,
            self.close_offer,
            self.month_close,
            self.month_open,
            self.day_end,
        )


def prepare_bars(bars: pd.DataFrame, bar_size: BarSize, *, next_open: bool = False) -> VectorBars:
    """Arrays of `bars` (a bar frame, open-time stamped) as the engine will see them; `next_open`:
    the engine also gets an opening trade tick per bar (it changes what a close offers)."""
    if bars.empty:
        raise InputError("no bars to backtest")
    dividends = bars.attrs.get("dividends")
    if dividends is not None and len(dividends):
        raise InputError(
            f"the vector engine does not credit dividends ({len(dividends)} in the period with "
            "--adjust raw); "
            "use --engine nautilus, or --adjust splits or total-return"
        )
    index = pd.DatetimeIndex(bars.index)
    close_times = bar_size.close_times(index)
    open_times = bar_size.open_times(index)
    close_c = to_cents(bars["close"].to_numpy())
    open_c = to_cents(bars["open"].to_numpy())
    volume = np.nan_to_num(bars["volume"].to_numpy(dtype="float64"))
    prices_c = (open_c, to_cents(bars["high"].to_numpy()), to_cents(bars["low"].to_numpy()), close_c)
    # The equity curve is stamped at close times; metrics take the last point of each UTC day.
    days = close_times.normalize().to_numpy(dtype="datetime64[ns]").view("int64")
    day_end = np.flatnonzero(np.append(days[1:] != days[:-1], True)).astype(np.int64)
    years = (close_times[-1] - close_times[0]).total_seconds() / 86_400.0 / DAYS_PER_YEAR
    return VectorBars(
        frame=bars,
        bar_size=bar_size,
        close_c=close_c,
        open_c=open_c,
        close_f=as_double(close_c),
        volume=volume,
        close_offer=close_offers(prices_c, volume, next_open),
        close_times=close_times,
        open_times=open_times,
        month_close=_months(close_times),
        month_open=_months(open_times),
        day_end=day_end,
        years=years,
        periods_per_year=measure_annualization(close_times).factor,
        next_open=next_open,
    )
