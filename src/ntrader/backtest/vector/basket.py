"""The compiled loop of basket mode: several symbols' signals on one shared cash account.

The portfolio engine (`ntrader.backtest.portfolio_engine`) runs one strategy instance per symbol
in one Nautilus `BacktestEngine`; this loop replays what it does, event by event:

- The engine sorts all data by `ts_init`, stably, after adding it symbol by symbol (each symbol's
  bars, then its opening ticks in next-open mode). Data at one time therefore reach the
  strategies in the run's symbol order; after every data point the venue fills the orders it
  queued, so a symbol later in that order sees the cash the earlier ones left (measured: the
  basket parity tests).
- Sizing is the basket's (`ntrader.strategies.universe`): the account's equity is the cash plus
  every position at its last known close at the engine's clock (closes at that very time
  included, whichever symbol's bar comes first), times `position_pct` × the symbol's weight,
  cut to the shared cash by `affordable_quantity`.
- Fills, liquidity and costs are those of the single-symbol loop (`ntrader.backtest.vector.kernel`),
  the commission tiers counted on the whole account's month volume (one fee model per venue).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ntrader.backtest.vector.kernel import _affordable, _available, _fill_order

#: Event kinds: a bar's close (the strategy decides; close mode also fills), an opening tick.
EVENT_BAR = 0
EVENT_OPEN = 1


@numba.njit(cache=True, nogil=True, inline="always")
def _equity(cash, pos, marks, row):  # type: ignore[no-untyped-def]
    """`Universe.equity` on a cash account: Money.as_double() of the cash plus positions @ marks."""
    dot = 0.0
    if row >= 0:
        for j in range(len(pos)):
            dot += float(pos[j]) * marks[row, j]
    return (float(cash) * 1e14) / 1e16 + dot


@numba.njit(cache=True, nogil=True, inline="always")
def _curve_to(slot, next_row, cash, pos, marks, curve):  # type: ignore[no-untyped-def]
    """Equity at the union close times [next_row, slot) with the state before the next event."""
    stop = min(slot, curve.shape[0])
    for r in range(next_row, stop):
        held = 0.0
        for j in range(len(pos)):
            held += float(pos[j]) * marks[r, j]
        curve[r] = cash / 100.0 + held
    return max(next_row, stop)


@numba.njit(cache=True, nogil=True)
def _simulate_basket(events, bars, tables, flags, capital_c, pct, terms, out):  # type: ignore[no-untyped-def]
    """Walk the merged events of every symbol; returns (fills, cash cents, split orders, skipped).

    `events`: (symbol, its bar index, kind, marks row at the engine clock, curve slot), in the
    engine's processing order; `bars`: each symbol's `VectorBars.kernel_arrays()` columns
    concatenated, with `offsets` first and entry/exit masks last; `tables`: (marks, weights), one
    row per union close time; `flags`: (next_open, unlimited, liquidate each symbol at its last
    close, first union close time that may trade); `out`: (fills, fill symbols, equity
    per union close time, positions).
    """
    ev_sym, ev_bar, ev_kind, ev_row, ev_slot = events
    (offsets, close_c, open_c, close_f, open_f, volume, close_offer, month_close, month_open,
     entry, exit_) = bars  # fmt: skip
    marks, weights = tables
    next_open, unlimited, liquidate, trade_from = flags
    fills, fill_sym, curve, pos = out
    n_sym = len(offsets) - 1
    pending = np.zeros(n_sym, dtype=np.int64)
    cash = capital_c
    month = -1
    month_volume = 0
    n_fills = 0
    split = 0
    skipped = 0
    next_row = 0
    for k in range(len(ev_sym)):
        s = ev_sym[k]
        i = ev_bar[k]
        g = offsets[s] + i
        last = i == offsets[s + 1] - offsets[s] - 1
        row = ev_row[k]
        next_row = _curve_to(ev_slot[k], next_row, cash, pos, marks, curve)
        side = 0
        at_open = 0
        if ev_kind[k] == EVENT_OPEN:
            side = pending[s]
            pending[s] = 0
            at_open = 1
        elif liquidate and last:
            # A walk-forward window ends flat: each symbol sold at its own last close.
            side = -1 if pos[s] > 0 else 0
        else:
            if ev_slot[k] < trade_from:
                pass  # warm-up bars: no decision before the window trades
            elif entry[g]:
                if pos[s] == 0:
                    side = 1
            elif exit_[g] and pos[s] > 0:
                side = -1
            if side != 0 and next_open:
                if not last:
                    pending[s] = side
                else:
                    skipped += 1  # no next open: unfilled at end
                side = 0
            elif side > 0 and last:
                skipped += 1  # an entry on the symbol's last bar is not opened
                side = 0
        if side == 0:
            continue
        if at_open:
            px_c, px_f, fill_month = open_c[g], open_f[g], month_open[g]
            available = _available(volume[g], True, unlimited)
        else:
            px_c, px_f, fill_month = close_c[g], close_f[g], month_close[g]
            available = _available(close_offer[g], False, unlimited)
        if fill_month != month:
            month = fill_month
            month_volume = 0
        qty = pos[s]
        if side > 0:
            share = pct * weights[max(row, 0), s]
            target = math.floor(_equity(cash, pos, marks, row) * share / px_f)
            qty = _affordable(target, px_c, cash, available, month_volume, terms)
        if qty > 0:
            first = n_fills
            delta, n_fills, parts = _fill_order(
                (side, qty, px_c), available, month_volume, terms, fills, n_fills, (i, at_open)
            )
            for f in range(first, n_fills):
                fill_sym[f] = s
            cash += delta
            pos[s] += side * qty
            month_volume += qty
            split += parts
    _curve_to(curve.shape[0], next_row, cash, pos, marks, curve)
    return n_fills, cash, split, skipped
