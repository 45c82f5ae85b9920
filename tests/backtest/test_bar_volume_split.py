"""How much of a bar's volume Nautilus's bar execution fills at the close, measured on the engine.

1.221 offers a quarter of the volume (rounded half up) at each of O/H/L/C; 1.231 gives the close what
the three quarter-sized points (rounded down) left. The sizing rule (`available_at_price`) and the
vector engine's copy of it must both follow the installed engine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Quantity
from nautilus_trader.trading.strategy import Strategy

from ntrader.backtest.engine import run_engine
from ntrader.backtest.vector.bars import to_cents
from ntrader.data import parse_bar_size
from ntrader.data.mock import generate_bars
from ntrader.nautilus_compat import CloseOffer, available_at_close, close_offers

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


def engine_fill_at_close(volume: float, bars: pd.DataFrame | None = None) -> list[tuple[float, float]]:
    if bars is None:
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


@pytest.mark.parametrize("volume", [3.0, 5.0, 6.0, 9.7, 13.8226, 397.0, 398.0, 399.0, 401.0, 402.4, 402.6])
def test_the_first_fill_at_the_close_is_what_the_engine_offers(volume: float):
    fills = engine_fill_at_close(volume)
    offered = available_at_close(volume)
    assert sum(q for q, _ in fills) == ORDER
    assert fills[0][0] == offered
    # The rest fills one tick (cent) worse.
    assert all(round((p - fills[0][1]) * 100) == 1 for _, p in fills[1:])
    bars = generate_bars("AAPL", "2024-01-01", "2024-01-31").assign(volume=volume)
    assert offers_of(bars)[2] == offered  # the vector engine's figure for the order's bar


def offers_of(bars: pd.DataFrame) -> list[int]:
    """The vector engine's close offers, checked equal to the strategy's bar-by-bar `CloseOffer`."""
    cents = tuple(to_cents(bars[c].to_numpy()) for c in ("open", "high", "low", "close"))
    vector = close_offers(cents, bars["volume"].to_numpy(), open_ticks=False)
    book = CloseOffer()
    by_bar = [
        book.on_bar(*(int(a[i]) for a in cents), float(bars["volume"].iloc[i])) for i in range(len(bars))
    ]
    assert vector.tolist() == by_bar
    return by_bar


def test_a_close_at_the_low_offers_the_lows_quarter():
    bars = generate_bars("AAPL", "2024-01-01", "2024-01-31").assign(volume=401.0)
    bars.iloc[2, bars.columns.get_loc("close")] = bars["low"].iloc[2]  # the order's bar
    quarter = 100  # 401 / 4 rounded, and rounded down: the same on both versions
    assert engine_fill_at_close(0, bars)[0][0] == quarter == offers_of(bars)[2]


def test_a_flat_bar_keeps_what_the_book_held_before():
    bars = generate_bars("AAPL", "2024-01-01", "2024-01-31").assign(volume=401.0)
    bars.iloc[1, bars.columns.get_loc("low")] = bars[["open", "close"]].iloc[1].min() - 0.05  # close > low
    flat = bars["close"].iloc[1]  # the order's bar sends no tick: open = high = low = close = last price
    for column in ("open", "high", "low", "close"):
        bars.iloc[2, bars.columns.get_loc(column)] = flat
    bars.iloc[2, bars.columns.get_loc("volume")] = 9.0
    before = available_at_close(401.0)  # the previous bar's close
    assert engine_fill_at_close(0, bars)[0][0] == before == offers_of(bars)[2]


def test_vector_and_bar_by_bar_offers_agree_on_ties_and_thin_bars():
    rng = np.random.default_rng(5)
    bars = generate_bars("AAPL", "2022-01-01", "2023-12-31")
    steps = rng.choice([0.0, 0.0, 0.01, -0.01], size=(len(bars), 3))
    bars["open"] = bars["close"].shift(1).fillna(bars["close"]) + steps[:, 0] * (steps[:, 1] != 0)
    bars["high"] = bars[["open", "close"]].max(axis=1) + np.abs(steps[:, 1])
    bars["low"] = bars[["open", "close"]].min(axis=1) - np.abs(steps[:, 2])
    bars["volume"] = rng.integers(0, 40, size=len(bars)).astype("float64")
    offers = offers_of(bars.round(2))
    assert len(set(offers)) > 5


def test_the_two_rules_differ_where_the_issue_says():
    assert available_at_close(397.0, close_takes_rest=False) == 99
    assert available_at_close(397.0, close_takes_rest=True) == 100
    assert available_at_close(398.0, close_takes_rest=False) == 100
    assert available_at_close(398.0, close_takes_rest=True) == 101
    assert available_at_close(5.0, close_takes_rest=True) == 2
