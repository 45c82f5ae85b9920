"""What a run's orders left behind: every fill and the order counts, read from Nautilus's cache, and
(for strategies that allow it) taken out of that cache between chunks of bars so it stays small."""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np
import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.model.enums import OrderSide, OrderStatus
from nautilus_trader.model.events import OrderFilled
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
        self.orders = self.denied = self.rejected = 0
        # Fills as columns of machine numbers, not objects (40 000 fills: ~1.4 MB, not ~20 MB):
        # `Fill`s are built by `fills()`, once the engine's own objects are gone.
        self._order_ids: list[str] = []  # of the orders that filled, in the order they were taken
        self._order = array("q")  # per fill: its order's position in _order_ids
        self._ts = array("q")
        self._buy = array("b")
        self._qty, self._price, self._commission = array("d"), array("d"), array("d")
        self._symbols: dict[str, int] = {}
        self._symbol = array("l")

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
            filled = [event for event in order.events if isinstance(event, OrderFilled)]
            if filled:
                self._order_ids.append(order.client_order_id.value)
                for event in filled:
                    self._record(len(self._order_ids) - 1, event)

    def _record(self, order: int, event: OrderFilled) -> None:
        self._order.append(order)
        self._ts.append(event.ts_event)
        self._buy.append(event.order_side == OrderSide.BUY)
        self._qty.append(event.last_qty.as_double())
        self._price.append(event.last_px.as_double())
        self._commission.append(event.commission.as_double())
        symbol = event.instrument_id.symbol.value
        self._symbol.append(self._symbols.setdefault(symbol, len(self._symbols)))

    def fills(self) -> list[Fill]:
        """In time order; at one time, in the order of the client order IDs (as the cache lists
        them), and within an order in the order of its events."""
        ids = np.array(self._order_ids, dtype=object)
        rank = np.empty(len(ids), dtype=np.int64)
        rank[np.argsort(ids, kind="stable")] = np.arange(len(ids))
        order = np.frombuffer(self._order, dtype=np.int64) if self._order else np.empty(0, np.int64)
        stamps = np.frombuffer(self._ts, dtype=np.int64) if self._ts else np.empty(0, np.int64)
        sequence = np.lexsort((np.arange(len(order)), rank[order], stamps))
        symbols = list(self._symbols)
        return [
            Fill(
                timestamp=pd.Timestamp(self._ts[i], unit="ns", tz="UTC"),
                side="BUY" if self._buy[i] else "SELL",
                quantity=self._qty[i],
                price=self._price[i],
                commission=self._commission[i],
                symbol=symbols[self._symbol[i]],
            )
            for i in sequence.tolist()
        ]


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
