"""The Nautilus fee model that charges a `CommissionModel` (`ntrader.backtest.costs`) on every fill."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from nautilus_trader.backtest.models import FeeModel
from nautilus_trader.model.objects import Money

from ntrader.backtest.fee_table import month_of

if TYPE_CHECKING:
    from ntrader.backtest.costs import CommissionModel

_ZERO = Decimal(0)


@dataclass
class _OrderState:
    month_volume: Decimal
    quantity: Decimal = _ZERO
    value: Decimal = _ZERO
    charged: Decimal = _ZERO


class CommissionFeeModel(FeeModel):
    """Nautilus fee model charging a `CommissionModel` per order.

    The matching engine calls `get_commission` once per fill. An order filled in parts (thin bar
    volume) must pay the minimum once, so each fill is charged the order's costs on everything
    filled so far minus what its earlier fills were charged. Tiered rates count the shares of this
    run's fills per New York calendar month, marginally from the volume before the order's first fill.
    """

    def __init__(self, model: CommissionModel) -> None:
        super().__init__()
        self.model = model
        self._orders: dict[Any, _OrderState] = {}
        self._month: tuple[int, int] | None = None
        self._month_volume = _ZERO
        self._clock: Any = None

    def bind_clock(self, clock: Any) -> None:
        """Read fill times from the venue's clock (the engine's kernel clock) for monthly volumes."""
        self._clock = clock

    def estimate_cents(self, side: Any, quantity: int, notional_c: int) -> int:
        """What an order placed now will pay in total, in cents: how a strategy sizes an order so
        that it and its costs fit in the cash (the same figure `get_commission` will charge)."""
        month_volume = self._month_volume
        if (
            self.model.is_tiered
            and self._clock is not None
            and month_of(self._clock.timestamp_ns()) != self._month
        ):
            month_volume = _ZERO
        total = self.model.order_total(side, Decimal(quantity), Decimal(notional_c) / 100, month_volume)
        return int(total * 100)

    def get_commission(self, order: Any, fill_qty: Any, fill_px: Any, instrument: Any) -> Money:
        qty = fill_qty.as_decimal()
        state = self._orders.get(order.client_order_id)
        if state is None:
            # The order's tiers start from the month's volume before its first fill. The venue clock
            # reads the fill time; the order's own last event is its submission (a next-open fill
            # placed on a month's last bar lands in the next month).
            if self.model.is_tiered:
                month = month_of(self._clock.timestamp_ns() if self._clock is not None else order.ts_last)
                if month != self._month:
                    self._month, self._month_volume = month, _ZERO
            state = _OrderState(month_volume=self._month_volume)
            self._orders[order.client_order_id] = state
        state.quantity += qty
        state.value += qty * fill_px.as_decimal()
        self._month_volume += qty
        total = self.model.order_total(order.side, state.quantity, state.value, state.month_volume)
        charge = max(total - state.charged, _ZERO)
        state.charged += charge
        if state.quantity == order.quantity.as_decimal():
            del self._orders[order.client_order_id]  # filled: nothing more to charge, keep memory flat
        return Money(charge, instrument.quote_currency)


__all__ = ["CommissionFeeModel"]
