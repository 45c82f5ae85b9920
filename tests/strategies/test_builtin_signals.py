"""Bollinger and RSI trades against signals recomputed independently with pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ntrader.backtest.engine import run_engine
from ntrader.data import parse_bar_size
from ntrader.data.mock import generate_bars
from ntrader.strategies import WilderRSI, get_strategy


def long_only(entry: pd.Series, exit_: pd.Series) -> tuple[list, list]:
    entries, exits, long = [], [], False
    for ts in entry.index[entry | exit_]:
        if not long and entry[ts]:
            entries.append(ts)
            long = True
        elif long and exit_[ts]:
            exits.append(ts)
            long = False
    return entries, exits


def bollinger_signals(close: pd.Series, lookback: int, num_std: float):
    mean = close.rolling(lookback).mean()
    sigma = close.rolling(lookback).std(ddof=0)  # population σ
    lower = mean - num_std * sigma
    # Keep clear of ties, where float rounding in either implementation could decide.
    assert ((close - lower).abs().dropna() > 1e-9).all() and ((close - mean).abs().dropna() > 1e-9).all()
    return long_only(close < lower, close >= mean)


def wilder_rsi(close: pd.Series, period: int) -> pd.Series:
    """Textbook Wilder RSI: SMA seed of the first `period` changes, then alpha = 1/period."""
    change = close.diff()
    gain, loss = change.clip(lower=0), (-change).clip(lower=0)
    avg_gain = pd.Series(np.nan, index=close.index)
    avg_loss = pd.Series(np.nan, index=close.index)
    avg_gain.iloc[period] = gain.iloc[1 : period + 1].mean()
    avg_loss.iloc[period] = loss.iloc[1 : period + 1].mean()
    for i in range(period + 1, len(close)):
        avg_gain.iloc[i] = (avg_gain.iloc[i - 1] * (period - 1) + gain.iloc[i]) / period
        avg_loss.iloc[i] = (avg_loss.iloc[i - 1] * (period - 1) + loss.iloc[i]) / period
    return 100 - 100 / (1 + avg_gain / avg_loss)


def rsi_signals(close: pd.Series, period: int, oversold: float, overbought: float):
    rsi = wilder_rsi(close, period)
    prev = rsi.shift(1)
    assert ((rsi - oversold).abs().dropna() > 1e-9).all()
    return long_only((prev <= oversold) & (rsi > oversold), (prev >= overbought) & (rsi < overbought))


def run(name: str, bars: pd.DataFrame, bar_size: str = "1-DAY", **params):
    spec = get_strategy(name)
    typed = {**spec.defaults(), **params}
    return run_engine(
        bars,
        symbol="TEST",
        bar_size=parse_bar_size(bar_size),
        strategy_class=spec.strategy_class,
        config_factory=lambda iid, bt: spec.build_config(typed, instrument_id=iid, bar_type=bt),
        capital=100_000.0,
    )


def assert_trades_at(result, bars: pd.DataFrame, bar_size: str, entries: list, exits: list) -> None:
    close_time = pd.Series(
        parse_bar_size(bar_size).close_times(pd.DatetimeIndex(bars.index)), index=bars.index
    )
    buys = [f for f in result.fills if f.side == "BUY"]
    sells = [f for f in result.fills if f.side == "SELL"]
    assert [f.timestamp for f in buys] == [close_time[t] for t in entries]
    assert [f.timestamp for f in sells] == [close_time[t] for t in exits]
    assert [f.price for f in buys] == [bars.loc[t, "close"] for t in entries]


@pytest.mark.parametrize(
    ("symbol", "lookback", "num_std"), [("AAPL", 20, 2.0), ("MSFT", 10, 1.5), ("SPY", 30, 1.0)]
)
def test_mean_reversion_trades_match_pandas(symbol, lookback, num_std):
    bars = generate_bars(symbol, "2020-01-01", "2023-12-31")
    entries, exits = bollinger_signals(bars["close"], lookback, num_std)
    assert len(entries) >= 3
    result = run("bollinger", bars, lookback=lookback, num_std=num_std)
    assert_trades_at(result, bars, "1-DAY", entries, exits)


@pytest.mark.parametrize(
    ("symbol", "period", "oversold", "overbought"),
    [("AAPL", 14, 30.0, 70.0), ("MSFT", 7, 35.0, 65.0), ("QQQ", 10, 40.0, 60.0)],
)
def test_momentum_trades_match_pandas(symbol, period, oversold, overbought):
    bars = generate_bars(symbol, "2018-01-01", "2023-12-31")
    entries, exits = rsi_signals(bars["close"], period, oversold, overbought)
    assert len(entries) >= 2
    result = run("rsi", bars, rsi_period=period, oversold=oversold, overbought=overbought)
    assert_trades_at(result, bars, "1-DAY", entries, exits)


def test_mean_reversion_on_minute_bars():
    # SPY: AAPL's minute closes of these days touch their 20-bar mean exactly (a tie) once.
    bars = generate_bars("SPY", "2024-03-04", "2024-03-06", "1-MINUTE")
    entries, exits = bollinger_signals(bars["close"], 20, 2.0)
    result = run("mean_reversion", bars, "1-MINUTE")
    assert_trades_at(result, bars, "1-MINUTE", entries, exits)


def test_wilder_rsi_matches_the_textbook_recursion():
    close = generate_bars("AAPL", "2023-01-01", "2023-12-31")["close"]
    expected = wilder_rsi(close, 14)
    rsi = WilderRSI(14)
    ours = pd.Series([rsi.update(c) for c in close], index=close.index, dtype="float64")
    pd.testing.assert_series_equal(ours, expected, check_names=False, rtol=1e-12)


def test_rsi_of_a_rising_series_is_100():
    rsi = WilderRSI(3)
    values = [rsi.update(x) for x in (1.0, 2.0, 3.0, 4.0, 5.0)]
    assert values[:3] == [None, None, None] and values[3:] == [100.0, 100.0]


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("bollinger", {"lookback": 1}, "lookback must be >= 2"),
        ("bollinger", {"num_std": 0.0}, "num_std must be > 0"),
        ("rsi", {"oversold": 80.0}, "need 0 < oversold"),
        ("rsi", {"rsi_period": 1}, "rsi_period must be >= 2"),
    ],
)
def test_parameter_bounds(name, params, message):
    from ntrader.errors import InputError

    with pytest.raises(InputError, match=message):
        get_strategy(name).build_config(params)
