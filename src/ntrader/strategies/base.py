"""What every built-in strategy shares: its config fields, position sizing and order entry.

How orders are placed (the same rules the vector screen follows, see `ntrader.backtest.vector`):

- The decision is taken at the signal bar's close. With `fill_at=close` the market order is
  submitted there and fills at that close. With `fill_at=next-open` the decision waits for the next
  bar's opening trade tick and the order is submitted there, so it is sized from the price it fills
  at (a gap cannot make it cost more than planned, and the risk engine values it at that price).
- Size: whole shares worth up to `position_pct` of equity at the fill price. A buy on a cash
  account must also pay its costs: when the shares plus the commission (and, with
  `liquidity=bar-volume`, the part that slips one tick) exceed the cash, the quantity is cut to
  what the cash covers after those costs, so an order never overdraws the account.
- Basket mode (one instance per symbol on a shared account, `ntrader.strategies.universe`): the
  equity is the whole account's (cash plus every position at its last known close) and the target
  is `position_pct` × the symbol's allocation of it; the cash check is against the shared free cash.
- An entry decided on the very last bar is not opened (no later price could judge it); with
  next-open fills a decision on the last bar has no next open: both are counted, not hidden.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, ClassVar

from msgspec import Meta
from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import Bar, BarType, TradeTick
from nautilus_trader.model.enums import AccountType, OrderSide, TimeInForce
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Price
from nautilus_trader.trading.strategy import Strategy

from ntrader.nautilus_compat import CloseOffer, available_at_close
from ntrader.strategies.bounds import check_bounds

if TYPE_CHECKING:
    from ntrader.strategies.universe import Universe

#: (side, quantity, notional in cents) → the order's costs in cents (commission and fees).
CostFunction = Callable[[OrderSide, int, int], int]


def available_at_price(volume: float, next_open: bool) -> int:
    """Shares Nautilus's bar execution fills at one price: the opening tick carries the bar's
    volume; at the close a bar offers a quarter of it (1.221) or what the three quarters before it
    left (1.231): `ntrader.nautilus_compat.available_at_close`."""
    if next_open:
        return max(math.floor(volume + 0.5), 1)
    return available_at_close(volume)


def order_cost_cents(
    quantity: int, price_c: int, available: int | None, side_sign: int, costs_c: Callable[[int, int], int]
) -> tuple[int, int]:
    """(notional, total cost) in cents of a market order of `quantity` at `price_c`, the part above
    `available` filled one tick (cent) worse; `available=None` means unlimited liquidity."""
    slipped = 0 if available is None else max(quantity - available, 0)
    notional = quantity * price_c + side_sign * slipped
    return notional, notional + costs_c(quantity, notional)


def affordable_quantity(
    target: int, price_c: int, cash_c: int, available: int | None, costs_c: Callable[[int, int], int]
) -> int:
    """`target` shares if they and their costs fit in `cash_c`; otherwise what the cash covers after
    the target's costs (costs never fall when the quantity grows, so the result is affordable)."""
    if target < 1:
        return 0
    _, total = order_cost_cents(target, price_c, available, 1, costs_c)
    if total <= cash_c:
        return target
    extra = total - target * price_c
    return max(0, min(target - 1, (cash_c - extra) // price_c))


@dataclass(frozen=True)
class ExecutionRules:
    """How the run fills orders, which the strategy needs to size them (set by the engine wrapper)."""

    next_open: bool = False
    unlimited_liquidity: bool = False
    last_bar_ns: int | None = None
    costs: CostFunction | None = None
    #: Basket mode: the run's symbols and this strategy's column among them.
    universe: Universe | None = None
    slot: int = 0


class SignalStrategyConfig(StrategyConfig, frozen=True):
    """Fields ntrader fills in for every strategy (instrument, bars) plus position sizing."""

    instrument_id: InstrumentId | None = None
    bar_type: BarType | None = None
    position_pct: Annotated[float, Meta(gt=0, le=1)] = 0.95

    def __post_init__(self) -> None:
        # Checked whenever a config is built (directly, decoded by Nautilus, or via the spec).
        self.check_params()

    def check_params(self) -> None:
        """Raise ValueError on a parameter outside its field's bounds (`ntrader.strategies.bounds`)."""
        check_bounds(self)


class SignalStrategy(Strategy):
    """A long-only (optionally short) strategy that trades one instrument on one bar type.

    Subclasses register indicators in `setup()` via `self.use_indicators(...)` and decide in
    `on_signal_bar(bar)` with `self.go_long(bar)`, `self.go_short(bar)` and `self.go_flat()`.

    Its orders and positions are judged by what is open now, so a long run lets Nautilus forget
    closed orders and positions between chunks of bars (`ntrader.backtest.engine`); a subclass that
    reads them back (`self.cache.orders_closed()`, `positions_closed()`, an account's past states)
    sets `reads_closed_orders = True`. Strategies of other classes keep all of them.
    """

    config: SignalStrategyConfig
    reads_closed_orders: ClassVar[bool] = False

    def __init__(self, config: SignalStrategyConfig) -> None:
        super().__init__(config)
        self.instrument: Instrument | None = None
        self.execution = ExecutionRules()
        #: Entries decided on the last bar and not opened (close fills).
        self.skipped_on_last_bar = 0
        #: Decisions still waiting for a next open when the data ended (next-open fills).
        self.unfilled_at_end = 0
        self._pending: str | None = None
        self._last_volume = 0.0
        # What the engine's book offers at the bar's close (bar execution), followed bar by bar.
        self._book = CloseOffer()
        self._close_offer = 0
        self._on_last_bar = False

    def on_start(self) -> None:
        assert self.config.instrument_id is not None and self.config.bar_type is not None
        self.instrument = self.cache.instrument(self.config.instrument_id)
        if self.instrument is None:
            self.log.error(f"instrument {self.config.instrument_id} not in cache")
            self.stop()
            return
        self.setup()
        self.subscribe_bars(self.config.bar_type)
        if self.execution.next_open:
            self.subscribe_trade_ticks(self.config.instrument_id)

    def setup(self) -> None:
        """Register indicators here (called once at start)."""

    def on_bar(self, bar: Bar) -> None:
        self._last_volume = bar.volume.as_double()
        self._close_offer = self._book.on_bar(
            bar.open.raw, bar.high.raw, bar.low.raw, bar.close.raw, self._last_volume
        )
        self._on_last_bar = (
            self.execution.last_bar_ns is not None and bar.ts_event >= self.execution.last_bar_ns
        )
        self.on_signal_bar(bar)

    def on_trade_tick(self, tick: TradeTick) -> None:
        """The next bar's opening tick (next-open fills): carry out the decision waiting for it."""
        self._book.on_tick(tick.price.raw, tick.size.as_double())
        intent, self._pending = self._pending, None
        if intent is None:
            return
        self._last_volume = tick.size.as_double()
        if intent == "flat":
            self._close_now()
        else:
            self._enter_now(OrderSide.BUY if intent == "long" else OrderSide.SELL, tick.price)

    def on_signal_bar(self, bar: Bar) -> None:
        raise NotImplementedError

    def use_indicators(self, *indicators: object) -> None:
        """Have the engine update these indicators with every bar before `on_signal_bar`."""
        assert self.config.bar_type is not None
        for indicator in indicators:
            self.register_indicator_for_bars(self.config.bar_type, indicator)  # type: ignore[arg-type]

    # Position helpers -------------------------------------------------------------------------
    @property
    def is_flat(self) -> bool:
        return self.portfolio.is_flat(self.config.instrument_id)

    @property
    def is_long(self) -> bool:
        return self.portfolio.is_net_long(self.config.instrument_id)

    @property
    def is_short(self) -> bool:
        return self.portfolio.is_net_short(self.config.instrument_id)

    def go_long(self, bar: Bar) -> None:
        """Close any short and buy up to `position_pct` of equity at market."""
        self._decide("long", bar)

    def go_short(self, bar: Bar) -> None:
        """Close any long and sell short up to `position_pct` of equity at market."""
        self._decide("short", bar)

    def go_flat(self) -> None:
        """Close the position at market."""
        if self.execution.next_open:
            if self._pending is None and not self.is_flat:
                self._pending = "flat"
            return
        self._close_now()

    def _decide(self, intent: str, bar: Bar) -> None:
        if (intent == "long" and self.is_long) or (intent == "short" and self.is_short):
            return
        if self.execution.next_open:
            self._pending = intent
            return
        if self._on_last_bar:
            # A flip still closes the position it leaves; only the new entry is not opened.
            if (intent == "long" and self.is_short) or (intent == "short" and self.is_long):
                self._close_now()
            self.skipped_on_last_bar += 1
            return
        self._enter_now(OrderSide.BUY if intent == "long" else OrderSide.SELL, bar.close)

    def on_stop(self) -> None:
        assert self.config.bar_type is not None
        if self._pending is not None:
            self.unfilled_at_end += 1
            self._pending = None
        self.unsubscribe_bars(self.config.bar_type)

    # Orders -----------------------------------------------------------------------------------
    def _close_now(self) -> None:
        if not self.is_flat:
            assert self.config.instrument_id is not None
            self.close_all_positions(self.config.instrument_id)

    def _enter_now(self, side: OrderSide, price: Price) -> None:
        if (side == OrderSide.BUY and self.is_short) or (side == OrderSide.SELL and self.is_long):
            # Sized on the equity before the closing order's own costs (as the screen does).
            self._close_now()
        self._submit(side, self._quantity(side, price))

    def _account(self):  # type: ignore[no-untyped-def]
        assert self.config.instrument_id is not None
        return self.portfolio.account(self.config.instrument_id.venue)

    def _equity(self) -> float:
        assert self.instrument is not None and self.config.instrument_id is not None
        account = self._account()
        universe = self.execution.universe
        if universe is not None:
            return universe.equity(self.portfolio, account, self.clock.timestamp_ns())
        currency = self.instrument.quote_currency
        balance = account.balance_total(currency) if account else None
        pnl = self.portfolio.unrealized_pnl(self.config.instrument_id)
        return (balance.as_double() if balance else 0.0) + (pnl.as_double() if pnl else 0.0)

    def _quantity(self, side: OrderSide, price: Price) -> int:
        """Whole shares worth up to `position_pct` of equity at `price`, affordable with costs."""
        value = price.as_double()
        if value <= 0:
            return 0
        equity = self._equity()
        share = self.config.position_pct
        universe = self.execution.universe
        if universe is not None:
            share *= universe.weight(self.execution.slot, self.clock.timestamp_ns())
        target = max(0, math.floor(equity * share / value))
        account = self._account()
        if account is None or account.type != AccountType.CASH or side != OrderSide.BUY:
            return target
        assert self.instrument is not None
        cash_c = round(account.balance_free(self.instrument.quote_currency).as_double() * 100)
        price_c = round(value * 100)
        available = (
            None
            if self.execution.unlimited_liquidity
            else available_at_price(self._last_volume, True)
            if self.execution.next_open
            else self._close_offer
        )
        costs = self.execution.costs
        return affordable_quantity(
            target,
            price_c,
            cash_c,
            available,
            (lambda qty, notional: costs(side, qty, notional)) if costs else (lambda qty, notional: 0),
        )

    def _submit(self, side: OrderSide, quantity: int) -> None:
        if quantity < 1 or self.instrument is None:
            return
        order = self.order_factory.market(
            instrument_id=self.instrument.id,
            order_side=side,
            quantity=self.instrument.make_qty(Decimal(quantity)),
            time_in_force=TimeInForce.GTC,
        )
        self.submit_order(order)
