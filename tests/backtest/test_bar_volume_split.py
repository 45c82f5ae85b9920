"""How much of a bar's volume Nautilus's bar execution fills at the close, measured on the engine.

1.221 offers a quarter of the volume (rounded half up) at each of O/H/L/C; 1.231 gives the close what
the three quarter-sized points (rounded down) left. The sizing rule (`available_at_price`) and the
vector engine's copy of it must both follow the installed engine.
"""

from __future__ import annotations

import pytest
from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Quantity
from nautilus_trader.trading.strategy import Strategy

from ntrader.backtest.engine import run_engine
from ntrader.backtest.vector.kernel import _available
from ntrader.data import parse_bar_size
from ntrader.data.mock import generate_bars
from ntrader.nautilus_compat import available_at_close, bar_close_takes_rest

ORDER = 1_000  # more than any bar below offers at one price


class BuyOnceConfig(StrategyConfig, frozen=True):
    instrument_id: InstrumentId
    bar_type: BarType
    at_bar: int = 3


class BuyOnce(Strategy):
    """One market buy of ORDER shares at the close of bar `at_bar`."""

    def __init__(self, config: BuyOnceConfig) -> None:
        super().__init__(config)
        self.seen = 0

    def on_start(self) -> None:
        self.subscribe_bars(self.config.bar_type)

    def on_bar(self, bar: Bar) -> None:
        self.seen += 1
        if self.seen == self.config.at_bar:
            order = self.order_factory.market(
                instrument_id=self.config.instrument_id,
                order_side=OrderSide.BUY,
                quantity=Quantity.from_int(ORDER),
                time_in_force=TimeInForce.GTC,
            )
            self.submit_order(order)


def engine_fill_at_close(volume: float) -> list[tuple[float, float]]:
    bars = generate_bars("AAPL", "2024-01-01", "2024-01-31").assign(volume=volume)
    result = run_engine(
        bars,
        symbol="AAPL",
        bar_size=parse_bar_size("1-DAY"),
        strategy_class=BuyOnce,
        config_factory=lambda iid, bt: BuyOnceConfig(instrument_id=iid, bar_type=bt),
        capital=10_000_000.0,
    )
    return [(f.quantity, f.price) for f in result.fills]


@pytest.mark.parametrize("volume", [3.0, 5.0, 6.0, 397.0, 398.0, 399.0, 401.0, 402.4, 402.6])
def test_the_first_fill_at_the_close_is_what_the_engine_offers(volume: float):
    fills = engine_fill_at_close(volume)
    offered = available_at_close(volume)
    assert sum(q for q, _ in fills) == ORDER
    assert fills[0][0] == offered
    # The rest fills one tick (cent) worse.
    assert all(round((p - fills[0][1]) * 100) == 1 for _, p in fills[1:])
    assert _available(volume, False, False, bar_close_takes_rest()) == offered


def test_the_two_rules_differ_where_the_issue_says():
    assert available_at_close(397.0, close_takes_rest=False) == 99
    assert available_at_close(397.0, close_takes_rest=True) == 100
    assert available_at_close(398.0, close_takes_rest=False) == 100
    assert available_at_close(398.0, close_takes_rest=True) == 101
    assert available_at_close(5.0, close_takes_rest=True) == 2
