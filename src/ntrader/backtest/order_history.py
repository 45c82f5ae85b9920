"""What a run's orders left behind: every fill and the order counts, read from Nautilus's cache, and
(for strategies that allow it) taken out of that cache between chunks of bars so it stays small."""

from __future__ import annotations

from typing import Any

import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.model.enums import OrderSide, OrderStatus
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import ClientOrderId
from nautilus_trader.trading.strategy import Strategy

from ntrader.backtest.result import Fill


def forgets_closed_orders(strategy_class: type[Strategy]) -> bool:
    """Whether a run of `strategy_class` may purge closed orders between chunks: only when the class
    says it never reads them back (`reads_closed_orders = False`; see `SignalStrategy`)."""
    return getattr(strategy_class, "reads_closed_orders", True) is False


class OrderHistory:
    """Every order's fills and final status, gathered from Nautilus's cache.

    With `forget`, the orders closed by the end of a chunk are read and then purged from the cache,
    with the positions closed by then and every account state but the latest (Nautilus's own
    `purge_*` calls, made for long-running nodes): Nautilus otherwise keeps ~5 KB per fill for the
    whole run (a million one-minute bars with 40 000 fills: ~190 MB). Only strategy classes that
    say they never read closed orders or positions back (`reads_closed_orders = False`, as
    `SignalStrategy` does) run this way.
    """

    def __init__(self, forget: bool) -> None:
        self.forget = forget
        self._fills: list[tuple[ClientOrderId, list[Fill]]] = []
        self.orders = self.denied = self.rejected = 0

    def take_closed(self, engine: BacktestEngine) -> None:
        if not self.forget:
            return
        cache = engine.cache
        self.take(cache.orders_closed())
        now = engine.kernel.clock.timestamp_ns()
        cache.purge_closed_orders(now)
        cache.purge_closed_positions(now)
        cache.purge_account_events(now)

    def take(self, orders: list[Any]) -> None:
        for order in orders:
            self.orders += 1
            self.denied += order.status == OrderStatus.DENIED
            self.rejected += order.status == OrderStatus.REJECTED
            self._fills.append((order.client_order_id, _order_fills(order)))

    def fills(self) -> list[Fill]:
        """In time order; at one time, in the order of the client order IDs (as the cache lists them)."""
        self._fills.sort(key=lambda entry: entry[0])
        fills = [fill for _, order_fills in self._fills for fill in order_fills]
        fills.sort(key=lambda f: f.timestamp)
        return fills


def fill_from_event(event: OrderFilled) -> Fill:
    """A Nautilus fill event as ntrader records it."""
    return Fill(
        timestamp=pd.Timestamp(event.ts_event, unit="ns", tz="UTC"),
        side="BUY" if event.order_side == OrderSide.BUY else "SELL",
        quantity=event.last_qty.as_double(),
        price=event.last_px.as_double(),
        commission=event.commission.as_double(),
        symbol=event.instrument_id.symbol.value,
    )


def _order_fills(order: Any) -> list[Fill]:
    return [fill_from_event(event) for event in order.events if isinstance(event, OrderFilled)]
