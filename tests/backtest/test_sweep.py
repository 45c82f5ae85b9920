"""Sweeps: screening, ranking, confirmation in Nautilus, what is saved (grids: test_grid.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ntrader.backtest.sweep import run_sweep
from ntrader.db.runs import get_run, load_trades
from ntrader.db.sweeps import get_sweep
from ntrader.errors import InputError

BREAKOUT = Path(__file__).resolve().parents[2] / "examples" / "strategies" / "breakout.py"


def test_sweep_screens_ranks_confirms_and_saves(database_url):
    outcome = run_sweep(
        "sma",
        "AAPL",
        "2019-01-01",
        "2023-12-31",
        grid=["fast_period=5:25:5", "slow_period=20:60:20"],
        constraints=["fast_period < slow_period"],
        metric="sharpe",
        top=3,
        workers=1,
        database_url=database_url,
    )
    assert len(outcome.rows) == 13  # 5 × 3 minus (20, 20) and (25, 20)
    sharpes = [row.screened["sharpe"] for row in outcome.rows]
    assert sharpes == sorted(sharpes, reverse=True)
    confirmed = outcome.confirmed
    assert [row.rank for row in confirmed] == [1, 2, 3]
    for row in confirmed:
        # The Nautilus rerun agrees with the screen (same trades, so the same figures).
        for name in ("sharpe", "cagr", "calmar", "total_return", "max_drawdown"):
            assert row.confirmed[name] == pytest.approx(row.screened[name], rel=1e-6, abs=1e-12)
        run = get_run(row.run_id, url=database_url)
        assert run.strategy == "sma" and run.params["fast_period"] == row.params["fast_period"]
        assert run.settings["sweep_rank"] == row.rank
        assert run.metrics["sharpe"] == pytest.approx(row.confirmed["sharpe"])
        # Stored trades are the closed ones plus a position still open at the end.
        stored = len(load_trades(row.run_id, url=database_url))
        assert stored == row.confirmed["trades"] + run.metrics["open_trade_count"]
    record = get_sweep(outcome.sweep_id, url=database_url)
    assert record.run_ids == [row.run_id for row in confirmed]
    assert [r["rank"] for r in record.results] == list(range(1, 14))
    assert record.grid == {"fast_period": [5, 10, 15, 20, 25], "slow_period": [20, 40, 60]}
    assert record.constraints == ["fast_period < slow_period"]
    assert record.settings["combinations"] == 13 and record.settings["excluded_by_constraints"] == 2


def test_no_confirm_saves_only_the_sweep(tmp_path):
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    outcome = run_sweep(
        "momentum",
        "MSFT",
        "2020-01-01",
        "2023-12-31",
        grid={"rsi_period": [7, 14], "oversold": [25.0, 30.0, 35.0]},
        metric="total_return",
        confirm=False,
        fill_at="next-open",
        commission="ibkr-tiered",
        database_url=url,
    )
    assert outcome.confirmed == [] and get_sweep(outcome.sweep_id, url=url).run_ids == []
    returns = [row.screened["total_return"] for row in outcome.rows]
    assert returns == sorted(returns, reverse=True)


def test_user_strategy_sweeps_with_the_nautilus_engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    reference = f"{BREAKOUT}:Breakout"
    with pytest.raises(InputError, match="no vector implementation; sweep it with --engine nautilus"):
        run_sweep(reference, "AAPL", "2022-01-01", "2023-12-31", grid=["window=10,20"], database_url=url)
    outcome = run_sweep(
        reference,
        "AAPL",
        "2022-01-01",
        "2023-12-31",
        grid=["window=10,20,30"],
        engine="nautilus",
        top=2,
        workers=1,
        database_url=url,
    )
    assert len(outcome.rows) == 3 and len(outcome.confirmed) == 2
    # Every row's figures came from Nautilus; the top two are saved runs.
    assert all(row.screened["trades"] >= 0 for row in outcome.rows)
    assert get_run(outcome.rows[0].run_id, url=url).strategy == reference


def test_bad_requests_fail_before_anything_runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    with pytest.raises(InputError, match="unknown metric"):
        run_sweep("sma", "AAPL", grid=["fast_period=5,10"], metric="sortino", database_url=url)
    with pytest.raises(InputError, match="unknown engine"):
        run_sweep("sma", "AAPL", grid=["fast_period=5,10"], engine="gpu", database_url=url)
    with pytest.raises(InputError, match="at least one --grid"):
        run_sweep("sma", "AAPL", grid=[], database_url=url)
