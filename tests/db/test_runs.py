"""Runs round-trip through the database: equity curve and trades come back as saved."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from ntrader.backtest.engine import Fill, round_trips
from ntrader.data.mock import generate_bars
from ntrader.db import bulk, get_engine
from ntrader.db.bulk import decode_curve, encode_curve
from ntrader.db.runs import delete_runs, get_run, list_runs, load_equity, load_trades, save_run
from tests.conftest import count_rows


def test_equity_and_trades_round_trip(database_url):
    index = pd.date_range("2024-03-04 14:31", periods=5_000, freq="min", tz="UTC", unit="ns")
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


def test_trades_beyond_one_insert_batch_are_all_stored_in_order(database_url):
    from ntrader.db.runs import TRADE_BATCH

    index = pd.date_range("2024-03-04 14:31", periods=5 * TRADE_BATCH + 500, freq="min", tz="UTC")
    equity = pd.Series(100_000.0, index=index)
    fills = [Fill(t, "BUY" if i % 2 == 0 else "SELL", 1, 100.0 + i % 7, 0.5) for i, t in enumerate(index)]
    trades = round_trips(fills, last_price=100.0)
    assert len(trades) > 2 * TRADE_BATCH
    run_id = save_run(
        strategy="sma",
        params={},
        symbol="AAPL",
        bar_type="AAPL.NASDAQ-1-MINUTE-LAST-EXTERNAL",
        data_source="mock",
        start=datetime(2024, 3, 4, tzinfo=UTC),
        end=datetime(2024, 3, 8, tzinfo=UTC),
        bars=len(index),
        capital=100_000.0,
        final_equity=100_000.0,
        settings={},
        metrics={},
        engine_version="test",
        trades=trades,
        equity=equity,
    )
    back = load_trades(run_id)
    assert len(back) == len(trades)
    assert back["entry_time"].tolist() == trades["entry_time"].tolist()
    assert back["pnl"].tolist() == pytest.approx(trades["pnl"].tolist())


def test_a_million_point_curve_is_stored_compactly_and_exactly(database_url):
    """One compressed row per run (≤ 8 bytes a point) plus one equity_curve row per day; the curve comes
    back to the 8 decimals the Numeric(20, 8) rows kept, and deleting the run removes both."""
    bars = generate_bars("EQ", "2015-01-01", "2024-12-31", "1-MINUTE").iloc[:1_000_000]
    shares = np.where(np.arange(len(bars)) // 5_000 % 2 == 0, 0.0, 317.0)  # in and out of the market
    cash = 100_000.0 - shares * bars["open"].to_numpy()
    equity = pd.Series(cash + shares * bars["close"].to_numpy(), index=bars.index, name="equity")
    curve = encode_curve(equity)
    assert curve.size / len(equity) <= 8.0, curve.size / len(equity)
    pd.testing.assert_series_equal(
        decode_curve(curve.points, curve.codec, curve.stamps, curve.values), equity.round(8), check_freq=False
    )
    run_id = save_run(
        strategy="sma",
        params={},
        symbol="EQ",
        bar_type="EQ.NASDAQ-1-MINUTE-LAST-EXTERNAL",
        data_source="mock",
        start=bars.index[0].to_pydatetime(),
        end=bars.index[-1].to_pydatetime(),
        bars=len(bars),
        capital=100_000.0,
        final_equity=float(equity.iloc[-1]),
        settings={},
        metrics={},
        engine_version="test",
        trades=round_trips([], last_price=1.0),
        equity=equity,
    )
    back = load_equity(run_id)
    np.testing.assert_array_equal(back.to_numpy(), equity.round(8).to_numpy())
    pd.testing.assert_index_equal(back.index, equity.index, check_names=False)
    days = equity.index.normalize().unique()
    assert count_rows(database_url, "equity_curve") == len(days)
    with get_engine(database_url).connect() as conn:
        last = conn.execute(
            text("SELECT equity FROM equity_curve ORDER BY timestamp DESC LIMIT 1")
        ).scalar_one()
    assert float(last) == pytest.approx(round(equity.iloc[-1], 8), abs=1e-8)
    delete_runs([run_id])
    assert count_rows(database_url, "equity_series") == count_rows(database_url, "equity_curve") == 0


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1000, 5000])
def test_deltas_in_place_across_slices_equal_numpy_diff(step):
    values = np.random.default_rng(3).integers(-(10**15), 10**15, 1000)
    expected = np.diff(values, prepend=np.int64(0))
    np.testing.assert_array_equal(bulk._deltas(values.copy(), np.empty_like(values), step), expected)
    in_place = values.copy()
    np.testing.assert_array_equal(bulk._deltas(in_place, in_place, step), expected)


def test_daily_closes_keep_the_last_point_of_each_utc_day():
    index = pd.DatetimeIndex(
        ["2024-01-01 23:00", "2024-01-02 00:00", "2024-01-02 05:00", "2024-01-04 01:00"], tz="UTC"
    ).tz_convert("America/New_York")
    equity = pd.Series([1.0, 2.0, 3.0, 4.0], index=index)
    assert bulk.daily_closes(equity).tolist() == [1.0, 3.0, 4.0]
    assert bulk.daily_closes(equity.iloc[:1]).tolist() == [1.0]


def test_an_equity_curve_of_a_run_saved_before_equity_series_still_loads(database_url):
    index = pd.date_range("2024-03-04", periods=3, freq="D", tz="UTC")
    run_id = save_run(
        strategy="sma",
        params={},
        symbol="OLD",
        bar_type="OLD.NASDAQ-1-DAY-LAST-EXTERNAL",
        data_source="mock",
        start=index[0].to_pydatetime(),
        end=index[-1].to_pydatetime(),
        bars=3,
        capital=100.0,
        final_equity=102.0,
        settings={},
        metrics={},
        engine_version="test",
        trades=round_trips([], last_price=1.0),
        equity=pd.Series([100.0, 101.0, 102.0], index=index),
    )
    with get_engine(database_url).begin() as conn:  # as an older ntrader stored it: rows only
        conn.execute(text("DELETE FROM equity_series"))
    assert load_equity(run_id).tolist() == [100.0, 101.0, 102.0]
