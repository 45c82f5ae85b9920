"""The vector engine against the Nautilus engine: identical fills and trades, the same final equity.

Every built-in, both fill modes and every commission model, on random walks (mock bars, daily and
one-minute), on the real-looking examples/data/AAPL.csv and on a coarse price grid full of exact
indicator ties. A mismatch is a bug in one of the engines, never a tolerance to loosen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ntrader.backtest.costs import parse_commission
from ntrader.backtest.engine import RunResult, run_engine
from ntrader.backtest.vector import prepare_bars, run_vector, screen
from ntrader.data import parse_bar_size
from ntrader.data.csv import read_csv_bars
from ntrader.data.mock import generate_bars
from ntrader.errors import InputError
from ntrader.strategies import get_strategy

AAPL_CSV = Path(__file__).resolve().parents[2] / "examples" / "data" / "AAPL.csv"
CAPITAL = 100_000.0
COMMISSIONS = (
    "ibkr-fixed",
    "ibkr-tiered",
    "ibkr-fixed:no-reg-fees",
    "ibkr-tiered:no-reg-fees",
    "ibkr-tiered:commission-only",
    "ibkr-tiered:exchange=0.0012,sec=0.0000206,taf-max=5.95",
    "none",
    "per-share:0.01",
    "bps:5",
)
FILLS = ("close", "next-open")
PARAMS = {
    "sma": [{"fast_period": 10, "slow_period": 30}, {"fast_period": 5, "slow_period": 20}],
    "mean_reversion": [{"lookback": 20, "num_std": 1.5}, {"lookback": 10, "num_std": 1.0}],
    "momentum": [
        {"rsi_period": 14, "oversold": 35.0, "overbought": 65.0},
        {"rsi_period": 7, "oversold": 30.0, "overbought": 70.0},
    ],
}


def daily_walk() -> pd.DataFrame:
    return generate_bars("MSFT", "2016-01-01", "2023-12-31")


def aapl_csv() -> pd.DataFrame:
    # A copy: the reader's arrays are read-only, which `fills.open_ticks` cannot take (reported).
    return read_csv_bars(AAPL_CSV, bar_size=parse_bar_size("1-DAY")).frame.copy()


def tie_grid(seed: int = 3) -> pd.DataFrame:
    """Closes on a $0.25 grid that often stand still: exact SMA ties and closes exactly at the mean."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([-0.5, -0.25, 0.0, 0.0, 0.0, 0.25, 0.5], size=1500)
    close = 100.0 + np.cumsum(steps)
    index = pd.bdate_range("2015-01-01", periods=len(close), tz="UTC", name="timestamp")
    open_ = np.concatenate(([100.0], close[:-1])) + rng.choice([-0.25, 0.0, 0.25], size=len(close))
    frame = pd.DataFrame({"open": open_, "close": close, "volume": 5e6}, index=index)
    frame["high"] = frame[["open", "close"]].max(axis=1) + 0.25
    frame["low"] = frame[["open", "close"]].min(axis=1) - 0.25
    return frame[["open", "high", "low", "close", "volume"]]


def at_price(bars: pd.DataFrame, level: float) -> pd.DataFrame:
    """The bars scaled so that the first close is `level` (on the cent grid), whatever the mock's level."""
    prices = ["open", "high", "low", "close"]
    out = bars.copy()
    out[prices] = (out[prices] * (level / float(out["close"].iloc[0]))).round(2)
    return out


def nautilus(
    bars, name, params, commission, fill_at, bar_size="1-DAY", capital=CAPITAL, liquidity="bar-volume"
) -> RunResult:
    spec = get_strategy(name)
    typed = {**spec.defaults(), **params}
    return run_engine(
        bars,
        symbol="TEST",
        bar_size=parse_bar_size(bar_size),
        strategy_class=spec.strategy_class,
        config_factory=lambda iid, bt: spec.build_config(typed, instrument_id=iid, bar_type=bt),
        capital=capital,
        fee_model=parse_commission(commission).fee_model(),
        fill_at=fill_at,
        liquidity=liquidity,
    )


def vector(
    bars, name, params, commission, fill_at, bar_size="1-DAY", capital=CAPITAL, liquidity="bar-volume"
) -> RunResult:
    spec = get_strategy(name)
    return run_vector(
        bars,
        spec.name,
        {**spec.defaults(), **params},
        bar_size=parse_bar_size(bar_size),
        capital=capital,
        commission=commission,
        fill_at=fill_at,
        symbol="TEST",
        liquidity=liquidity,
    )


def fill_rows(result: RunResult) -> list[tuple]:
    return [(f.timestamp, f.side, f.quantity, f.price, f.commission) for f in result.fills]


def assert_same(expected: RunResult, actual: RunResult, min_fills: int = 4) -> None:
    assert len(expected.fills) >= min_fills, "pick data and parameters that trade"
    assert fill_rows(actual) == fill_rows(expected)
    columns = ["side", "quantity", "entry_time", "entry_price", "exit_time", "exit_price"]
    pd.testing.assert_frame_equal(actual.trades[columns], expected.trades[columns])
    assert actual.final_equity == pytest.approx(expected.final_equity, rel=1e-6)
    assert actual.final_balance == pytest.approx(expected.final_balance, rel=1e-9)
    pd.testing.assert_series_equal(actual.equity, expected.equity, rtol=1e-9)


@pytest.mark.parametrize("commission", COMMISSIONS)
@pytest.mark.parametrize("fill_at", FILLS)
@pytest.mark.parametrize("name", list(PARAMS))
def test_trades_match_nautilus(name, fill_at, commission):
    for bars, params in ((daily_walk(), PARAMS[name][0]), (aapl_csv(), PARAMS[name][1])):
        assert_same(
            nautilus(bars, name, params, commission, fill_at), vector(bars, name, params, commission, fill_at)
        )


@pytest.mark.parametrize("fill_at", FILLS)
@pytest.mark.parametrize("name", list(PARAMS))
def test_exact_ties_are_decided_as_nautilus_decides_them(name, fill_at):
    bars = tie_grid()
    closes = bars["close"]
    # The data really is full of ties: equal SMAs and closes exactly at their mean.
    assert ((closes.rolling(10).mean() - closes.rolling(30).mean()).abs() < 1e-12).sum() >= 5
    for params in PARAMS[name]:
        assert_same(
            nautilus(bars, name, params, "ibkr-fixed", fill_at),
            vector(bars, name, params, "ibkr-fixed", fill_at),
            2,
        )


@pytest.mark.parametrize("fill_at", FILLS)
def test_minute_bars(fill_at):
    bars = generate_bars("QQQ", "2024-05-01", "2024-05-03", "1-MINUTE")
    for name in PARAMS:
        params = PARAMS[name][1]
        assert_same(
            nautilus(bars, name, params, "ibkr-tiered", fill_at, "1-MINUTE"),
            vector(bars, name, params, "ibkr-tiered", fill_at, "1-MINUTE"),
        )


@pytest.mark.parametrize("fill_at", FILLS)
def test_tiers_cross_within_a_month(fill_at):
    # About a million shares an order: later orders of a month pay tier-2 rates.
    bars = at_price(generate_bars("AAPL", "2022-01-01", "2023-12-31"), 1.50)
    bars["volume"] = 1e12
    expected = nautilus(
        bars, "sma", {"fast_period": 5, "slow_period": 20}, "ibkr-tiered", fill_at, capital=1e7
    )
    assert len({f.commission / f.quantity for f in expected.fills}) > 1
    assert_same(
        expected,
        vector(bars, "sma", {"fast_period": 5, "slow_period": 20}, "ibkr-tiered", fill_at, capital=1e7),
    )


@pytest.mark.parametrize("fill_at", FILLS)
@pytest.mark.parametrize("commission", ["ibkr-tiered", "ibkr-tiered:commission-only"])
def test_one_order_crosses_several_tiers(fill_at, commission):
    # ~10 million shares an order at about USD 1: the month's first order already runs through
    # tiers 1-3 (marginal rates), and sales pay the TAF maximum.
    bars = at_price(generate_bars("AAPL", "2022-01-01", "2023-12-31"), 1.00)
    bars["volume"] = 1e13
    params = {"fast_period": 5, "slow_period": 20}
    expected = nautilus(bars, "sma", params, commission, fill_at, capital=1e7)
    assert max(f.quantity for f in expected.fills) > 3_000_000
    assert_same(expected, vector(bars, "sma", params, commission, fill_at, capital=1e7))


@pytest.mark.parametrize("commission", ["none", "ibkr-fixed"])
@pytest.mark.parametrize("fill_at", FILLS)
def test_full_position(fill_at, commission):
    bars = daily_walk()
    # All the cash in: each buy is sized at its fill price and cut to what the cash covers after its
    # costs, so neither engine overdraws (Nautilus used to stop after the first next-open gap up).
    params = {"fast_period": 10, "slow_period": 30, "position_pct": 1.0}
    expected = nautilus(bars, "sma", params, commission, fill_at)
    assert expected.status == "completed", expected.halt_reason
    assert_same(expected, vector(bars, "sma", params, commission, fill_at))


def thin_walk(bar_size: str = "1-DAY") -> pd.DataFrame:
    """Mock bars whose volume is often below what an order needs at one price (split fills)."""
    bars = generate_bars("MSFT", "2020-01-01", "2023-12-31") if bar_size == "1-DAY" else minute_bars()
    rng = np.random.default_rng(11)
    bars["volume"] = rng.integers(0, 600, size=len(bars)).astype("float64")
    return bars


def minute_bars() -> pd.DataFrame:
    return generate_bars("MSFT", "2024-03-04", "2024-03-08", bar_size="1-MINUTE")


@pytest.mark.parametrize("commission", ["ibkr-fixed", "ibkr-tiered", "bps:5"])
@pytest.mark.parametrize("fill_at", FILLS)
@pytest.mark.parametrize("name", list(PARAMS))
def test_thin_volume_split_fills_match_nautilus(name, fill_at, commission):
    bars = thin_walk()
    params = PARAMS[name][0]
    expected = nautilus(bars, name, params, commission, fill_at, capital=20_000_000.0)
    assert expected.split_fills >= 1, "the data must split orders"
    actual = vector(bars, name, params, commission, fill_at, capital=20_000_000.0)
    assert_same(expected, actual, 2)
    assert actual.split_fills == expected.split_fills


@pytest.mark.parametrize("fill_at", FILLS)
def test_thin_minute_bars_match_nautilus(fill_at):
    bars = thin_walk("1-MINUTE")
    params = {"fast_period": 10, "slow_period": 30}
    expected = nautilus(bars, "sma", params, "ibkr-fixed", fill_at, bar_size="1-MINUTE", capital=5_000_000.0)
    assert expected.split_fills >= 5
    actual = vector(bars, "sma", params, "ibkr-fixed", fill_at, bar_size="1-MINUTE", capital=5_000_000.0)
    assert_same(expected, actual)


@pytest.mark.parametrize("fill_at", FILLS)
def test_fractional_volumes_split_fills_as_nautilus_does(fill_at):
    """Volumes that are not whole shares (a reverse split's back-adjusted bars, vendors' data):
    Nautilus rounds the bar's volume to whole shares before it splits it among the bar's ticks."""
    bars = thin_walk()
    bars["volume"] = bars["volume"] + np.random.default_rng(5).uniform(-0.5, 0.5, size=len(bars)).round(4)
    bars["volume"] = bars["volume"].clip(lower=0.0)
    params = PARAMS["sma"][0]
    expected = nautilus(bars, "sma", params, "ibkr-fixed", fill_at, capital=20_000_000.0)
    assert expected.split_fills >= 1, "the data must split orders"
    actual = vector(bars, "sma", params, "ibkr-fixed", fill_at, capital=20_000_000.0)
    assert_same(expected, actual, 2)
    assert actual.split_fills == expected.split_fills


@pytest.mark.parametrize("fill_at", FILLS)
def test_unlimited_liquidity_fills_whole_orders_in_both_engines(fill_at):
    bars = thin_walk()
    params = PARAMS["sma"][0]
    expected = nautilus(
        bars, "sma", params, "ibkr-fixed", fill_at, capital=20_000_000.0, liquidity="unlimited"
    )
    assert expected.split_fills == 0
    assert len({(f.timestamp, f.side) for f in expected.fills}) == len(expected.fills)
    actual = vector(bars, "sma", params, "ibkr-fixed", fill_at, capital=20_000_000.0, liquidity="unlimited")
    assert_same(expected, actual, 2)
    # Every fill is at the bar's own price (close, or the next open): no one-tick slippage.
    size = parse_bar_size("1-DAY")
    at = (
        size.open_times(pd.DatetimeIndex(bars.index))
        if fill_at == "next-open"
        else size.close_times(pd.DatetimeIndex(bars.index))
    )
    prices = pd.Series(bars["open" if fill_at == "next-open" else "close"].to_numpy(), index=at)
    for fill in expected.fills:
        assert fill.price == pytest.approx(prices[fill.timestamp])


def test_screen_figures_equal_the_detailed_run():
    bars = daily_walk()
    size = parse_bar_size("1-DAY")
    combos = [
        {**get_strategy("sma").defaults(), "fast_period": f, "slow_period": s} for f, s in ((5, 20), (10, 50))
    ]
    figures = screen(prepare_bars(bars, size), "sma", combos, commission="ibkr-fixed")
    from ntrader.metrics import compute_metrics

    for combo, fig in zip(combos, figures, strict=True):
        result = run_vector(bars, "sma", combo, bar_size=size, commission="ibkr-fixed")
        metrics = compute_metrics(result.equity, result.trades)
        assert fig.final_equity == pytest.approx(result.final_equity, rel=1e-12)
        assert fig.total_return == pytest.approx(metrics.total_return, rel=1e-9)
        assert fig.sharpe == pytest.approx(metrics.sharpe, rel=1e-9)
        assert fig.cagr == pytest.approx(metrics.cagr, rel=1e-9)
        assert fig.max_drawdown == pytest.approx(metrics.max_drawdown, rel=1e-9)
        assert fig.calmar == pytest.approx(metrics.calmar, rel=1e-9)


def test_vector_engine_refuses_short_selling():
    with pytest.raises(InputError, match="long-only"):
        vector(
            daily_walk(), "sma", {"fast_period": 5, "slow_period": 20, "allow_short": True}, "none", "close"
        )
