"""Runs round-trip through the database: equity curve and trades come back as saved."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from ntrader.backtest.engine import Fill, round_trips
from ntrader.db.runs import get_run, list_runs, load_equity, load_trades, save_run


def test_equity_and_trades_round_trip(database_url):
    index = pd.date_range("2024-03-04 14:31", periods=5_000, freq="min", tz="UTC")
    equity = pd.Series(100_000 + np.random.default_rng(1).normal(0, 50, len(index)).cumsum(), index=index)
    fills = [
        Fill(index[10], "BUY", 10, 101.25, 1.0),
        Fill(index[20], "SELL", 10, 102.5, 1.0),
        Fill(index[30], "BUY", 5, 100.0, 1.0),
    ]
    trades = round_trips(fills, last_price=99.0)
    run_id = save_run(
        strategy="sma",
        params={"fast_period": 5},
        symbol="AAPL",
        bar_type="AAPL.NASDAQ-1-MINUTE-LAST-EXTERNAL",
        data_source="mock",
        start=datetime(2024, 3, 4, tzinfo=UTC),
        end=datetime(2024, 3, 8, tzinfo=UTC),
        bars=len(index),
        capital=100_000.0,
        final_equity=float(equity.iloc[-1]),
        settings={"fill_at": "close"},
        metrics={"trade_count": 1},
        engine_version="test",
        trades=trades,
        equity=equity,
    )

    stored = load_equity(run_id)
    pd.testing.assert_index_equal(stored.index, equity.index, check_names=False)
    np.testing.assert_allclose(stored.to_numpy(), equity.round(8).to_numpy(), rtol=0, atol=1e-8)

    back = load_trades(run_id)
    assert list(back["side"]) == ["LONG", "LONG"]
    assert back["entry_time"].iloc[0] == index[10]
    assert pd.isna(back["exit_time"].iloc[1])
    assert back["pnl"].tolist() == pytest.approx(trades["pnl"].tolist())

    record = get_run(run_id)
    assert record.params == {"fast_period": 5} and record.bars == len(index)
    assert [r.id for r in list_runs(symbol="aapl")] == [run_id]
