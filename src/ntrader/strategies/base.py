"""What every built-in strategy shares: its config fields, position sizing and order entry."""

from __future__ import annotations

import math
from decimal import Decimal

from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.trading.strategy import Strategy


class SignalStrategyConfig(StrategyConfig, frozen=True):
    """Fields ntrader fills in for every strategy (instrument, bars) plus position sizing."""

    instrument_id: InstrumentId | None = None
    bar_type: BarType | None = None
    position_pct: float = 0.95

    def check_params(self) -> None:
        """Raise ValueError on parameters that cannot work together."""
        if not 0 < self.position_pct <= 1:
            raise ValueError("position_pct must be > 0 and <= 1")


class SignalStrategy(Strategy):
    """A long-only (optionally short) strategy that trades one instrument on one bar type.

    Subclasses register indicators in `on_start` via `self.use_indicators(...)` and decide in
    `on_signal_bar(bar)` with `self.go_long(bar)`, `self.go_short(bar)` and `self.go_flat()`.
    """

    config: SignalStrategyConfig

    def __init__(self, config: SignalStrategyConfig) -> None:
        super().__init__(config)
        self.instrument: Instrument | None = None

    def on_start(self) -> None:
        assert self.config.instrument_id is not None and self.config.bar_type is not None
        self.instrument = self.cache.instrument(self.config.instrument_id)
        if self.instrument is None:
            self.log.error(f"instrument {self.config.instrument_id} not in cache")
            self.stop()
            return
        self.setup()
        self.subscribe_bars(self.config.bar_type)

    def setup(self) -> None:
        """Register indicators here (called once at start)."""

    def on_bar(self, bar: Bar) -> None:
        self.on_signal_bar(bar)

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

    def _equity(self) -> float:
        assert self.instrument is not None and self.config.instrument_id is not None
        account = self.portfolio.account(self.config.instrument_id.venue)
        currency = self.instrument.quote_currency
        balance = account.balance_total(currency) if account else None
        pnl = self.portfolio.unrealized_pnl(self.config.instrument_id)
        return (balance.as_double() if balance else 0.0) + (pnl.as_double() if pnl else 0.0)

    def _target_quantity(self, price: float) -> int:
        """Whole shares worth up to `position_pct` of current equity."""
        if price <= 0:
            return 0
        return max(0, math.floor(self._equity() * self.config.position_pct / price))

    def go_long(self, bar: Bar) -> None:
        """Close any short and buy up to `position_pct` of equity at market."""
        if self.is_long:
            return
        if self.is_short:
            self.go_flat()
        self._submit(OrderSide.BUY, self._target_quantity(bar.close.as_double()))

    def go_short(self, bar: Bar) -> None:
        """Close any long and sell short up to `position_pct` of equity at market."""
        if self.is_short:
            return
        if self.is_long:
            self.go_flat()
        self._submit(OrderSide.SELL, self._target_quantity(bar.close.as_double()))

    def go_flat(self) -> None:
        if not self.is_flat:
            assert self.config.instrument_id is not None
            self.close_all_positions(self.config.instrument_id)

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

    def on_stop(self) -> None:
        assert self.config.bar_type is not None
        self.unsubscribe_bars(self.config.bar_type)
