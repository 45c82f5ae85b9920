"""`backtest sweep --symbol A,B,C` on the vector engine: a basket screened, the best confirmed in Nautilus."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ntrader.backtest import run_backtest
from ntrader.cli import cli
from ntrader.data.bars import parse_bar_size
from ntrader.db.engine import get_engine
from ntrader.db.runs import get_run, list_runs, load_equity
from ntrader.db.runs import load_trades as load_round_trips
from ntrader.db.sweeps import get_sweep

SWEEP = ["backtest", "sweep", "--strategy", "sma", "--symbol", "AAPL,MSFT,SPY", "--start", "2022-01-01",
         "--end", "2023-12-31", "--grid", "fast_period=5,10,20", "-p", "slow_period=30", "--top", "2",
         "--workers", "1"]  # fmt: skip


DAY = parse_bar_size("1-DAY")


def load_trades(run_id: int) -> pd.DataFrame:
    """The stored round trips with the symbol each names (trades.symbol)."""
    from sqlalchemy import text

    trades = load_round_trips(run_id)
    with get_engine().connect() as conn:
        rows = conn.execute(text("SELECT symbol FROM trades WHERE run_id = :r ORDER BY id"), {"r": run_id})
        trades["symbol"] = [r[0] for r in rows]
    return trades


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


def _paid_so_far(bars: dict, trades: pd.DataFrame, equity: pd.Series, capital: float) -> np.ndarray:
    """Commissions paid up to each time: the trades' gross cash flows minus the account's cash
    (equity − Σ shares × last known close), replayed from the stored trades (plain loops)."""
    times = pd.DatetimeIndex(equity.index)
    closes = pd.DataFrame(
        {s: f["close"].set_axis(DAY.close_times(pd.DatetimeIndex(f.index))) for s, f in bars.items()}
    ).ffill()
    closes = closes.reindex(times).ffill().fillna(0.0)
    shares = pd.DataFrame(0.0, index=times, columns=list(bars))
    gross = np.full(len(times), capital)
    for t in trades.itertuples():
        for when, qty, price in (
            (t.entry_time, t.quantity, t.entry_price),
            (t.exit_time, -t.quantity, t.exit_price),
        ):
            after = times >= when
            shares.loc[after, t.symbol] += qty
            gross[after] -= qty * price
    cash = equity.to_numpy() - (shares * closes).sum(axis=1).to_numpy()
    assert (cash >= -1e-6).all(), cash.min()
    return gross - cash


def test_walk_forward_of_a_basket_trades_the_test_windows_on_one_account(database_url: str) -> None:
    from ntrader.data import load_bars, parse_period

    result = invoke("backtest", "walk-forward", "--strategy", "sma", "--symbol", "AAPL,MSFT,SPY",
                    "--start", "2020-01-01", "--end", "2023-12-31", "--grid", "fast_period=5,10,20",
                    "-p", "slow_period=30", "--train", "252", "--test", "126", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = list_runs()
    assert run.symbol == "AAPL,MSFT,SPY" and run.settings["portfolio"]["mode"] == "basket"
    folds = run.settings["walk_forward"]["folds"]
    assert len(folds) == 6
    trades = load_trades(run.id)
    assert set(trades["symbol"]) == {"AAPL", "MSFT", "SPY"}
    assert trades["side"].eq("LONG").all() and trades["exit_time"].notna().all()  # every fold ends flat
    # No order before the first test window; each fold starts from the equity the last one ended with.
    assert trades["entry_time"].min() >= pd.Timestamp(folds[0]["test_start"])
    for before, after in itertools.pairwise(folds):
        assert after["start_equity"] == before["end_equity"]
    bars = {s: load_bars(s, parse_period("2020-01-01", "2023-12-31")) for s in ("AAPL", "MSFT", "SPY")}
    equity = load_equity(run.id)
    paid = _paid_so_far(bars, trades, equity, 100_000.0)
    assert (np.diff(paid) >= -1e-6).all() and paid[0] >= -1e-6
    assert paid[-1] == pytest.approx(trades["commission"].sum(), abs=1e-6)
    # At each fold's end the account is flat: its equity is the capital plus the P&L closed so far.
    for fold in folds:
        end = equity[equity.index <= DAY.close_times(pd.DatetimeIndex([pd.Timestamp(fold["test_end"])]))[0]]
        closed = trades.loc[trades["exit_time"] <= end.index[-1], "pnl"].sum()
        assert end.iloc[-1] == pytest.approx(100_000.0 + closed, abs=1e-6)
        assert end.iloc[-1] == pytest.approx(fold["end_equity"], abs=1e-6)
