"""The fills an OrderHistory gathers from Nautilus's orders: in time order, ties by client order ID
and event order, every field as the event had it."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
from nautilus_trader.model.enums import OrderSide, OrderStatus
from nautilus_trader.model.identifiers import ClientOrderId
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.test_kit.stubs.events import TestEventStubs
from nautilus_trader.test_kit.stubs.execution import TestExecStubs

from ntrader.backtest.order_history import OrderHistory, fill_from_event

INSTRUMENT = TestInstrumentProvider.equity("AAPL", "NASDAQ")


def order_with_fills(
    order_id: str, side: OrderSide, fills: list[tuple[int, int, str, str]]
) -> SimpleNamespace:
    """A filled order as the cache lists it: its ID, status and events ((ts, qty, price, fee) fills)."""
    client_order_id = ClientOrderId(order_id)
    order = TestExecStubs.market_order(
        instrument=INSTRUMENT,
        order_side=side,
        quantity=Quantity.from_int(100),
        client_order_id=client_order_id,
    )
    events = [
        TestEventStubs.order_filled(
            order,
            INSTRUMENT,
            last_qty=Quantity.from_int(qty),
            last_px=Price.from_str(price),
            commission=Money(fee, INSTRUMENT.quote_currency),
            ts_event=ts,
        )
        for ts, qty, price, fee in fills
    ]
    return SimpleNamespace(client_order_id=client_order_id, status=OrderStatus.FILLED, events=events)


def test_fills_come_in_time_order_then_order_id_then_event_order():
    history = OrderHistory(forget=True)
    late = order_with_fills("O-2", OrderSide.SELL, [(300, 100, "11.00", "1.00")])
    # Taken before O-10 and O-2, but "O-1" < "O-10" < "O-2" as the cache sorts client order IDs.
    split = order_with_fills("O-1", OrderSide.BUY, [(200, 60, "10.00", "0.60"), (200, 40, "10.01", "0.40")])
    tie = order_with_fills("O-10", OrderSide.BUY, [(200, 5, "9.99", "0.05")])
    early = order_with_fills("O-3", OrderSide.BUY, [(100, 1, "9.50", "0.01")])
    history.take([late, tie])
    history.take([split, early])
    unfilled = SimpleNamespace(client_order_id=ClientOrderId("O-4"), status=OrderStatus.DENIED, events=[])
    history.take([unfilled])

    fills = history.fills()

    expected = [fill_from_event(e) for order in (early, split, tie, late) for e in order.events]
    assert fills == expected
    assert [(f.quantity, f.price, f.side) for f in fills[:3]] == [
        (1, 9.5, "BUY"),
        (60, 10.0, "BUY"),
        (40, 10.01, "BUY"),
    ]
    assert fills[0].timestamp == pd.Timestamp(100, unit="ns", tz="UTC")
    assert fills[-1].commission == 1.0 and fills[-1].symbol == "AAPL"
    assert (history.orders, history.denied, history.rejected) == (5, 1, 0)


def test_no_orders_no_fills():
    assert OrderHistory(forget=False).fills() == []
