"""Portfolio strategies: one strategy that sees every symbol of the run and holds target weights.

A user's portfolio strategy needs a config and one method::

    class MyConfig(PortfolioStrategyConfig, frozen=True):
        lookback: int = 20

    class Mine(PortfolioStrategy):
        config: MyConfig

        def target_weights(self, closes: pd.DataFrame) -> dict[str, float] | None:
            # closes: one column per symbol, up to and including this bar (last known close,
            # NaN before a symbol's first bar). Return {symbol: fraction of equity}, or None to
            # keep what is held.
            ...

How it runs (the engine wrapper, `ntrader.backtest.portfolio_engine`, sets it up):

- The decision is taken once per bar time, after every symbol that has a bar then has been seen,
  on the `rebalance` calendar: `bar` (every bar time), `daily`, `weekly`, `monthly`, `quarterly` (the
  first bar time of each new day, week, month, quarter, New York dates; the first bar time of the run
  always) or `never`
  (only the first bar time, and whatever `rebalance_due` adds, e.g. a drift band).
- Targets are whole shares: floor(weight × equity / close), equity being the account's cash plus
  every position at its last known close. A symbol without a bar at that time is not traded.
- Orders never overdraw the account: sells go first; buys are sent when the sells have filled, in
  symbol order, each cut to what the remaining cash covers after its costs (the same rule as a
  single-symbol strategy's, `affordable_quantity`). Fills are at the bar's close (portfolio
  strategies do not take `--fill-at next-open`).
- A cash account holds no short position: negative weights need an `allow_short: bool` field set
  to true in the config, which gives the run a 1x margin account.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import pandas as pd
from msgspec import Meta
from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import AccountType, OrderSide, TimeInForce
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.trading.strategy import Strategy

from ntrader.errors import InputError
from ntrader.strategies.base import ExecutionRules, affordable_quantity, available_at_price
from ntrader.strategies.bounds import check_bounds

if TYPE_CHECKING:
    from ntrader.strategies.universe import Universe

#: `rebalance` choices → the pandas period a calendar rebalance starts (None: every bar / never).
REBALANCE_PERIODS: dict[str, str | None] = {
    "bar": None,
    "daily": "D",
    "weekly": "W",
    "monthly": "M",
    "quarterly": "Q",
    "never": None,
}


def parse_rebalance(text: str) -> str:
    key = str(text).strip().lower()
    if key not in REBALANCE_PERIODS:
        raise ValueError(f"rebalance must be one of {', '.join(REBALANCE_PERIODS)}, got {text!r}")
    return key


def calendar_due(index: pd.DatetimeIndex, rebalance: str) -> np.ndarray:
    """True at the bar times a calendar rebalance is due (the first one always)."""
    key = parse_rebalance(rebalance)
    due = np.zeros(len(index), dtype=bool)
    if len(index) == 0:
        return due
    if key == "bar":
        due[:] = True
        return due
    period = REBALANCE_PERIODS[key]
    if period is not None:
        # New York's calendar: a US session's date, not its UTC close time.
        local = index.tz_convert("America/New_York")
        if period == "D":
            labels = np.asarray(local.year * 10_000 + local.month * 100 + local.day, dtype="int64")
        elif period == "W":
            iso = local.isocalendar()
            labels = np.asarray(iso["year"] * 100 + iso["week"], dtype="int64")
        elif period == "M":
            labels = np.asarray(local.year * 12 + local.month, dtype="int64")
        else:
            labels = np.asarray(local.year * 4 + local.quarter, dtype="int64")
        due[1:] = labels[1:] != labels[:-1]
    due[0] = True
    return due


class PortfolioStrategyConfig(StrategyConfig, frozen=True):
    """rebalance: bar|daily|weekly|monthly|quarterly|never. A config that adds `allow_short: bool = True`
    gets a 1x margin account and may hold negative weights."""

    rebalance: str = "monthly"
    #: Fraction of the equity the weights apply to (the rest stays cash for costs and slippage).
    position_pct: Annotated[float, Meta(gt=0, le=1)] = 1.0

    def __post_init__(self) -> None:
        self.check_params()

    def check_params(self) -> None:
        check_bounds(self)
        parse_rebalance(self.rebalance)


class PortfolioStrategy(Strategy):
    """Holds the weights `target_weights` returns, rebalanced on the config's calendar."""

    is_portfolio = True
    config: PortfolioStrategyConfig

    def __init__(self, config: PortfolioStrategyConfig) -> None:
        super().__init__(config)
        #: Set by the engine wrapper before the run.
        self.universe: Universe | None = None
        self.execution = ExecutionRules()
        self.skipped_on_last_bar = 0
        self.unfilled_at_end = 0
        self._row = -1
        self._seen = 0
        self._due = np.zeros(0, dtype=bool)
        self._expected = np.zeros(0, dtype=int)
        self._volumes: dict[Any, float] = {}
        self._pending_sells: set[Any] = set()
        self._queued_buys: list[tuple[int, int]] = []

    @classmethod
    def check_symbols(cls, config: PortfolioStrategyConfig, symbols: tuple[str, ...]) -> None:
        """Raise InputError when the config does not fit the run's symbols (before anything runs)."""

    # What a user writes --------------------------------------------------------------------------
    def target_weights(self, closes: pd.DataFrame) -> dict[str, float] | None:
        """{symbol: fraction of equity} to hold from this bar on (missing symbols: 0), or None to
        keep the holdings. `closes` ends at this bar (see the module notes)."""
        raise NotImplementedError

    def rebalance_due(self, row: int) -> bool:
        """Whether to ask `target_weights` at this bar time (default: the calendar)."""
        return bool(self._due[row])

    # Helpers for subclasses --------------------------------------------------------------------
    @property
    def symbols(self) -> tuple[str, ...]:
        assert self.universe is not None
        return self.universe.symbols

    def current_weights(self) -> dict[str, float]:
        """What each symbol's position is worth now, as a fraction of the account's equity."""
        assert self.universe is not None
        now = self.clock.timestamp_ns()
        equity = self._equity(now)
        if equity <= 0:
            return dict.fromkeys(self.symbols, 0.0)
        values = self.universe.positions(self.portfolio) * self.universe.marks(now)
        return {s: float(v / equity) for s, v in zip(self.symbols, values, strict=True)}

    # Engine side -------------------------------------------------------------------------------
    def on_start(self) -> None:
        universe = self.universe
        if universe is None:
            raise InputError("a portfolio strategy runs through ntrader's portfolio engine only")
        self._due = calendar_due(pd.DatetimeIndex(universe.closes.index), self.config.rebalance)
        self._expected = universe.has_bar.sum(axis=1)
        for bar_type in universe.bar_types:
            self.subscribe_bars(bar_type)

    def on_bar(self, bar: Bar) -> None:
        assert self.universe is not None
        self._volumes[bar.bar_type.instrument_id] = bar.volume.as_double()
        row = self.universe.row(bar.ts_event)
        if row != self._row:
            self._row, self._seen = row, 0
        self._seen += 1
        if self._seen == self._expected[row] and self.rebalance_due(row):
            weights = self.target_weights(self.universe.closes.iloc[: row + 1])
            if weights is not None:
                self.rebalance_to(weights)

    def on_stop(self) -> None:
        for bar_type in self.universe.bar_types if self.universe else ():
            self.unsubscribe_bars(bar_type)

    def _equity(self, now: int) -> float:
        assert self.universe is not None
        account = self.portfolio.account(self.universe.instrument_ids[0].venue)
        return self.universe.equity(self.portfolio, account, now)

    def rebalance_to(self, weights: dict[str, float]) -> None:
        """Trade every symbol with a bar now towards `weights` (sells first, buys when they filled)."""
        universe = self.universe
        assert universe is not None
        unknown = sorted(set(weights) - set(universe.symbols))
        if unknown:
            raise InputError(f"target_weights names symbols the run does not hold: {', '.join(unknown)}")
        now = self.clock.timestamp_ns()
        row = universe.row(now)
        if self.execution.last_bar_ns is not None and now >= self.execution.last_bar_ns:
            self.skipped_on_last_bar += 1  # no later price could judge a rebalance on the last bar
            return
        equity = self._equity(now) * self.config.position_pct
        marks = universe.marks(now)
        held = universe.positions(self.portfolio)
        sells: list[tuple[int, int]] = []
        buys: list[tuple[int, int]] = []
        for slot, symbol in enumerate(universe.symbols):
            weight = float(weights.get(symbol, 0.0))
            if not math.isfinite(weight):
                raise InputError(f"target weight of {symbol} is not a number: {weight}")
            if weight < 0 and not getattr(self.config, "allow_short", False):
                weight = 0.0  # a cash account cannot hold a short position
            if not universe.has_bar[row, slot] or marks[slot] <= 0:
                continue
            target = math.floor(abs(weight) * equity / marks[slot]) * (1 if weight >= 0 else -1)
            delta = int(target - round(held[slot]))
            if delta < 0:
                sells.append((slot, -delta))
            elif delta > 0:
                buys.append((slot, delta))
        self._queued_buys = buys
        self._pending_sells = set()
        for slot, quantity in sells:
            order = self._market(slot, OrderSide.SELL, quantity)
            self._pending_sells.add(order.client_order_id)
            self.submit_order(order)
        if not self._pending_sells:
            self._send_buys()

    def on_order_filled(self, event: OrderFilled) -> None:
        if event.client_order_id in self._pending_sells:
            order = self.cache.order(event.client_order_id)
            if order is not None and order.is_closed:
                self._pending_sells.discard(event.client_order_id)
                if not self._pending_sells:
                    self._send_buys()

    def on_order_denied(self, event: Any) -> None:
        self._forget(event.client_order_id)

    def on_order_rejected(self, event: Any) -> None:
        self._forget(event.client_order_id)

    def _forget(self, client_order_id: Any) -> None:
        if client_order_id in self._pending_sells:
            self._pending_sells.discard(client_order_id)
            if not self._pending_sells:
                self._send_buys()

    def _send_buys(self) -> None:
        universe = self.universe
        assert universe is not None
        buys, self._queued_buys = self._queued_buys, []
        if not buys:
            return
        account = self.portfolio.account(universe.instrument_ids[0].venue)
        cash_account = account is not None and account.type == AccountType.CASH
        from nautilus_trader.model.currencies import USD

        cash_c = round(account.balance_free(USD).as_double() * 100) if cash_account else 0
        marks = universe.marks(self.clock.timestamp_ns())
        costs = self.execution.costs
        for slot, quantity in buys:
            if cash_account:
                price_c = round(float(marks[slot]) * 100)
                volume = self._volumes.get(universe.instrument_ids[slot], 0.0)
                available = None if self.execution.unlimited_liquidity else available_at_price(volume, False)
                charge = (lambda q, n: costs(OrderSide.BUY, q, n)) if costs else (lambda q, n: 0)
                quantity = affordable_quantity(quantity, price_c, cash_c, available, charge)
                if quantity < 1:
                    continue
                slipped = 0 if available is None else max(quantity - available, 0)
                notional = quantity * price_c + slipped
                cash_c -= notional + charge(quantity, notional)
            self.submit_order(self._market(slot, OrderSide.BUY, quantity))

    def _market(self, slot: int, side: OrderSide, quantity: int) -> Any:
        assert self.universe is not None
        instrument = self.cache.instrument(self.universe.instrument_ids[slot])
        return self.order_factory.market(
            instrument_id=instrument.id,
            order_side=side,
            quantity=instrument.make_qty(Decimal(quantity)),
            time_in_force=TimeInForce.GTC,
        )


def parse_weights(text: str) -> dict[str, float]:
    """`SPY:0.6,TLT:0.4` as {symbol: weight}; weights are numbers, their sum at most 1 (long only)."""
    from ntrader.data.symbol import parse_symbol

    weights: dict[str, float] = {}
    for part in str(text).split(","):
        symbol, sep, value = part.partition(":")
        if not sep:
            raise ValueError(f"weights are SYMBOL:WEIGHT pairs separated by commas, got {part.strip()!r}")
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(f"weight of {symbol.strip()} must be a number, got {value!r}") from None
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight of {symbol.strip()} must be 0 or more, got {value!r}")
        try:
            weights[parse_symbol(symbol)] = weight
        except InputError as exc:
            raise ValueError(str(exc)) from None
    if sum(weights.values()) > 1 + 1e-9:
        raise ValueError(f"weights add up to {sum(weights.values()):g}; at most 1 (the rest is cash)")
    return weights


__all__ = [
    "REBALANCE_PERIODS",
    "PortfolioStrategy",
    "PortfolioStrategyConfig",
    "calendar_due",
    "parse_rebalance",
    "parse_weights",
]
