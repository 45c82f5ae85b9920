"""Vectorized screen: the built-in strategies re-implemented over numpy arrays, a whole grid at a time.

The Nautilus engine is the reference; this module reproduces its trades exactly (same bars, same
quantities, prices and commissions) at a few hundred times its speed, so a sweep can screen
thousands of parameter sets and confirm only the best ones in Nautilus. How it stays exact:

- Prices are what Nautilus sees: each bar price rounded to the instrument's cents the way
  `Price(value, 2)` rounds (half away from zero of ``value * 100``), kept as integer cents.
  Cash is integer cents too (Nautilus's `Money` is fixed point), so no float drift accumulates.
- Signals are decided in exact integer arithmetic where possible: the SMA crossover compares
  rolling sums of cents exactly, as `SMACrossover` does (a tie is a tie: "not above"), and the
  Bollinger exit too. Where a float test is too close to call (the Bollinger entry) the bar is
  decided again with the very float operations the strategy performs (numpy's mean/std for the
  band, Wilder's recursion for the RSI).
- Orders follow `ntrader.strategies.base`: sized at the fill price (the close, or the next open in
  next-open mode) as `floor(equity * position_pct / price)` on `Money.as_double()`-identical floats,
  cut to what the cash covers after the order's costs; every entry is taken flat; an entry on the
  last bar is not opened. The screen is long-only: `allow_short=true` (which Nautilus runs on a
  margin account) is refused here and swept with `--engine nautilus`.
- Liquidity (`ntrader.backtest.fills`): with `bar-volume` an order above what the bar offers at one
  price (a quarter of its volume at the close, its volume at the open) fills in two parts, the rest
  one cent worse, each part charged as Nautilus's fee model charges it; `unlimited` fills whole.
- Costs are `CommissionModel.order_total` in exact integer arithmetic: the broker's commission over
  a common denominator for the rates, bps, minimum and cap, tiers applied marginally from the New
  York month's volume, half-up rounding to cents; then each fee line (per share, per value, per
  commission; sale-only lines skipped on buys) over its own denominator, rounded half-up to cents.

Signals depend on the position only through "flat or long", and sizing on the cash, so the
position/cash recursion is sequential per combination: a compiled (numba) loop walks the bars of
one combination in a few milliseconds per million bars; signals and indicators are numpy over
all bars, shared across the grid (one rolling-sum row per distinct period). numba pays here: the
per-bar loop also yields the mark-to-market equity, the daily equity for Sharpe/CAGR and the
bar-by-bar drawdown without materialising a (combinations × bars) matrix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import reduce
from typing import Any

import numba
import numpy as np
import pandas as pd

from ntrader.backtest.costs import CommissionModel, parse_commission
from ntrader.backtest.engine import Fill, RunResult, equity_curve, make_equity, round_trips
from ntrader.backtest.fills import (
    DEFAULT_LIQUIDITY,
    FILL_NEXT_OPEN,
    LIQUIDITY_UNLIMITED,
    parse_fill_at,
    parse_liquidity,
)
from ntrader.data.bars import MARKET_TZ, BarSize
from ntrader.errors import InputError
from ntrader.metrics import TRADING_DAYS_PER_YEAR
from ntrader.metrics.returns import DAYS_PER_YEAR, cagr, measure_annualization, total_return
from ntrader.metrics.risk import ZERO_DEVIATION, calmar_ratio, max_drawdown, sharpe_ratio

ENGINE_VERSION = "ntrader vector screen 1"
# Relative gap under which a float test (Bollinger entry) is re-decided with the strategy's own ops.
_CLOSE_CALL = 1e-9
# Money.as_double(): the fixed-point raw (cents × 10^14) converted to double, then divided by 10^16.
_RAW_PER_CENT = 1e14
_RAW_SCALE = 1e16
_NO_TIER_LIMIT = np.iinfo(np.int64).max


# Bars ---------------------------------------------------------------------------------------------


def to_cents(values: np.ndarray) -> np.ndarray:
    """Prices as Nautilus stores them at 2 decimals: round half away from zero of value × 100."""
    scaled = np.asarray(values, dtype="float64") * 100.0
    return (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int64)


def as_double(cents: np.ndarray) -> np.ndarray:
    """`Price.as_double()` / `Money.as_double()` of amounts in cents, bit for bit."""
    return (np.asarray(cents, dtype="float64") * _RAW_PER_CENT) / _RAW_SCALE


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
    close_times: pd.DatetimeIndex
    open_times: pd.DatetimeIndex
    month_close: np.ndarray
    month_open: np.ndarray
    day_end: np.ndarray
    years: float
    # Daily figures annualize with the bars' own calendar, as compute_metrics measures it.
    periods_per_year: int = TRADING_DAYS_PER_YEAR

    @property
    def n(self) -> int:
        return len(self.close_c)

    def slice(self, start: int, stop: int) -> VectorBars:
        """Bars [start, stop) as their own VectorBars (walk-forward folds)."""
        return prepare_bars(self.frame.iloc[start:stop], self.bar_size)


def prepare_bars(bars: pd.DataFrame, bar_size: BarSize) -> VectorBars:
    """Arrays of `bars` (a bar frame, open-time stamped) as the engine will see them."""
    if bars.empty:
        raise InputError("no bars to backtest")
    index = pd.DatetimeIndex(bars.index)
    close_times = bar_size.close_times(index)
    open_times = bar_size.open_times(index)
    close_c = to_cents(bars["close"].to_numpy())
    # The equity curve is stamped at close times; metrics take the last point of each UTC day.
    days = close_times.normalize().to_numpy(dtype="datetime64[ns]").view("int64")
    day_end = np.flatnonzero(np.append(days[1:] != days[:-1], True)).astype(np.int64)
    years = (close_times[-1] - close_times[0]).total_seconds() / 86_400.0 / DAYS_PER_YEAR
    return VectorBars(
        frame=bars,
        bar_size=bar_size,
        close_c=close_c,
        open_c=to_cents(bars["open"].to_numpy()),
        close_f=as_double(close_c),
        volume=np.nan_to_num(bars["volume"].to_numpy(dtype="float64")),
        close_times=close_times,
        open_times=open_times,
        month_close=_months(close_times),
        month_open=_months(open_times),
        day_end=day_end,
        years=years,
        periods_per_year=measure_annualization(close_times).factor,
    )


# Commissions in exact integer arithmetic -----------------------------------------------------------


@dataclass(frozen=True)
class _CommissionTerms:
    """A CommissionModel over a common denominator D: every amount in units of 1/D cent."""

    denominator: int
    tier_last: np.ndarray  # last share of the month each tier covers (inclusive); max int = no limit
    tier_rate: np.ndarray  # per-share rate, units of 1/D cent
    bps: int  # per cent of notional, units of 1/D cent
    minimum: int
    cap: int  # per cent of notional; -1 = no cap
    # One row per fee line: basis (0 per share, 1 per cent of value, 2 per cent of commission),
    # numerator and denominator of its rate in cents per basis unit, maximum in cents (-1 none),
    # 1 when it applies to sales only.
    lines: np.ndarray


_FEE_BASES = {"share": 0, "value": 1, "commission": 2}


def _fee_lines(model: CommissionModel) -> np.ndarray:
    rows = []
    for line in model.fees:
        rate = Fraction(line.rate) * (100 if line.basis == "share" else 1)
        maximum = -1 if line.maximum is None else int(Fraction(line.maximum) * 100)
        rows.append(
            [_FEE_BASES[line.basis], rate.numerator, rate.denominator, maximum, int(line.sides == "sell")]
        )
    return np.array(rows, dtype=np.int64).reshape(len(rows), 5)


def _commission_terms(model: CommissionModel) -> _CommissionTerms:
    rates = [Fraction(rate) * 100 for _, rate in model.tiers] or [Fraction(0)]
    bps = Fraction(model.bps) / 10_000
    minimum = Fraction(model.minimum) * 100
    cap = Fraction(model.max_fraction) if model.max_fraction is not None else None
    parts = [*rates, bps, minimum] + ([cap] if cap is not None else [])
    d = reduce(math.lcm, (p.denominator for p in parts), 1)
    last = [_NO_TIER_LIMIT if limit is None else limit for limit, _ in model.tiers] or [_NO_TIER_LIMIT]
    return _CommissionTerms(
        denominator=d,
        tier_last=np.array(last, dtype=np.int64),
        tier_rate=np.array([int(r * d) for r in rates], dtype=np.int64),
        bps=int(bps * d),
        minimum=int(minimum * d),
        cap=-1 if cap is None else int(cap * d),
        lines=_fee_lines(model),
    )


@numba.njit(cache=True, nogil=True)
def _commission(  # type: ignore[no-untyped-def]
    side, qty, notional_c, month_volume, tier_last, tier_rate, bps, minimum, cap, denominator, lines
):
    """`CommissionModel.order_total` in cents for an order (`side` +1 buy, -1 sell) of `qty` shares
    worth `notional_c` cents, `month_volume` shares into the month."""
    if qty <= 0:
        return 0
    amount = notional_c * bps
    start = month_volume
    left = qty
    for k in range(len(tier_last)):
        if left <= 0:
            break
        if start < tier_last[k]:
            take = min(left, tier_last[k] - start)
            amount += take * tier_rate[k]
            start += take
            left -= take
    if amount < minimum:
        amount = minimum
    if cap >= 0 and amount > notional_c * cap:
        amount = notional_c * cap
    # ROUND_HALF_UP of amount / denominator (amounts are never negative).
    commission = (2 * amount + denominator) // (2 * denominator)
    total = commission
    for j in range(lines.shape[0]):
        if lines[j, 4] == 1 and side > 0:
            continue
        basis = lines[j, 0]
        base = qty if basis == 0 else (notional_c if basis == 1 else commission)
        fee = (2 * base * lines[j, 1] + lines[j, 2]) // (2 * lines[j, 2])
        if lines[j, 3] >= 0 and fee > lines[j, 3]:
            fee = lines[j, 3]
        total += fee
    return total


# The per-bar loop --------------------------------------------------------------------------------

# Columns of the fills record: bar index, +1 buy / -1 sell, quantity, price (cents), commission
# (cents), 1 when filled at the bar's open.
_FILL_COLUMNS = 6


@numba.njit(cache=True, nogil=True)
def _mark(cash, pos, close_c, start, stop, equity, keep_equity, day_end, daily, state):  # type: ignore[no-untyped-def]
    """Mark bars [start, stop) to market with a constant cash and position: equity, daily equity,
    running peak and maximum drawdown. `state` holds [peak, max drawdown, next day, ruined]."""
    peak = state[0]
    max_dd = state[1]
    next_day = int(state[2])
    ruined = state[3]
    n_days = len(day_end)
    for i in range(start, stop):
        value = (cash + pos * close_c[i]) / 100.0
        if keep_equity:
            equity[i] = value
        if value > peak:
            peak = value
        elif value < peak * (1.0 + max_dd) * (1.0 + 1e-12):
            # A division per bar would cost more than the rest of the loop: only bars that may
            # set a new maximum drawdown (with a margin for rounding) get the exact figure.
            dd = value / peak - 1.0
            if dd < max_dd:
                max_dd = dd
        if value <= 0.0:
            ruined = 1.0
        if next_day < n_days and day_end[next_day] == i:
            daily[next_day] = value
            next_day += 1
    state[0] = peak
    state[1] = max_dd
    state[2] = next_day
    state[3] = ruined


@numba.njit(cache=True, nogil=True)
def _fill_order(  # type: ignore[no-untyped-def]
    side, qty, px, available, month_volume, terms, fee_lines, fills, n_fills, bar, at_open
):
    """Fill one market order of `qty` shares at `px` cents as Nautilus's bar execution does: up to
    `available` shares at `px`, the rest one tick (cent) worse, the order's costs charged across its
    fills (each fill pays the order's costs so far minus what earlier fills paid). Records the
    fills (when `fills` has rows) and returns (cash change in cents, fills recorded, split 0/1)."""
    tier_last, tier_rate, bps, minimum, cap, denominator = terms
    first = qty if available < 0 or qty <= available else available
    rest = qty - first
    worse = px + side
    fee_first = 0
    if first > 0:
        fee_first = _commission(
            side,
            first,
            first * px,
            month_volume,
            tier_last,
            tier_rate,
            bps,
            minimum,
            cap,
            denominator,
            fee_lines,
        )
    notional = first * px + rest * worse
    fee_rest = 0
    if rest > 0:
        total = _commission(
            side, qty, notional, month_volume, tier_last, tier_rate, bps, minimum, cap, denominator, fee_lines
        )
        fee_rest = max(total - fee_first, 0)
    if fills.shape[0] > 0:
        for part_qty, part_px, part_fee in ((first, px, fee_first), (rest, worse, fee_rest)):
            if part_qty > 0:
                fills[n_fills, 0] = bar
                fills[n_fills, 1] = side
                fills[n_fills, 2] = part_qty
                fills[n_fills, 3] = part_px
                fills[n_fills, 4] = part_fee
                fills[n_fills, 5] = at_open
                n_fills += 1
    return -side * notional - fee_first - fee_rest, n_fills, 1 if (first > 0 and rest > 0) else 0


@numba.njit(cache=True, nogil=True)
def _affordable(target, px, cash, available, month_volume, terms, fee_lines):  # type: ignore[no-untyped-def]
    """`affordable_quantity` of `ntrader.strategies.base`, in the same integer cents."""
    if target < 1:
        return 0
    tier_last, tier_rate, bps, minimum, cap, denominator = terms
    slipped = 0 if available < 0 else max(target - available, 0)
    notional = target * px + slipped
    total = notional + _commission(
        1, target, notional, month_volume, tier_last, tier_rate, bps, minimum, cap, denominator, fee_lines
    )
    if total <= cash:
        return target
    extra = total - target * px
    return max(0, min(target - 1, (cash - extra) // px))


@numba.njit(cache=True, nogil=True)
def _available(volume, at_open, unlimited):  # type: ignore[no-untyped-def]
    """`available_at_price` of `ntrader.strategies.base` (-1: unlimited)."""
    if unlimited:
        return -1
    if at_open:
        return max(math.floor(volume + 0.5), 1)
    return math.floor(volume / 4.0 + 0.5)


@numba.njit(cache=True, nogil=True)
def _simulate(  # type: ignore[no-untyped-def]
    entry,
    exit_,
    bars,
    flags,
    capital_c,
    pct,
    terms,
    fee_lines,
    trade_from,
    fills,
    equity,
    daily,
):
    """Walk one combination's bars: fills (if `fills` has rows), per-bar equity (if `equity` has
    rows), daily equity; returns (fills, cash cents, position, max drawdown, ruined, split orders,
    unfilled at end, entries skipped on the last bar).

    `bars`: (close_c, open_c, close_f, open_f, volume, month_close, month_open, day_end); `flags`:
    (next_open, unlimited liquidity, liquidate at the last close). Cash and position change only on
    signal bars and the bars after them (next-open fills), so the loop jumps from event to event and
    marks the bars in between in a tight inner loop.
    """
    close_c, open_c, close_f, open_f, volume, month_close, month_open, day_end = bars
    next_open, unlimited, liquidate = flags
    n = len(close_c)
    cash = capital_c
    pos = 0
    month = -1
    month_volume = 0
    pending = 0  # next-open: +1 enter long, -1 exit, waiting for the next bar's open
    n_fills = 0
    split = 0
    skipped = 0
    state = np.zeros(4)
    keep_equity = equity.shape[0] > 0
    e_i = 0
    x_i = 0
    i = 0
    while i < n:
        # The next bar where anything can happen: a pending fill, a signal, the forced last exit.
        while e_i < len(entry) and entry[e_i] < i:
            e_i += 1
        while x_i < len(exit_) and exit_[x_i] < i:
            x_i += 1
        event = n - 1 if liquidate else n
        if pending != 0:
            event = i
        if e_i < len(entry) and entry[e_i] < event:
            event = entry[e_i]
        if x_i < len(exit_) and exit_[x_i] < event:
            event = exit_[x_i]
        if event > i:
            _mark(cash, pos, close_c, i, min(event, n), equity, keep_equity, day_end, daily, state)
            if event >= n:
                break
            i = event
        # 1. A decision of the previous bar is carried out at this bar's open (next-open mode),
        #    sized from that open.
        if pending != 0:
            if month_open[i] != month:
                month = month_open[i]
                month_volume = 0
            available = _available(volume[i], True, unlimited)
            qty = pos
            if pending > 0:
                balance = (float(cash) * 1e14) / 1e16
                target = math.floor(balance * pct / open_f[i])
                qty = _affordable(target, open_c[i], cash, available, month_volume, terms, fee_lines)
            if qty > 0:
                delta, n_fills, parts = _fill_order(
                    pending, qty, open_c[i], available, month_volume, terms, fee_lines, fills, n_fills, i, 1
                )
                cash += delta
                pos += pending * qty
                month_volume += qty
                split += parts
            pending = 0
        # 2. The strategy's decision on this bar's close.
        side = 0
        if i >= trade_from:
            if e_i < len(entry) and entry[e_i] == i:
                if pos == 0:
                    side = 1
            elif x_i < len(exit_) and exit_[x_i] == i and pos > 0:
                side = -1
        last_exit = liquidate and i == n - 1
        if last_exit and pos > 0:
            side = -1
        if side != 0 and next_open and not last_exit:
            if i < n - 1:
                pending = side
            else:
                skipped += 1  # no next open: unfilled at end
        elif side != 0:
            qty = pos
            available = _available(volume[i], False, unlimited)
            if month_close[i] != month:
                month = month_close[i]
                month_volume = 0
            if side > 0:
                if i == n - 1:
                    skipped += 1  # an entry on the last bar is not opened
                    qty = 0
                else:
                    balance = (float(cash) * 1e14) / 1e16
                    target = math.floor(balance * pct / close_f[i])
                    qty = _affordable(target, close_c[i], cash, available, month_volume, terms, fee_lines)
            if qty > 0:
                delta, n_fills, parts = _fill_order(
                    side, qty, close_c[i], available, month_volume, terms, fee_lines, fills, n_fills, i, 0
                )
                cash += delta
                pos += side * qty
                month_volume += qty
                split += parts
        # 3. Mark this bar to market at its close.
        _mark(cash, pos, close_c, i, i + 1, equity, keep_equity, day_end, daily, state)
        i += 1
    return n_fills, cash, pos, state[1], state[3] > 0, split, skipped


@numba.njit(cache=True, nogil=True)
def _sma_crosses(sum_fast, sum_slow, fast, slow):  # type: ignore[no-untyped-def]
    """Bars where SMA(fast) crosses above / below SMA(slow), from exact integer rolling sums.

    fast mean > slow mean  ⟺  sum_fast × slow > sum_slow × fast, exactly in cents; an exact tie is
    "not above" (the rule `SMACrossover` states and applies in the same integers).
    """
    n = len(sum_fast)
    up = np.empty(n, dtype=np.int64)
    down = np.empty(n, dtype=np.int64)
    n_up = 0
    n_down = 0
    was_above = False
    for i in range(slow - 1, n):
        above = sum_fast[i] * slow - sum_slow[i] * fast > 0
        if i >= slow:
            if above and not was_above:
                up[n_up] = i
                n_up += 1
            elif was_above and not above:
                down[n_down] = i
                n_down += 1
        was_above = above
    return up[:n_up].copy(), down[:n_down].copy()


# Signals -------------------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def wilder_rsi(close_f, period):  # type: ignore[no-untyped-def]
    """`WilderRSI.update` over every close, with its exact float operations (NaN while undefined)."""
    n = len(close_f)
    out = np.full(n, np.nan)
    gain_avg = 0.0
    loss_avg = 0.0
    for i in range(1, n):
        change = close_f[i] - close_f[i - 1]
        gain = max(change, 0.0)
        loss = max(-change, 0.0)
        if i <= period:
            gain_avg += gain / period
            loss_avg += loss / period
            if i < period:
                continue
        else:
            gain_avg = (gain_avg * (period - 1) + gain) / period
            loss_avg = (loss_avg * (period - 1) + loss) / period
        if loss_avg == 0.0:
            out[i] = 100.0 if gain_avg > 0 else 50.0
        else:
            out[i] = 100.0 - 100.0 / (1.0 + gain_avg / loss_avg)
    return out


class SignalCache:
    """Indicators shared by every combination of a grid on one set of bars (computed once each)."""

    def __init__(self, bars: VectorBars) -> None:
        self.bars = bars
        c = bars.close_c
        self._cum = np.concatenate(([0], np.cumsum(c)))
        self._cum_sq: np.ndarray | None = None
        self._sums: dict[int, np.ndarray] = {}
        self._rsi: dict[int, np.ndarray] = {}

    def rolling_sum(self, period: int) -> np.ndarray:
        """Exact integer sum of the last `period` closes in cents (valid from index period - 1)."""
        if period not in self._sums:
            out = np.zeros(self.bars.n, dtype=np.int64)
            if period <= self.bars.n:
                out[period - 1 :] = self._cum[period:] - self._cum[:-period]
            self._sums[period] = out
        return self._sums[period]

    def rolling_sum_sq(self, period: int) -> np.ndarray:
        if self._cum_sq is None:
            # Exact while cents² × bars < 9.2e18: a $10 000 price over 90 000 bars, ample per window.
            self._cum_sq = np.concatenate(([0], np.cumsum(self.bars.close_c * self.bars.close_c)))
        out = np.zeros(self.bars.n, dtype=np.int64)
        if period <= self.bars.n:
            out[period - 1 :] = self._cum_sq[period:] - self._cum_sq[:-period]
        return out

    def rsi(self, period: int) -> np.ndarray:
        if period not in self._rsi:
            self._rsi[period] = wilder_rsi(self.bars.close_f, period)
        return self._rsi[period]


def _no_signal() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


def sma_signals(cache: SignalCache, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Bars where SMA(fast) crosses above / below SMA(slow), as `SMACrossover` decides them."""
    if params.get("allow_short"):
        raise InputError("the vector engine is long-only: sweep allow_short=true with --engine nautilus")
    fast, slow = int(params["fast_period"]), int(params["slow_period"])
    if slow >= cache.bars.n:
        return _no_signal(), _no_signal()
    return _sma_crosses(cache.rolling_sum(fast), cache.rolling_sum(slow), fast, slow)  # type: ignore[no-any-return]


def _numpy_band(close_f: np.ndarray, i: int, lookback: int, num_std: float) -> tuple[float, float]:
    window = close_f[i - lookback + 1 : i + 1]
    mean = float(window.mean())
    return mean, mean - num_std * float(window.std())


def mean_reversion_signals(cache: SignalCache, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Bars where the close is below the lower Bollinger band / back at the mean (`MeanReversion`)."""
    lookback, num_std = int(params["lookback"]), float(params["num_std"])
    bars = cache.bars
    if lookback > bars.n:
        return _no_signal(), _no_signal()
    start = lookback - 1
    c = bars.close_c[start:]
    s = cache.rolling_sum(lookback)[start:]
    q = cache.rolling_sum_sq(lookback)[start:]
    # In units of cents × lookback: the distance below the mean and the band's half width.
    below = (s - lookback * c).astype("float64")
    width = num_std * np.sqrt(np.maximum(lookback * q - s * s, 0).astype("float64"))
    gap = below - width
    entry = gap > 0
    close_calls = np.flatnonzero(np.abs(gap) <= _CLOSE_CALL * (np.abs(below) + width + 1.0))
    # close >= mean ⟺ lookback × close >= sum, exactly; only an exact equality needs the float mean.
    exit_ = lookback * c > s
    equal = np.flatnonzero(lookback * c == s)
    for k in np.union1d(close_calls, equal).tolist():
        mean, lower = _numpy_band(bars.close_f, k + start, lookback, num_std)
        close = bars.close_f[k + start]
        entry[k] = close < lower
        exit_[k] = close >= mean
    return np.flatnonzero(entry) + start, np.flatnonzero(exit_) + start


def momentum_signals(cache: SignalCache, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Bars where Wilder's RSI turns up through `oversold` / down through `overbought` (`Momentum`)."""
    rsi = cache.rsi(int(params["rsi_period"]))
    oversold, overbought = float(params["oversold"]), float(params["overbought"])
    prev, value = rsi[:-1], rsi[1:]
    entry = (prev <= oversold) & (oversold < value)
    exit_ = (prev >= overbought) & (overbought > value)
    return np.flatnonzero(entry) + 1, np.flatnonzero(exit_) + 1


SignalFunction = Callable[[SignalCache, dict[str, Any]], tuple[np.ndarray, np.ndarray]]
VECTOR_SIGNALS: dict[str, SignalFunction] = {
    "sma": sma_signals,
    "mean_reversion": mean_reversion_signals,
    "momentum": momentum_signals,
}


def has_vector(strategy: str) -> bool:
    """True when the strategy (a built-in's canonical name) has a vector implementation."""
    return strategy in VECTOR_SIGNALS


# Running combinations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VectorSettings:
    """Everything but the strategy parameters: capital, commission model, fill mode, liquidity."""

    capital: float
    commission: CommissionModel
    fill_at: str
    liquidity: str = DEFAULT_LIQUIDITY

    @classmethod
    def of(
        cls,
        capital: float,
        commission: str | CommissionModel,
        fill_at: str,
        liquidity: str = DEFAULT_LIQUIDITY,
    ) -> VectorSettings:
        if capital <= 0:
            raise InputError(f"capital must be greater than 0, got {capital}")
        return cls(
            float(capital), parse_commission(commission), parse_fill_at(fill_at), parse_liquidity(liquidity)
        )


@dataclass
class VectorRun:
    """One combination's outcome: summary figures, and the fills/equity when asked for."""

    params: dict[str, Any]
    final_equity: float
    daily_equity: np.ndarray
    max_drawdown: float
    ruined: bool
    #: Orders filled in two parts (thin volume at one price, the rest one tick worse).
    split_orders: int
    #: Decisions on the last bar: entries not opened (close fills) or never filled (next-open).
    skipped_at_end: int = 0
    fills: np.ndarray | None = None
    equity: np.ndarray | None = None
    cash_c: int = 0
    position: int = 0


def _run_one(
    bars: VectorBars,
    signals: tuple[np.ndarray, np.ndarray],
    params: dict[str, Any],
    settings: VectorSettings,
    terms: _CommissionTerms,
    *,
    detail: bool,
    trade_from: int = 0,
    liquidate: bool = False,
    capital: float | None = None,
) -> VectorRun:
    entry, exit_ = signals
    capital_c = round((settings.capital if capital is None else capital) * 100)
    # Every order fills in at most two parts.
    fills = np.zeros((4 * (len(entry) + 1) if detail else 0, _FILL_COLUMNS), dtype=np.int64)
    equity = np.zeros(bars.n if detail else 0)
    daily = np.zeros(len(bars.day_end))
    n_fills, cash, pos, max_dd, ruined, split, skipped = _simulate(
        entry,
        exit_,
        (
            bars.close_c,
            bars.open_c,
            bars.close_f,
            as_double(bars.open_c),
            bars.volume,
            bars.month_close,
            bars.month_open,
            bars.day_end,
        ),
        (settings.fill_at == FILL_NEXT_OPEN, settings.liquidity == LIQUIDITY_UNLIMITED, liquidate),
        capital_c,
        float(params.get("position_pct", 0.95)),
        (terms.tier_last, terms.tier_rate, terms.bps, terms.minimum, terms.cap, terms.denominator),
        terms.lines,
        trade_from,
        fills,
        equity,
        daily,
    )
    final = (cash + pos * int(bars.close_c[-1])) / 100.0
    return VectorRun(
        params=params,
        final_equity=final,
        daily_equity=daily,
        max_drawdown=float(max_dd),
        ruined=bool(ruined),
        split_orders=int(split),
        skipped_at_end=int(skipped),
        fills=fills[:n_fills] if detail else None,
        equity=equity if detail else None,
        cash_c=int(cash),
        position=int(pos),
    )


def _signal_function(strategy: str) -> SignalFunction:
    try:
        return VECTOR_SIGNALS[strategy]
    except KeyError:
        raise InputError(
            f"strategy {strategy!r} has no vector implementation; sweep it with --engine nautilus"
        ) from None


def simulate(
    bars: VectorBars,
    strategy: str,
    params: dict[str, Any],
    settings: VectorSettings,
    *,
    cache: SignalCache | None = None,
    detail: bool = True,
    trade_from: int = 0,
    liquidate: bool = False,
    capital: float | None = None,
) -> VectorRun:
    """One combination on `bars`. Bars before `trade_from` only warm the indicators up;
    `liquidate` sells any position at the last bar's close; `capital` overrides the settings'."""
    signals = _signal_function(strategy)(cache or SignalCache(bars), params)
    terms = _commission_terms(settings.commission)
    return _run_one(
        bars,
        signals,
        params,
        settings,
        terms,
        detail=detail,
        trade_from=trade_from,
        liquidate=liquidate,
        capital=capital,
    )


def fills_of(bars: VectorBars, run: VectorRun, settings: VectorSettings) -> list[Fill]:
    """The run's fills as the Nautilus engine reports them (times: close, or the open it filled at)."""
    assert run.fills is not None
    out = []
    for i, side, qty, price_c, fee_c, at_open in run.fills.tolist():
        stamp = bars.open_times[i] if at_open else bars.close_times[i]
        out.append(
            Fill(
                timestamp=pd.Timestamp(stamp),
                side="BUY" if side > 0 else "SELL",
                # As Nautilus reports them: Quantity/Price/Money.as_double() of the fixed-point raw.
                quantity=(float(qty) * _RAW_SCALE) / _RAW_SCALE,
                price=(float(price_c) * _RAW_PER_CENT) / _RAW_SCALE,
                commission=(float(fee_c) * _RAW_PER_CENT) / _RAW_SCALE,
            )
        )
    return out


def run_vector(
    bars: pd.DataFrame | VectorBars,
    strategy: str,
    params: dict[str, Any],
    *,
    bar_size: BarSize | None = None,
    capital: float = 100_000.0,
    commission: str | CommissionModel = "ibkr-fixed",
    fill_at: str = "close",
    symbol: str = "TEST",
    liquidity: str = DEFAULT_LIQUIDITY,
) -> RunResult:
    """One combination in full (fills, round trips, equity per bar) as a `RunResult`, like `run_engine`.

    `params` are the strategy's typed parameters (defaults merged in by the caller).
    """
    vb = bars if isinstance(bars, VectorBars) else prepare_bars(bars, _need(bar_size))
    settings = VectorSettings.of(capital, commission, fill_at, liquidity)
    signals = _signal_function(strategy)(SignalCache(vb), params)
    run = _run_one(vb, signals, params, settings, _commission_terms(settings.commission), detail=True)
    return _result(vb, run, settings, symbol)


def _need(bar_size: BarSize | None) -> BarSize:
    if bar_size is None:
        raise InputError("bar_size is required with a bar frame")
    return bar_size


def _result(
    vb: VectorBars, run: VectorRun, settings: VectorSettings, symbol: str, capital: float | None = None
) -> RunResult:
    start = settings.capital if capital is None else capital
    fills = fills_of(vb, run, settings)
    equity = equity_curve(
        vb.frame, vb.bar_size, fills, start, fills_at_open=settings.fill_at == FILL_NEXT_OPEN
    )
    instrument = make_equity(symbol)
    return RunResult(
        instrument_id=str(instrument.id),
        bar_type=f"{instrument.id}-{vb.bar_size.nautilus_spec}-EXTERNAL",
        capital=start,
        fills=fills,
        trades=round_trips(fills, last_price=float(vb.close_f[-1])),
        equity=equity,
        final_balance=run.cash_c / 100.0,
        final_equity=float(equity.iloc[-1]),
        bars=vb.n,
        orders=len(fills) - run.split_orders,
        split_fills=run.split_orders,
        engine_version=ENGINE_VERSION,
        unfilled_at_end=run.skipped_at_end if settings.fill_at == FILL_NEXT_OPEN else 0,
        skipped_on_last_bar=0 if settings.fill_at == FILL_NEXT_OPEN else run.skipped_at_end,
    )


# Screening a grid ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreenFigures:
    """The ranking metrics of one combination, computed as `compute_metrics` does."""

    total_return: float
    cagr: float | None
    sharpe: float | None
    calmar: float | None
    max_drawdown: float
    final_equity: float
    split_orders: int = 0
    ruined: bool = False

    def value(self, metric: str) -> float | None:
        return getattr(self, metric)  # type: ignore[no-any-return]


def figures(
    run: VectorRun,
    first_equity: float,
    years: float,
    *,
    risk_free_rate: float = 0.0,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> ScreenFigures:
    """total return, CAGR, Sharpe, Calmar and max drawdown from a run's daily equity.

    As compute_metrics: the first day's return is measured from `first_equity` (the capital).
    """
    daily = run.daily_equity
    growth = daily[-1] / first_equity
    total = float(growth - 1.0)
    annual: float | None = None
    if years > 0:
        try:
            annual = -1.0 if growth == 0.0 else float(growth ** (1.0 / years) - 1.0)
        except OverflowError:
            annual = None
    days = np.concatenate(([first_equity], daily))
    excess = days[1:] / days[:-1] - 1.0 - risk_free_rate / periods_per_year
    sharpe: float | None = None
    if excess.size >= 2:
        deviation = float(excess.std(ddof=1))
        if deviation > ZERO_DEVIATION:
            sharpe = float(excess.mean() / deviation * math.sqrt(periods_per_year))
    calmar = None if annual is None or run.max_drawdown == 0.0 else annual / abs(run.max_drawdown)
    return ScreenFigures(
        total_return=total,
        cagr=annual,
        sharpe=sharpe,
        calmar=calmar,
        max_drawdown=run.max_drawdown,
        final_equity=run.final_equity,
        split_orders=run.split_orders,
    )


def screen(
    bars: pd.DataFrame | VectorBars,
    strategy: str,
    combinations: Sequence[dict[str, Any]],
    *,
    bar_size: BarSize | None = None,
    capital: float = 100_000.0,
    commission: str | CommissionModel = "ibkr-fixed",
    fill_at: str = "close",
    liquidity: str = DEFAULT_LIQUIDITY,
    risk_free_rate: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> list[ScreenFigures]:
    """Ranking figures of every combination (typed params, defaults merged) on the same bars.

    Indicators are computed once per distinct period and shared; each combination then costs one
    pass of the compiled loop. `progress(k)` is called after every k combinations.
    """
    vb = bars if isinstance(bars, VectorBars) else prepare_bars(bars, _need(bar_size))
    settings = VectorSettings.of(capital, commission, fill_at, liquidity)
    terms = _commission_terms(settings.commission)
    signal = _signal_function(strategy)
    cache = SignalCache(vb)
    out: list[ScreenFigures] = []
    for params in combinations:
        signals = signal(cache, params)
        run = _run_one(vb, signals, params, settings, terms, detail=False)
        if run.ruined:
            out.append(_ruined_figures(vb, signals, run, settings, terms, risk_free_rate))
        else:
            # No strategy trades on its first bar (every indicator needs history): the curve
            # starts at the capital.
            out.append(
                figures(
                    run,
                    settings.capital,
                    vb.years,
                    risk_free_rate=risk_free_rate,
                    periods_per_year=vb.periods_per_year,
                )
            )
        if progress is not None:
            progress(1)
    return out


def _ruined_figures(
    vb: VectorBars,
    signals: tuple[np.ndarray, np.ndarray],
    run: VectorRun,
    settings: VectorSettings,
    terms: _CommissionTerms,
    risk_free_rate: float,
) -> ScreenFigures:
    # Rare (equity at or below zero): the metrics package knows how ruin cuts the curve.
    full = _run_one(vb, signals, run.params, settings, terms, detail=True)
    assert full.equity is not None
    curve = pd.Series(full.equity, index=vb.close_times)
    capital = settings.capital
    return ScreenFigures(
        total_return=total_return(curve, capital),
        cagr=cagr(curve, capital),
        sharpe=sharpe_ratio(curve, risk_free_rate, vb.periods_per_year, capital),
        calmar=calmar_ratio(curve, capital),
        max_drawdown=max_drawdown(curve).depth,
        final_equity=run.final_equity,
        split_orders=run.split_orders,
        ruined=True,
    )


__all__ = [
    "ENGINE_VERSION",
    "VECTOR_SIGNALS",
    "ScreenFigures",
    "SignalCache",
    "VectorBars",
    "VectorRun",
    "VectorSettings",
    "as_double",
    "figures",
    "fills_of",
    "has_vector",
    "mean_reversion_signals",
    "momentum_signals",
    "prepare_bars",
    "run_vector",
    "screen",
    "simulate",
    "sma_signals",
    "to_cents",
    "wilder_rsi",
]
