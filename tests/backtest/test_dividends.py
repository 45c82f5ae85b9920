"""`--adjust raw` credits dividends as cash: buy & hold in raw mode equals buy & hold on total-return
prices, to the cent, on the Nautilus engine (no costs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ntrader.backtest.engine import run_engine
from ntrader.data import parse_bar_size
from ntrader.data.adjust import adjust_bars
from tests.backtest.test_bar_volume_split import BuyOnce, BuyOnceConfig
from tests.data.test_adjust import SPLIT_DAY, raw_series


def run(bars: pd.DataFrame, dividends: pd.Series | None, fill_at: str = "close", at_bar: int = 3):
    return run_engine(
        bars,
        symbol="ADJ",
        bar_size=parse_bar_size("1-DAY"),
        strategy_class=BuyOnce,
        config_factory=lambda iid, bt: BuyOnceConfig(instrument_id=iid, bar_type=bt, at_bar=at_bar),
        capital=1_000_000.0,
        liquidity="unlimited",
        fill_at=fill_at,
        dividends=dividends,
    )


@pytest.mark.parametrize("fill_at", ["close", "next-open"])
def test_raw_buy_and_hold_with_dividends_credited_equals_buy_and_hold_on_total_return_prices(fill_at):
    bars, _, dividends = raw_series()
    before = bars[bars.index < SPLIT_DAY]  # two dividends inside, the split after the period
    inside = dividends[dividends.index < SPLIT_DAY]
    raw = run(before, inside, fill_at)
    total = run(adjust_bars(before, None, inside, "total-return"), None, fill_at)
    assert raw.status == total.status == "completed"  # both equity curves agree with the account
    assert [f.quantity for f in raw.fills] == [f.quantity for f in total.fills] == [1_000.0]
    # To the cent at every bar from the purchase on, and at the end.
    cents = (raw.equity * 100).round().astype(int)
    np.testing.assert_array_equal(
        cents.to_numpy()[3:], (total.equity * 100).round().astype(int).to_numpy()[3:]
    )
    assert raw.final_equity == pytest.approx(total.final_equity, abs=0.005)
    # Independently: the raw account holds 1 000 shares' dividends as cash (0.80 twice).
    assert raw.extra["dividends"] == {"paid": 2, "cash": 1_600.0}
    without = run(before, None, fill_at)
    assert raw.final_equity - without.final_equity == pytest.approx(1_600.0, abs=1e-6)
    assert raw.final_balance - without.final_balance == pytest.approx(1_600.0, abs=1e-6)


def test_a_buy_on_the_ex_date_is_not_paid_and_no_position_is_paid_nothing():
    bars, _, dividends = raw_series()
    before = bars[bars.index < SPLIT_DAY]
    ex = before.index.get_loc(dividends.index[0])
    # Bought at the ex-date's close: not entitled to that dividend, only to the next one.
    bought_on_ex = run(before, dividends[dividends.index < SPLIT_DAY], at_bar=ex + 1)
    assert bought_on_ex.extra["dividends"] == {"paid": 1, "cash": 800.0}
    # Bought the bar before: paid both.
    bought_before = run(before, dividends[dividends.index < SPLIT_DAY], at_bar=ex)
    assert bought_before.extra["dividends"] == {"paid": 2, "cash": 1_600.0}
    never = run(before, dividends[dividends.index < SPLIT_DAY], at_bar=10_000)
    assert never.extra["dividends"] == {"paid": 0, "cash": 0.0} and never.final_equity == 1_000_000.0


def test_the_vector_engine_refuses_raw_bars_with_dividends():
    from ntrader.backtest.vector import prepare_bars
    from ntrader.errors import InputError

    bars, _, dividends = raw_series()
    raw = bars.copy()
    raw.attrs["dividends"] = dividends
    with pytest.raises(InputError) as caught:
        prepare_bars(raw, parse_bar_size("1-DAY"))
    assert str(caught.value) == (
        "the vector engine does not credit dividends (4 in the period with --adjust raw); "
        "use --engine nautilus, or --adjust splits or total-return"
    )
    assert prepare_bars(bars, parse_bar_size("1-DAY")).close_c.size == len(bars)
