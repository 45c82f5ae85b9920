"""Next-bar-open fills: every fill at the next bar's open price and time, checked against pandas."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import ntrader.backtest.pipeline as pipeline
from ntrader.backtest import run_backtest
from ntrader.backtest.costs import commission_for, parse_commission
from ntrader.backtest.engine import make_equity, run_engine
from ntrader.backtest.fills import describe_fill_at, open_ticks, parse_fill_at
from ntrader.cli import cli
from ntrader.data import parse_bar_size
from ntrader.data.mock import generate_bars
from ntrader.db.runs import get_run
from ntrader.errors import InputError
from ntrader.strategies import get_strategy
from tests.backtest.test_sma_signals import pandas_crossovers
from tests.conftest import count_rows

CAPITAL = 100_000.0


def gapped(bars: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """Mock minute bars open exactly at the previous close; move each open a few cents away, so a
    fill at the next open cannot be mistaken for a fill at the signal bar's close."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([-3, -2, -1, 1, 2, 3], size=len(bars)) / 100
    out = bars.copy()
    out["open"] = (bars["close"].shift(1).fillna(bars["open"]) + steps).round(2)
    out["high"] = out[["high", "open"]].max(axis=1)
    out["low"] = out[["low", "open"]].min(axis=1)
    return out


def run_sma(bars: pd.DataFrame, bar_size: str, fill_at: str, commission: str = "none", **params: int):
    spec = get_strategy("sma")
    typed = {**spec.defaults(), **params}
    return run_engine(
        bars,
        symbol="AAPL",
        bar_size=parse_bar_size(bar_size),
        strategy_class=spec.strategy_class,
        config_factory=lambda iid, bt: spec.build_config(typed, instrument_id=iid, bar_type=bt),
        capital=CAPITAL,
        fee_model=parse_commission(commission).fee_model(),
        fill_at=fill_at,
    )


def test_parse_fill_at():
    assert parse_fill_at("close") == "close"
    assert parse_fill_at(" Next-Open ") == "next-open"
    assert parse_fill_at("next_open") == "next-open"
    for bad in ("open", "nextopen", "", "vwap"):
        with pytest.raises(InputError, match="unknown fill mode .*; use one of close, next-open"):
            parse_fill_at(bad)
    assert "sized from that open" in describe_fill_at("next-open")
    assert "unfilled at end" in describe_fill_at("next-open")


def test_open_ticks_are_built_at_each_bars_open():
    bars = generate_bars("AAPL", "2024-03-04", "2024-03-05")
    bars.iloc[1, bars.columns.get_loc("volume")] = 0.0
    ticks = open_ticks(bars, parse_bar_size("1-DAY"), make_equity("AAPL"))
    assert [t.price.as_double() for t in ticks] == bars["open"].tolist()
    assert [t.size.as_double() for t in ticks] == [bars["volume"].iloc[0], 1.0]  # no volume: one lot
    assert [pd.Timestamp(t.ts_event, tz="UTC") for t in ticks] == [
        pd.Timestamp("2024-03-04 14:30", tz="UTC"),  # 09:30 New York
        pd.Timestamp("2024-03-05 14:30", tz="UTC"),
    ]
    assert len({t.trade_id for t in ticks}) == 2


@pytest.mark.parametrize(
    ("symbol", "start", "end", "bar_size", "fast", "slow"),
    [
        ("AAPL", "2022-01-01", "2023-12-31", "1-DAY", 10, 20),
        ("MSFT", "2021-01-01", "2023-12-31", "1-DAY", 5, 30),
        ("MSFT", "2024-03-01", "2024-03-08", "1-MINUTE", 10, 20),
        ("QQQ", "2024-05-01", "2024-05-03", "1-MINUTE", 10, 30),
    ],
)
def test_next_open_fills_at_the_next_bars_open_price_and_time(symbol, start, end, bar_size, fast, slow):
    bars = generate_bars(symbol, start, end, bar_size)
    size = parse_bar_size(bar_size)
    if not size.is_daily:
        bars = gapped(bars)
    entries, exits = pandas_crossovers(bars["close"], fast, slow)
    assert len(entries) >= 3

    result = run_sma(bars, bar_size, "next-open", fast_period=fast, slow_period=slow)

    position = pd.Series(np.arange(len(bars)), index=bars.index)
    opens_at = size.open_times(pd.DatetimeIndex(bars.index))
    last = len(bars) - 1
    # Signals on the last bar have no next bar: those orders never fill.
    buy_at = [position[t] + 1 for t in entries if position[t] < last]
    sell_at = [position[t] + 1 for t in exits if position[t] < last]
    buys = [f for f in result.fills if f.side == "BUY"]
    sells = [f for f in result.fills if f.side == "SELL"]
    assert [f.timestamp for f in buys] == [opens_at[i] for i in buy_at]
    assert [f.timestamp for f in sells] == [opens_at[i] for i in sell_at]
    assert [f.price for f in buys] == [bars["open"].iloc[i] for i in buy_at]
    assert [f.price for f in sells] == [bars["open"].iloc[i] for i in sell_at]
    # The test tells the modes apart: the next open is (nearly always) not the signal bar's close.
    signal_close = [bars["close"].iloc[i - 1] for i in buy_at + sell_at]
    assert sum(f.price != c for f, c in zip(buys + sells, signal_close, strict=True)) > len(signal_close) / 2

    # Sized from the open the order fills at (issue: a gap must not make it cost more than planned);
    # equity carried by hand from trade to trade.
    cash = CAPITAL
    for i, at in enumerate(buy_at):
        quantity = math.floor(cash * 0.95 / bars["open"].iloc[at])
        assert buys[i].quantity == quantity
        if i < len(sell_at):
            cash += quantity * (bars["open"].iloc[sell_at[i]] - bars["open"].iloc[at])
    assert result.split_fills == 0


def test_intraday_fill_at_the_open_is_not_taken_at_the_same_instant_old_price():
    # The 14:56 bar closes at 14:57:00, the instant the 14:57 bar opens: the order placed on the
    # 14:56 bar must fill at the 14:57 open, not at the 14:56 close nor a bar later.
    bars = gapped(generate_bars("MSFT", "2024-03-01", "2024-03-01", "1-MINUTE"))
    size = parse_bar_size("1-MINUTE")
    entries, _ = pandas_crossovers(bars["close"], 10, 20)
    result = run_sma(bars, "1-MINUTE", "next-open")
    first = result.fills[0]
    signal = bars.index.get_loc(entries[0])
    assert size.close_times(bars.index)[signal] == bars.index[signal + 1] == first.timestamp
    assert first.price == bars["open"].iloc[signal + 1] != bars["close"].iloc[signal]


@pytest.mark.parametrize(
    ("bar_size", "start", "end"),
    [("1-DAY", "2022-01-01", "2023-12-31"), ("1-MINUTE", "2024-03-04", "2024-03-05")],
)
def test_equity_books_next_open_fills_on_the_bar_they_open(bar_size, start, end):
    bars = gapped(generate_bars("AAPL", start, end, bar_size))
    entries, exits = pandas_crossovers(bars["close"], 10, 20)
    # End on the bar after the last exit signal: the exit fills at its open, the run ends flat.
    last = bars.index.get_loc(exits[-1]) + 1
    bars = bars.iloc[: last + 1]
    result = run_sma(bars, bar_size, "next-open", commission="ibkr-fixed")
    assert result.trades["exit_time"].notna().all()
    assert result.equity.iloc[-1] == pytest.approx(result.final_balance, abs=1e-6)
    assert result.final_equity == pytest.approx(CAPITAL + result.trades["pnl"].sum(), abs=1e-6)

    # The first entry: flat through its signal bar, long from the next bar at the open price.
    signal = bars.index.get_loc(entries[0])
    buy = result.fills[0]
    assert result.equity.iloc[signal] == pytest.approx(CAPITAL)
    cash = CAPITAL - buy.quantity * buy.price - buy.commission
    expected = cash + buy.quantity * bars["close"].iloc[signal + 1]
    assert result.equity.iloc[signal + 1] == pytest.approx(expected, abs=1e-6)
    assert buy.commission == commission_for(buy.quantity, buy.price)


def test_a_decision_on_the_last_bar_is_counted_never_filled():
    bars = generate_bars("AAPL", "2022-01-01", "2023-12-31")
    entries, _ = pandas_crossovers(bars["close"], 10, 20)
    bars = bars.loc[: entries[-1]]
    result = run_sma(bars, "1-DAY", "next-open")
    # The decision waits for a next open that never comes: no order, counted as unfilled at end.
    assert result.orders == len(result.fills)
    assert result.unfilled_at_end == 1
    assert result.fills[-1].side == "SELL"
    assert result.equity.iloc[-1] == pytest.approx(result.final_balance, abs=1e-6)

    # At the close, an entry on the very last bar is not opened either (no later price to judge it).
    closing = run_sma(bars, "1-DAY", "close")
    assert closing.orders == len(closing.fills)
    assert closing.skipped_on_last_bar == 1
    assert closing.fills[-1].side == "SELL"


# Through the service and the CLI ---------------------------------------------------------------------


def test_run_backtest_saves_the_commission_and_fill_settings(database_url):
    outcome = run_backtest("sma", "AAPL", "2023-01-01", "2023-12-31", commission="bps:5", fill_at="next-open")
    assert outcome.settings["commission"] == "5 bps of trade value, no minimum or maximum"
    assert outcome.settings["fill_at"] == "next-open"
    assert outcome.run_id is not None
    stored = get_run(outcome.run_id)
    assert stored.settings["commission"] == outcome.settings["commission"]
    assert stored.settings["fill_at"] == "next-open"
    fills = outcome.result.fills
    assert fills and all(f.commission == commission_for(f.quantity, f.price, "bps:5") for f in fills)
    assert all(f.timestamp.tz_convert("America/New_York").strftime("%H:%M") == "09:30" for f in fills)


def test_run_backtest_defaults_to_ibkr_fixed_at_the_close(database_url):
    outcome = run_backtest("sma", "AAPL", "2023-01-01", "2023-12-31", save=False)
    # The full fixed stack: the commission plus the regulatory fees IBKR passes through.
    fixed = "IBKR fixed: USD 0.005/share, min USD 1.00, max 1% of trade value; + SEC fee (Section 31)"
    assert outcome.settings["commission"].startswith(fixed)
    assert outcome.settings["fill_at"] == "close"
    assert all(f.commission >= 1.0 for f in outcome.result.fills)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"commission": "flat"}, "unknown commission 'flat'"),
        ({"commission": "bps:-1"}, "bps must be a finite number >= 0"),
        ({"commission": "per-share:abc"}, "per-share needs a number"),
        ({"fill_at": "vwap"}, "unknown fill mode 'vwap'"),
    ],
)
def test_bad_settings_fail_before_any_data_is_loaded(database_url, monkeypatch, kwargs, message):
    def never(*args, **kwargs):
        raise AssertionError("data loaded before the settings were checked")

    # The pipeline's loading steps: a request that fails validation never reaches them.
    monkeypatch.setattr(pipeline, "load_bars", never)
    monkeypatch.setattr(pipeline, "resolve_period", never)
    with pytest.raises(InputError, match=message):
        run_backtest("sma", "AAPL", "2023-01-01", "2023-12-31", **kwargs)
    for table in ("backtest_runs", "trades", "equity_curve", "market_data"):
        assert count_rows(database_url, table) == 0


def test_cli_options(database_url):
    period = ("--start", "2023-01-01", "--end", "2023-06-30")
    args = ["backtest", "run", "-s", "sma", "--symbol", "AAPL", *period]
    options = ["--commission", "ibkr-tiered", "--fill-at", "next-open", "--json"]
    result = CliRunner().invoke(cli, args + options)
    assert result.exit_code == 0, result.output
    settings = json.loads(result.output)["settings"]
    assert settings["fill_at"] == "next-open"
    assert settings["commission"].startswith("IBKR tiered:")

    bad = CliRunner().invoke(cli, [*args, "--commission", "bps:x"])
    assert bad.exit_code == 1
    assert "bps needs a number" in bad.output
    assert count_rows(database_url, "backtest_runs") == 1

    help_text = CliRunner().invoke(cli, ["backtest", "run", "--help"]).output
    assert "--commission" in help_text and "--fill-at" in help_text
