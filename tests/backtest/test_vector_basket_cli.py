"""`backtest sweep --symbol A,B,C` on the vector engine: a basket screened, the best confirmed in Nautilus."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ntrader.backtest import run_backtest
from ntrader.cli import cli
from ntrader.db.runs import get_run, list_runs
from ntrader.db.sweeps import get_sweep

SWEEP = ["backtest", "sweep", "--strategy", "sma", "--symbol", "AAPL,MSFT,SPY", "--start", "2022-01-01",
         "--end", "2023-12-31", "--grid", "fast_period=5,10,20", "-p", "slow_period=30", "--top", "2",
         "--workers", "1"]  # fmt: skip


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("fill_at", ["close", "next-open"])
def test_a_vector_sweep_of_a_basket_screens_what_nautilus_confirms(database_url: str, fill_at: str) -> None:
    result = invoke(*SWEEP, "--fill-at", fill_at, "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["engine"] == "vector" and printed["symbol"] == "AAPL,MSFT,SPY"
    stored = get_sweep(printed["id"])
    assert stored.results == printed["results"] and len(stored.results) == 3
    confirmed = [row for row in stored.results if row["confirmed"] is not None]
    assert len(confirmed) == 2 and len(stored.run_ids) == 2
    for row in confirmed:
        screened, nautilus = row["screened"], row["confirmed"]
        assert nautilus["status"] == "completed"
        # Same fills, so the same account: the screen's figures are Nautilus's.
        assert screened["final_equity"] == pytest.approx(nautilus["final_equity"], rel=1e-12)
        for metric in ("total_return", "max_drawdown", "sharpe", "cagr"):
            assert screened[metric] == pytest.approx(nautilus[metric], rel=1e-9), metric
        run = get_run(row["run_id"])
        assert run.symbol == "AAPL,MSFT,SPY" and run.params["fast_period"] == row["params"]["fast_period"]
        assert run.settings["portfolio"]["mode"] == "basket"
    # The one combination not confirmed: its screened equity is what a Nautilus run of it gives.
    (rest,) = [row for row in stored.results if row["confirmed"] is None]
    alone = run_backtest(
        "sma",
        "AAPL,MSFT,SPY",
        "2022-01-01",
        "2023-12-31",
        params={"fast_period": rest["params"]["fast_period"], "slow_period": 30},
        fill_at=fill_at,
        save=False,
    )
    assert rest["screened"]["final_equity"] == pytest.approx(alone.result.final_equity, rel=1e-12)
    assert len(list_runs()) == 2


def test_portfolio_strategies_still_sweep_with_nautilus_only(database_url: str) -> None:
    result = invoke("backtest", "sweep", "--strategy", "rotation", "--symbol", "SPY,QQQ,IWM",
                    "--grid", "top=1,2")  # fmt: skip
    assert result.exit_code != 0
    assert "does not cover portfolio strategies yet; sweep them with --engine nautilus" in result.output
    assert list_runs() == []
