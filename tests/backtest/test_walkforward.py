"""Walk-forward: folds roll by the test length, equity carries over, the stitched run is saved."""

from __future__ import annotations

import pytest

from ntrader.backtest.walkforward import walk_forward
from ntrader.data.mock import generate_bars
from ntrader.db.runs import get_run, load_equity, load_trades
from ntrader.errors import InputError


def test_folds_chain_and_the_stitched_run_is_saved(tmp_path):
    url = f"sqlite:///{tmp_path / 'wf.db'}"
    outcome = walk_forward(
        "sma",
        "AAPL",
        "2018-01-01",
        "2023-12-31",
        grid=["fast_period=5:20:5", "slow_period=30:90:30"],
        train=252,
        test=63,
        metric="sharpe",
        database_url=url,
    )
    bars = generate_bars("AAPL", "2018-01-01", "2023-12-31")
    n = len(bars)
    assert len(outcome.folds) == -(-(n - 252) // 63)
    assert len(outcome.equity) == n - 252
    first = outcome.folds[0]
    assert first.start_equity == 100_000.0 and first.test_start == bars.index[252]
    assert first.train_start == bars.index[0] and first.train_end == bars.index[251]
    for k, (before, after) in enumerate(zip(outcome.folds, outcome.folds[1:], strict=False), start=1):
        assert after.start_equity == before.end_equity
        assert after.train_start == bars.index[63 * k] and after.test_start == bars.index[63 * k + 252]
    assert outcome.folds[-1].test_end == bars.index[-1]
    for fold in outcome.folds:
        assert fold.params["fast_period"] in (5, 10, 15, 20) and fold.params["slow_period"] in (30, 60, 90)
    # Positions never cross a fold boundary: every trade opens and closes inside one test window.
    assert outcome.trades["exit_time"].notna().all()
    assert outcome.trades["entry_time"].min() >= first.test_start
    assert outcome.equity.iloc[-1] == pytest.approx(outcome.folds[-1].end_equity)
    assert sum(f.trades for f in outcome.folds) == len(outcome.trades)

    run = get_run(outcome.run_id, url=url)
    assert run.settings["walk_forward"]["train"] == 252 and len(run.settings["walk_forward"]["folds"]) == len(
        outcome.folds
    )
    assert run.bars == n - 252 and run.final_equity == pytest.approx(outcome.folds[-1].end_equity)
    assert len(load_equity(outcome.run_id, url=url)) == n - 252
    assert len(load_trades(outcome.run_id, url=url)) == len(outcome.trades)


def test_a_fold_can_trade_from_its_first_test_bar(tmp_path):
    # Next-open fills, tiered commissions and a float grid parameter also walk forward.
    url = f"sqlite:///{tmp_path / 'wf.db'}"
    outcome = walk_forward(
        "mean_reversion",
        "MSFT",
        "2019-01-01",
        "2023-12-31",
        grid={"lookback": [10, 20], "num_std": [1.0, 1.5]},
        train=126,
        test=42,
        metric="total_return",
        fill_at="next-open",
        commission="ibkr-tiered",
        save=False,
        database_url=url,
    )
    assert outcome.run_id is None and sum(f.trades for f in outcome.folds) > 5


def test_too_few_bars(tmp_path):
    with pytest.raises(InputError, match="needs more than --train"):
        walk_forward(
            "sma",
            "AAPL",
            "2023-01-01",
            "2023-06-30",
            grid=["fast_period=5,10"],
            train=252,
            database_url=f"sqlite:///{tmp_path / 'wf.db'}",
        )
