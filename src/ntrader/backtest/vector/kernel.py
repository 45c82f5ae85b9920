"""The compiled per-bar loop: one combination's orders, cash, position and mark-to-market equity.

Signals depend on the position only through "flat or long", and sizing on the cash, so the
position/cash recursion is sequential per combination: this numba loop walks the bars of one
combination in a few milliseconds per million bars, and also yields the mark-to-market equity, the
daily equity for Sharpe/CAGR and the bar-by-bar drawdown without a (combinations × bars) matrix.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ntrader.backtest.vector.commission import commission

# The helpers are inlined into `_simulate` (numba IR): called per bar and per fill, a call each
# cost ~6 % of a screen (35 SMA combinations on 97 000 one-minute bars, measured).

# Columns of the fills record: bar index, +1 buy / -1 sell, quantity, price (cents), commission
# (cents), 1 when filled at the bar's open.
FILL_COLUMNS = 6


@numba.njit(cache=True, nogil=True, inline="always")
def _mark(cash, pos, start, stop, close_c, day_end, out):  # type: ignore[no-untyped-def]
    """Mark bars [start, stop) to market with a constant cash and position. `out`: (equity per bar,
    kept when it has rows; daily equity; state [peak, max drawdown, next day, ruined])."""
    equity, daily, state = out
    keep_equity = equity.shape[0] > 0
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


@numba.njit(cache=True, nogil=True, inline="always")
def _fill_order(order, available, month_volume, terms, fills, n_fills, where):  # type: ignore[no-untyped-def]
    """Fill one market order `order` = (side, qty, px cents) as Nautilus's bar execution does: up to
    `available` shares at `px`, the rest one tick (cent) worse, the order's costs charged across its
    fills (each fill pays the order's costs so far minus what earlier fills paid). Records the fills
    (when `fills` has rows) at `where` = (bar, at_open) and returns (cash change in cents, fills
    recorded, split 0/1)."""
    side, qty, px = order
    bar, at_open = where
    first = qty if available < 0 or qty <= available else available
    rest = qty - first
    worse = px + side
    fee_first = 0
    if first > 0:
        fee_first = commission(side, first, first * px, month_volume, terms)
    notional = first * px + rest * worse
    fee_rest = 0
    if rest > 0:
        fee_rest = max(commission(side, qty, notional, month_volume, terms) - fee_first, 0)
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


@numba.njit(cache=True, nogil=True, inline="always")
def _affordable(target, px, cash, available, month_volume, terms):  # type: ignore[no-untyped-def]
    """`affordable_quantity` of `ntrader.strategies.base`, in the same integer cents."""
    if target < 1:
        return 0
    slipped = 0 if available < 0 else max(target - available, 0)
    notional = target * px + slipped
    total = notional + commission(1, target, notional, month_volume, terms)
    if total <= cash:
        return target
    extra = total - target * px
    return max(0, min(target - 1, (cash - extra) // px))


@numba.njit(cache=True, nogil=True, inline="always")
def _available(volume, at_open, unlimited):  # type: ignore[no-untyped-def]
    """Shares an opening trade tick offers (-1: unlimited); closes: `VectorBars.close_offer`."""
    if unlimited:
        return -1
    if at_open:
        return max(math.floor(volume + 0.5), 1)
    return volume


@numba.njit(cache=True, nogil=True)
def _simulate(signals, bars, flags, capital_c, pct, terms, trade_from, out):  # type: ignore[no-untyped-def]
    """Walk one combination's bars: fills (if `fills` has rows), per-bar equity (if `equity` has
    rows), daily equity; returns (fills, cash cents, position, max drawdown, ruined, split orders,
    decisions skipped at the end).

    `signals`: (entry bars, exit bars); `bars`: `VectorBars.kernel_arrays()`; `flags`: (next_open,
    unlimited liquidity, liquidate at the last close); `terms`: `CommissionTerms.kernel`; `out`:
    (fills, equity, daily). Cash and position change only on signal bars and the bars after them
    (next-open fills), so the loop jumps from event to event and marks the bars in between in a
    tight inner loop.
    """
    entry, exit_ = signals
    close_c, open_c, close_f, open_f, volume, close_offer, month_close, month_open, day_end = bars
    next_open, unlimited, liquidate = flags
    fills, equity, daily = out
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
    marks = (equity, daily, state)
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
            _mark(cash, pos, i, min(event, n), close_c, day_end, marks)
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
                qty = _affordable(target, open_c[i], cash, available, month_volume, terms)
            if qty > 0:
                delta, n_fills, parts = _fill_order(
                    (pending, qty, open_c[i]), available, month_volume, terms, fills, n_fills, (i, 1)
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
            available = _available(close_offer[i], False, unlimited)
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
                    qty = _affordable(target, close_c[i], cash, available, month_volume, terms)
            if qty > 0:
                delta, n_fills, parts = _fill_order(
                    (side, qty, close_c[i]), available, month_volume, terms, fills, n_fills, (i, 0)
                )
                cash += delta
                pos += side * qty
                month_volume += qty
                split += parts
        # 3. Mark this bar to market at its close.
        _mark(cash, pos, i, i + 1, close_c, day_end, marks)
        i += 1
    return n_fills, cash, pos, state[1], state[3] > 0, split, skipped
