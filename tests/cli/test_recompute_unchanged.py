"""`ntrader report recompute` on runs nothing has changed since they were saved changes nothing.

The saved figures and the recomputed ones come from the same stored run through different paths
(in memory at run time; back from the database, Numeric(20, 8), at recompute time), so any
convention that depends on float residues or on settings not passed both ways shows up here.
"""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

import ntrader.backtest.pipeline as pipeline
from ntrader.cli import cli
from ntrader.db.runs import get_run, load_trades


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def backtest(*extra: str) -> int:
    out = invoke(
        "backtest",
        "run",
        "--strategy",
        "sma",
        "--symbol",
        "AAPL",
        "--start",
        "2023-01-01",
        "--end",
        "2023-12-31",
        "--param",
        "fast_period=5",
        "--param",
        "slow_period=30",
        *extra,
    ).output
    assert "Backtest #" in out
    return get_run_count()


def get_run_count() -> int:
    from ntrader.db.runs import list_run_ids

    return max(list_run_ids())


@pytest.mark.parametrize("fill_at", ["close", "next-open"])
def test_recompute_of_an_unchanged_run_changes_nothing(database_url, fill_at):
    run_id = backtest("--fill-at", fill_at, "--commission", "ibkr-fixed")
    before = get_run(run_id).metrics
    assert invoke("report", "recompute", str(run_id)).output.strip() == f"Run {run_id}: up to date"
    assert get_run(run_id).metrics == before


def test_a_break_even_trade_is_break_even_before_and_after_storage(database_url, monkeypatch):
    # A round trip whose P&L is a float residue (1e-12) is saved as 0E-8. Classified on the raw
    # float it was a win when the run was saved and break-even when recomputed from the database,
    # so recompute changed winning_trades, win_rate, avg_win and profit_factor.
    real_run_engine = pipeline.run_engine

    def with_break_even_trade(*args, **kwargs):
        result = real_run_engine(*args, **kwargs)
        trades = result.trades.copy()
        closed = trades.index[trades["exit_time"].notna()]
        trades.loc[closed[0], "pnl"] = 1e-12
        return dataclasses.replace(result, trades=trades)

    monkeypatch.setattr(pipeline, "run_engine", with_break_even_trade)
    run_id = backtest()
    stored = load_trades(run_id)
    assert float(stored["pnl"].iloc[0]) == 0.0
    metrics = get_run(run_id).metrics
    pnl = stored.loc[stored["exit_time"].notna(), "pnl"].astype(float).round(2)
    assert metrics["winning_trades"] == int((pnl > 0).sum())
    assert metrics["losing_trades"] == int((pnl < 0).sum())
    assert invoke("report", "recompute", str(run_id)).output.strip() == f"Run {run_id}: up to date"
