"""Fills into round trips and the mark-to-market equity curve, checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ntrader.backtest.engine import Fill, equity_curve, round_trips
from ntrader.data import parse_bar_size

T = pd.Timestamp


def fill(day: str, side: str, qty: float, price: float, fee: float = 0.0) -> Fill:
    return Fill(T(f"{day} 21:00", tz="UTC"), side, qty, price, fee)


def test_long_round_trip_with_commissions():
    trades = round_trips([fill("2024-01-02", "BUY", 10, 100, 1), fill("2024-01-05", "SELL", 10, 110, 1)])
    assert len(trades) == 1
    row = trades.iloc[0]
    assert row["side"] == "LONG" and row["quantity"] == 10
    assert row["pnl"] == pytest.approx(10 * 10 - 2)
    assert row["commission"] == 2


def test_partial_fills_are_averaged_into_one_trade():
    trades = round_trips(
        [
            fill("2024-01-02", "BUY", 6, 100),
            fill("2024-01-02", "BUY", 4, 100.01),
            fill("2024-01-05", "SELL", 10, 105),
        ]
    )
    assert len(trades) == 1
    assert trades.iloc[0]["entry_price"] == pytest.approx((6 * 100 + 4 * 100.01) / 10)


def test_flip_from_long_to_short_makes_two_trades():
    trades = round_trips(
        [
            fill("2024-01-02", "BUY", 10, 100),
            fill("2024-01-03", "SELL", 20, 90),
            fill("2024-01-04", "BUY", 10, 80),
        ]
    )
    assert list(trades["side"]) == ["LONG", "SHORT"]
    assert list(trades["pnl"]) == pytest.approx([-100, 100])


def test_open_position_is_marked_at_the_last_price():
    trades = round_trips([fill("2024-01-02", "BUY", 10, 100)], last_price=103)
    assert trades.iloc[0]["exit_time"] is None
    assert trades.iloc[0]["pnl"] == pytest.approx(30)


def test_equity_curve_marks_the_position_at_each_close():
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"], tz="UTC", name="timestamp")
    bars = pd.DataFrame({"close": [100.0, 105.0, 102.0]}, index=index)
    fills = [fill("2024-01-02", "BUY", 10, 100, 1), fill("2024-01-04", "SELL", 10, 102, 1)]
    curve = equity_curve(bars, parse_bar_size("1-DAY"), fills, 1_000)
    assert curve.tolist() == pytest.approx([999, 1049, 1018])
    assert curve.index[0] == T("2024-01-02 21:00", tz="UTC")


@pytest.mark.parametrize("step", [1, 2, 3, 64])
def test_equity_booked_a_slice_at_a_time_matches_a_bar_by_bar_walk(step):
    """Cash and position are summed `step` bars at a time, carried across slices: the curve equals
    a plain walk over the bars, with several fills in one bar and fills out of time order."""
    from ntrader.backtest.result import _book

    rng = np.random.default_rng(8)
    n = 200
    close = rng.uniform(50, 150, n)
    slot = rng.integers(0, n, 300)  # several fills share bars; not in bar order
    signed = rng.integers(-20, 21, 300).astype(float)
    cash_delta = -signed * rng.uniform(50, 150, 300) - rng.uniform(0, 2, 300)
    equity = np.full(n, 10_000.0)
    _book(equity, close, slot, signed, cash_delta, step=step)
    cash, position, expected = 10_000.0, 0.0, []
    for bar in range(n):
        mine = slot == bar
        cash += cash_delta[mine].sum()
        position += signed[mine].sum()
        expected.append(cash + position * close[bar])
    np.testing.assert_allclose(equity, expected, rtol=1e-12)
