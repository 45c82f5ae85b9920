"""The engine's SMA trades against crossovers computed independently with pandas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ntrader.backtest.engine import run_engine
from ntrader.data import parse_bar_size
from ntrader.data.mock import generate_bars
from ntrader.strategies import get_strategy


def exact_above(close: pd.Series, fast: int, slow: int) -> tuple[pd.Series, pd.Series]:
    """SMA(fast) > SMA(slow) decided exactly, in integer cents (a tie is not above), and where
    both averages are defined on this bar and the previous one."""
    cents = pd.Series(np.round(close.to_numpy() * 100).astype(np.int64), index=close.index)
    fast_sum, slow_sum = cents.rolling(fast).sum(), cents.rolling(slow).sum()
    above = fast_sum * slow > slow_sum * fast
    defined = slow_sum.notna() & slow_sum.shift(1).notna()
    return above, defined


def pandas_crossovers(close: pd.Series, fast: int, slow: int) -> tuple[list, list]:
    """Entry and exit bars of a long-only SMA crossover, from the textbook rule with exact ties."""
    above, defined = exact_above(close, fast, slow)
    up = defined & above & ~above.shift(1, fill_value=False)
    down = defined & ~above & above.shift(1, fill_value=False)
    entries, exits, long = [], [], False
    for ts in close.index[up | down]:
        if up[ts] and not long:
            entries.append(ts)
            long = True
        elif down[ts] and long:
            exits.append(ts)
            long = False
    return entries, exits


def backtest(bars: pd.DataFrame, bar_size: str, **params: int):
    spec = get_strategy("sma")
    size = parse_bar_size(bar_size)
    typed = {**spec.defaults(), **params}
    return run_engine(
        bars,
        symbol="AAPL",
        bar_size=size,
        strategy_class=spec.strategy_class,
        config_factory=lambda iid, bt: spec.build_config(typed, instrument_id=iid, bar_type=bt),
        capital=100_000.0,
    ), size


@pytest.mark.parametrize(
    ("symbol", "start", "end", "bar_size", "fast", "slow"),
    [
        ("AAPL", "2022-01-01", "2023-12-31", "1-DAY", 10, 20),
        ("MSFT", "2021-01-01", "2023-12-31", "1-DAY", 5, 30),
        ("MSFT", "2024-03-01", "2024-03-08", "1-MINUTE", 10, 20),
        ("QQQ", "2024-05-01", "2024-05-03", "1-MINUTE", 10, 30),
    ],
)
def test_engine_trades_exactly_at_pandas_crossovers(symbol, start, end, bar_size, fast, slow):
    bars = generate_bars(symbol, start, end, bar_size)
    entries, exits = pandas_crossovers(bars["close"], fast, slow)
    assert len(entries) >= 3

    result, size = backtest(bars, bar_size, fast_period=fast, slow_period=slow)

    close_time = pd.Series(size.close_times(pd.DatetimeIndex(bars.index)), index=bars.index)
    buys = [f for f in result.fills if f.side == "BUY"]
    sells = [f for f in result.fills if f.side == "SELL"]
    assert [f.timestamp for f in buys] == [close_time[t] for t in entries]
    assert [f.timestamp for f in sells] == [close_time[t] for t in exits]
    # Market orders fill at the signal bar's close.
    assert [f.price for f in buys] == [bars.loc[t, "close"] for t in entries]
    assert [f.price for f in sells] == [bars.loc[t, "close"] for t in exits]

    # Sizing: whole shares worth up to 95 % of equity, equity carried by hand from trade to trade.
    cash = 100_000.0
    for i, entry in enumerate(entries):
        price = bars.loc[entry, "close"]
        quantity = math.floor(cash * 0.95 / price)
        assert buys[i].quantity == quantity
        if i < len(exits):
            cash += quantity * (bars.loc[exits[i], "close"] - price)
    assert len(result.trades) == len(entries)


def test_last_equity_point_is_the_accounts_final_balance_when_flat():
    bars = generate_bars("AAPL", "2022-01-01", "2023-12-31")
    result, _ = backtest(bars, "1-DAY")
    if result.trades["exit_time"].isna().any():
        # Still long at the end: equity = balance + the position marked at the last close.
        open_qty = result.trades.loc[result.trades["exit_time"].isna(), "quantity"].sum()
        expected = result.final_balance + open_qty * bars["close"].iloc[-1]
    else:
        expected = result.final_balance
    assert result.equity.iloc[-1] == pytest.approx(expected, abs=1e-6)
    assert len(result.equity) == len(bars)


def test_flat_run_ends_on_the_accounts_balance():
    # Ending right after an exit: flat, so equity must equal the cash balance Nautilus reports.
    bars = generate_bars("AAPL", "2022-01-01", "2023-12-31")
    _, exits = pandas_crossovers(bars["close"], 10, 20)
    bars = bars.loc[: exits[-1]]
    result, _ = backtest(bars, "1-DAY")
    assert result.trades["exit_time"].notna().all()
    assert result.equity.iloc[-1] == pytest.approx(result.final_balance, abs=1e-6)
    assert result.final_equity == pytest.approx(100_000 + result.trades["pnl"].sum(), abs=1e-6)


def test_several_runs_in_one_process_give_identical_results():
    bars = generate_bars("AAPL", "2023-01-01", "2023-12-31")
    first, _ = backtest(bars, "1-DAY")
    second, _ = backtest(bars, "1-DAY")
    assert first.fills == second.fills
    np.testing.assert_array_equal(first.equity.to_numpy(), second.equity.to_numpy())


def test_allow_short_flips_between_long_and_short_at_each_cross():
    bars = generate_bars("AAPL", "2022-01-01", "2023-12-31")
    above, defined = exact_above(bars["close"], 10, 20)
    crosses = bars.index[defined & (above != above.shift(1, fill_value=False))]
    first_up = next(t for t in crosses if above[t])
    crosses = [t for t in crosses if t >= first_up]
    # A cross on the very last bar closes the position but opens nothing.
    entries = [t for t in crosses if t != bars.index[-1]]

    result, size = backtest(bars, "1-DAY", allow_short=True)

    close_time = pd.Series(size.close_times(pd.DatetimeIndex(bars.index)), index=bars.index)
    sides = ["LONG" if above[t] else "SHORT" for t in entries]
    assert list(result.trades["side"]) == sides
    assert list(result.trades["entry_time"]) == [close_time[t] for t in entries]
    # Every exit is the next cross: always in the market after the first cross.
    assert list(result.trades["exit_time"].iloc[:-1]) == [close_time[t] for t in crosses[1 : len(entries)]]
    if entries == crosses:
        assert result.trades["exit_time"].isna().iloc[-1]
    else:
        assert result.trades["exit_time"].iloc[-1] == close_time[crosses[-1]]
        assert result.skipped_on_last_bar == 1
    # Short P&L is (entry - exit) × quantity, net of commissions (none here).
    short = result.trades[result.trades["side"] == "SHORT"].iloc[0]
    assert short["pnl"] == pytest.approx((short["entry_price"] - short["exit_price"]) * short["quantity"])
