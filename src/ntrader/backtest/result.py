"""What a backtest produced, as plain values: fills, round-trip trades, the mark-to-market equity.

Nothing here needs Nautilus: the engine wrapper (`ntrader.backtest.engine`) and the vector screen
both build a `RunResult` from their fills with `equity_curve` and `round_trips`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ntrader.data.bars import BarSize, utc_nanos
from ntrader.metrics.trades import TRADE_COLUMNS

#: Run statuses: a run either processed every bar and passed the equity check, or it did not.
STATUS_COMPLETED = "completed"
STATUS_HALTED = "halted"
STATUS_INCONSISTENT = "inconsistent"


@dataclass(frozen=True)
class Fill:
    timestamp: pd.Timestamp
    side: str
    quantity: float
    price: float
    commission: float
    #: The instrument's symbol (a portfolio run's fills name theirs).
    symbol: str = ""


@dataclass
class RunResult:
    """What a backtest produced: fills, round-trip trades, mark-to-market equity per bar."""

    instrument_id: str
    bar_type: str
    capital: float
    fills: list[Fill]
    trades: pd.DataFrame
    equity: pd.Series
    final_balance: float
    final_equity: float
    bars: int
    orders: int
    split_fills: int
    engine_version: str
    extra: dict[str, Any] = field(default_factory=dict)
    status: str = STATUS_COMPLETED
    #: Why the run did not complete, and the time the engine stopped (None when completed).
    halt_reason: str | None = None
    halted_at: pd.Timestamp | None = None
    #: Orders the risk engine denied / the venue rejected; decisions never filled at the end.
    orders_denied: int = 0
    orders_rejected: int = 0
    unfilled_at_end: int = 0
    skipped_on_last_bar: int = 0
    #: A portfolio run's symbols, its closes (last known, per symbol) and signed share positions
    #: after each bar time (`portfolio_curves`); a single-symbol run leaves them empty.
    symbols: tuple[str, ...] = ()
    closes: pd.DataFrame | None = None
    positions: pd.DataFrame | None = None
    #: The close each equity point marks, kept by a run that was handed its bars for good
    #: (`ntrader.backtest.engine.OwnedBars`: the bars are gone by the time it is measured).
    curve_closes: pd.Series | None = None

    @property
    def completed(self) -> bool:
        return self.status == STATUS_COMPLETED

    def order_summary(self) -> dict[str, Any]:
        """What the run's settings record about its orders and how it ended."""
        summary: dict[str, Any] = {
            "orders": self.orders,
            "split_fills": self.split_fills,
            "orders_denied": self.orders_denied,
            "orders_rejected": self.orders_rejected,
            "unfilled_at_end": self.unfilled_at_end,
            "skipped_on_last_bar": self.skipped_on_last_bar,
            "final_balance": self.final_balance,
        }
        if not self.completed:
            summary["halt"] = {
                "reason": self.halt_reason,
                "at": None if self.halted_at is None else self.halted_at.isoformat(),
            }
        return summary

    @property
    def total_return(self) -> float:
        return self.final_equity / self.capital - 1.0

    def __repr__(self) -> str:
        return (
            f"RunResult({self.instrument_id}, bars={self.bars}, trades={len(self.trades)}, "
            f"final_equity={self.final_equity:,.2f}, return={self.total_return:+.2%})"
        )


def count_split_orders(fills: list[Fill]) -> int:
    """Orders filled in more than one part (volume too thin for the order at one price)."""
    stamps = pd.Series([(f.timestamp, f.side, f.symbol) for f in fills])
    return int(stamps.duplicated().sum()) if len(stamps) else 0


def equity_curve(
    bars: pd.DataFrame, bar_size: BarSize, fills: list[Fill], capital: float, *, fills_at_open: bool = False
) -> pd.Series:
    """Cash plus position marked at each bar's close, stamped at the bar's close time.

    Built from the fills in bulk: fills at a bar's close belong to that bar. With `fills_at_open`
    a fill belongs to the bar it opens: the first bar closing strictly after it, since an intraday
    bar opens at the instant the previous one closes.
    """
    closes_at = bar_size.close_times(pd.DatetimeIndex(bars.index))
    n = len(bars)
    equity = np.full(n, capital, dtype="float64")  # cash, then cash + position × close
    if fills:
        fill_ts = utc_nanos(pd.DatetimeIndex([f.timestamp for f in fills]))
        signed = np.array([f.quantity if f.side == "BUY" else -f.quantity for f in fills])
        cash_delta = np.array([-q * f.price - f.commission for q, f in zip(signed, fills, strict=True)])
        # Index of the bar each fill belongs to: the first bar closing at or after the fill.
        slot = np.searchsorted(utc_nanos(closes_at), fill_ts, side="right" if fills_at_open else "left")
        slot = np.clip(slot, 0, n - 1)
        _book(equity, bars["close"].to_numpy(dtype="float64"), slot, signed, cash_delta)
    series = pd.Series(equity, index=closes_at, name="equity", copy=False)
    series.index.name = "timestamp"
    return series


def _book(
    equity: np.ndarray,
    close: np.ndarray,
    slot: np.ndarray,
    signed: np.ndarray,
    cash_delta: np.ndarray,
    step: int = 65_536,
) -> None:
    """Add to `equity` (the capital per bar) the cash and the position × close after each bar's
    fills (`slot`: each fill's bar), `step` bars at a time: a million bars need no second bar-long
    array. The sums are the whole-array bincount-then-cumsum's, term for term."""
    order = np.argsort(slot, kind="stable")  # fills of one bar keep their order
    slot, signed, cash_delta = slot[order], signed[order], cash_delta[order]
    starts = range(0, len(equity), step)
    bounds = np.searchsorted(slot, [*starts, len(equity)]).tolist()
    cash_before = position_before = 0.0
    for i, start in enumerate(starts):
        stop = min(start + step, len(equity))
        lo, hi = bounds[i], bounds[i + 1]
        # (float64 even for a slice without fills, where bincount would give int64 zeros)
        cash = np.bincount(slot[lo:hi] - start, cash_delta[lo:hi], stop - start).astype(float, copy=False)
        cash[0] += cash_before
        np.cumsum(cash, out=cash)
        cash_before = float(cash[-1])
        position = np.bincount(slot[lo:hi] - start, signed[lo:hi], stop - start).astype(float, copy=False)
        position[0] += position_before
        np.cumsum(position, out=position)
        position_before = float(position[-1])
        part = equity[start:stop]
        part += cash
        part += np.multiply(position, close[start:stop], out=position)


def portfolio_curves(
    bars: dict[str, pd.DataFrame],
    bar_size: BarSize,
    fills: list[Fill],
    capital: float,
    *,
    fills_at_open: bool = False,
) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    """The account's equity, the closes it is marked at and the positions, on one clock.

    The clock is the union of every symbol's bar close times. `closes`: each symbol's close
    forward-filled (NaN before its first bar: a later listing has no bar, nothing is invented);
    `positions`: signed shares held after each time's fills; equity = cash + Σ position × close.
    Fills belong to times as in `equity_curve`. Built in bulk (one pass per symbol).
    """
    by_symbol = {
        symbol: frame["close"].set_axis(bar_size.close_times(pd.DatetimeIndex(frame.index)))
        for symbol, frame in bars.items()
    }
    # The same panel as `ntrader.strategies.universe.close_panel` (the marks the strategies size by).
    closes = pd.DataFrame(by_symbol).sort_index().ffill().astype("float64")
    closes.index.name = "timestamp"
    n = len(closes)
    times = utc_nanos(pd.DatetimeIndex(closes.index))
    cash = np.full(n, capital, dtype="float64")
    positions = pd.DataFrame(0.0, index=closes.index, columns=closes.columns)
    if fills:
        fill_ts = utc_nanos(pd.DatetimeIndex([f.timestamp for f in fills]))
        signed = np.array([f.quantity if f.side == "BUY" else -f.quantity for f in fills])
        prices = np.array([f.price for f in fills])
        commissions = np.array([f.commission for f in fills])
        names = np.array([f.symbol for f in fills])
        slot = np.searchsorted(times, fill_ts, side="right" if fills_at_open else "left")
        slot = np.clip(slot, 0, n - 1)
        cash += np.cumsum(np.bincount(slot, weights=-signed * prices - commissions, minlength=n))
        for symbol in closes.columns:
            mine = names == symbol
            if mine.any():
                positions[symbol] = np.cumsum(np.bincount(slot[mine], weights=signed[mine], minlength=n))
    held = (positions.to_numpy() * np.nan_to_num(closes.to_numpy())).sum(axis=1)
    equity = pd.Series(cash + held, index=closes.index, name="equity")
    return equity, closes, positions


def portfolio_round_trips(fills: list[Fill], last_prices: dict[str, float]) -> pd.DataFrame:
    """Round trips per symbol (as `round_trips`), each naming its symbol, in entry-time order."""
    frames = []
    for symbol, last in last_prices.items():
        mine = [f for f in fills if f.symbol == symbol]
        if mine:
            frames.append(round_trips(mine, last_price=last).assign(symbol=symbol))
    if not frames:
        return pd.DataFrame(columns=["symbol", *TRADE_COLUMNS])
    trades = pd.concat(frames, ignore_index=True)
    trades = trades.sort_values("entry_time", kind="stable", ignore_index=True)
    return trades[["symbol", *TRADE_COLUMNS]]


def round_trips(fills: list[Fill], last_price: float | None = None) -> pd.DataFrame:
    """Pair fills into trades (flat → position → flat), net of both sides' commissions.

    A position still open at the end is one trade with no exit, its pnl marked at `last_price`.
    """
    # Column by column (tens of thousands of trades: no dict per row held until the end).
    columns: dict[str, list[Any]] = {name: [] for name in TRADE_COLUMNS}
    position = 0.0
    current: dict[str, Any] | None = None
    for fill in fills:
        signed = fill.quantity if fill.side == "BUY" else -fill.quantity
        remaining = signed
        commission_left = fill.commission
        while not math.isclose(remaining, 0.0, abs_tol=1e-9):
            if current is None or math.isclose(position, 0.0, abs_tol=1e-9):
                current = {
                    "side": "LONG" if remaining > 0 else "SHORT",
                    "quantity": 0.0,
                    "entry_cost": 0.0,
                    "entry_time": fill.timestamp,
                    "exit_qty": 0.0,
                    "exit_value": 0.0,
                    "exit_time": None,
                    "commission": 0.0,
                }
                position = 0.0
            opening = (position >= 0 and remaining > 0) or (position <= 0 and remaining < 0)
            if opening:
                qty = abs(remaining)
                current["quantity"] += qty
                current["entry_cost"] += qty * fill.price
                current["commission"] += commission_left
                commission_left = 0.0
                position += remaining
                remaining = 0.0
            else:
                qty = min(abs(remaining), abs(position))
                share = qty / abs(remaining)
                current["exit_qty"] += qty
                current["exit_value"] += qty * fill.price
                current["exit_time"] = fill.timestamp
                current["commission"] += commission_left * share
                commission_left -= commission_left * share
                step = qty if remaining > 0 else -qty
                position += step
                remaining -= step
                if math.isclose(position, 0.0, abs_tol=1e-9):
                    _append(columns, _close_trade(current))
                    current = None
    if current is not None and current["quantity"] > 0:
        _append(columns, _close_trade(current, open_=True, last_price=last_price))
    if not columns["side"]:  # (empty lists would make float64 columns; no trades keep object ones)
        return pd.DataFrame([], columns=list(TRADE_COLUMNS))
    return pd.DataFrame(columns, columns=list(TRADE_COLUMNS))


def _append(columns: dict[str, list[Any]], trade: dict[str, Any]) -> None:
    for name, value in trade.items():
        columns[name].append(value)


def _close_trade(
    trade: dict[str, Any], open_: bool = False, last_price: float | None = None
) -> dict[str, Any]:
    qty = trade["quantity"]
    entry_price = trade["entry_cost"] / qty
    direction = 1.0 if trade["side"] == "LONG" else -1.0
    if open_:
        # Realized on the shares already sold (a trimmed position), marked at the last price on the rest.
        mark = entry_price if last_price is None else last_price
        realized = trade["exit_value"] - trade["exit_qty"] * entry_price
        gross = direction * (realized + (mark - entry_price) * (qty - trade["exit_qty"]))
        exit_price = None
    else:
        exit_price = trade["exit_value"] / trade["exit_qty"]
        gross = direction * (trade["exit_value"] - trade["exit_qty"] * entry_price)
    return {
        "side": trade["side"],
        "quantity": qty,
        "entry_time": trade["entry_time"],
        "entry_price": entry_price,
        "exit_time": None if open_ else trade["exit_time"],
        "exit_price": exit_price,
        "pnl": gross - trade["commission"],
        "commission": trade["commission"],
    }


__all__ = [
    "STATUS_COMPLETED",
    "STATUS_HALTED",
    "STATUS_INCONSISTENT",
    "Fill",
    "RunResult",
    "count_split_orders",
    "equity_curve",
    "portfolio_curves",
    "portfolio_round_trips",
    "round_trips",
]
