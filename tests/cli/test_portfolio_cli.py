"""Portfolio runs through the real CLI: what is printed and what is stored (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner
from sqlalchemy import text

from ntrader.cli import cli
from ntrader.data import generate_bars
from ntrader.data.bars import parse_bar_size
from ntrader.db.engine import get_engine
from ntrader.db.runs import get_run, list_runs, load_equity
from ntrader.db.runs import load_trades as load_round_trips

DAY = parse_bar_size("1-DAY")


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _run_symbols(url: str, run_id: int) -> list[str]:
    with get_engine(url).connect() as conn:
        rows = conn.execute(
            text("SELECT symbol FROM run_symbols WHERE run_id = :r ORDER BY position"), {"r": run_id}
        )
        return [r[0] for r in rows]


def load_trades(run_id: int) -> pd.DataFrame:
    """The stored trades with the symbol each one names (trades.symbol)."""
    trades = load_round_trips(run_id)
    with get_engine().connect() as conn:
        rows = conn.execute(text("SELECT symbol FROM trades WHERE run_id = :r ORDER BY id"), {"r": run_id})
        trades["symbol"] = [r[0] for r in rows]
    return trades


def _check_account(run_id: int, bars: dict[str, pd.DataFrame]) -> None:
    """The stored equity is the account's: with the shares replayed from the stored trades and the
    bars' last known closes, cash = equity − Σ shares × close is never below 0, and it differs from
    the trades' gross cash flows only by the commissions paid so far (growing at trade times only,
    ending at the trades' total commission)."""
    trades = load_trades(run_id)
    equity = load_equity(run_id)
    times = pd.DatetimeIndex(equity.index)
    closes = pd.DataFrame(
        {s: f["close"].set_axis(DAY.close_times(pd.DatetimeIndex(f.index))) for s, f in bars.items()}
    ).ffill()
    closes = closes.reindex(times).fillna(0.0)
    shares = pd.DataFrame(0.0, index=times, columns=list(bars))
    gross = np.full(len(times), float(get_run(run_id).capital))
    traded = np.zeros(len(times), dtype=bool)
    for t in trades.itertuples():
        sign = 1.0 if t.side == "LONG" else -1.0
        legs = [(t.entry_time, sign * t.quantity, t.entry_price)]
        if pd.notna(t.exit_time):
            legs.append((t.exit_time, -sign * t.quantity, t.exit_price))
        for when, qty, price in legs:
            after = times >= when
            shares.loc[after, t.symbol] += qty
            gross[after] -= qty * price
            traded[times.get_loc(when)] = True
    cash = equity.to_numpy() - (shares * closes).sum(axis=1).to_numpy()
    assert (cash >= -1e-6).all(), cash.min()
    paid = gross - cash
    assert paid[0] >= -0.01
    steps = np.diff(paid)
    assert (steps >= -0.01).all()
    assert (np.abs(steps[~traded[1:]]) < 0.01).all()  # no money moves without a trade
    assert abs(paid[-1] - trades["commission"].sum()) < 0.05


def test_sma_basket_on_three_symbols(database_url: str) -> None:
    result = invoke(
        "backtest", "run", "--strategy", "sma", "--symbol", "AAPL,MSFT,SPY",
        "--start", "2022-01-01", "--end", "2024-12-31",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "AAPL, MSFT, SPY" in result.output  # the panel's Symbols line
    (run,) = list_runs()
    assert run.symbol == "AAPL,MSFT,SPY"
    assert _run_symbols(database_url, run.id) == ["AAPL", "MSFT", "SPY"]
    trades = load_trades(run.id)
    assert set(trades["symbol"]) == {"AAPL", "MSFT", "SPY"}
    assert run.settings["portfolio"]["mode"] == "basket"
    assert run.settings["portfolio"]["allocation"] == "equal"
    assert "last known close" in run.settings["portfolio"]["alignment"]
    assert set(run.metrics["portfolio"]["symbols"]) == {"AAPL", "MSFT", "SPY"}
    # The cost breakdown (recomputed from the fills, order by order) is what the trades paid:
    # two symbols' orders at the same time are two orders, each with its own minimum.
    assert abs(run.settings["costs"]["total"] - trades["commission"].sum()) < 0.01
    period = pd.Timestamp("2022-01-01", tz="UTC"), pd.Timestamp("2024-12-31", tz="UTC")
    bars = {s: generate_bars(s, *period, DAY) for s in ("AAPL", "MSFT", "SPY")}
    _check_account(run.id, bars)
    # list-results --symbol MSFT finds the portfolio run; the table shows its symbols.
    listed = invoke("backtest", "list-results", "--symbol", "msft")
    assert "AAPL,MSFT,SPY" in listed.output
    assert [
        r["id"] for r in json.loads(invoke("backtest", "list-results", "--symbol", "SPY", "--json").output)
    ] == [run.id]


def test_rotation_and_rebalance_from_the_cli(database_url: str) -> None:
    result = invoke(
        "backtest", "run", "--strategy", "rotation", "--symbol", "SPY,QQQ,IWM,EFA,TLT,GLD",
        "--start", "2022-01-01", "--end", "2024-12-31",
        "--param", "top=2", "--param", "lookback=126", "--param", "rebalance=monthly", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["symbol"] == "SPY,QQQ,IWM,EFA,TLT,GLD"
    assert document["settings"]["portfolio"]["mode"] == "portfolio strategy"
    rotation_id = document["id"]
    trades = load_trades(rotation_id)
    assert len(trades) > 5 and trades["symbol"].isin(["SPY", "QQQ", "IWM", "EFA", "TLT", "GLD"]).all()

    result = invoke(
        "backtest", "run", "--strategy", "rebalance", "--symbol", "SPY,TLT",
        "--start", "2022-01-01", "--end", "2024-12-31",
        "--param", "weights=SPY:0.6,TLT:0.4", "--param", "rebalance=quarterly", "--benchmark", "SPY",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "SPY, TLT" in result.output
    run = list_runs(limit=1)[0]
    assert _run_symbols(database_url, run.id) == ["SPY", "TLT"]
    assert run.settings["portfolio"]["benchmark"] == "SPY"
    assert run.metrics["portfolio"]["benchmark"] is not None
    # A rebalance trims and adds to open positions, which round trips do not itemise: the stored
    # curve is checked against the account replayed from the same request's fills instead.
    from ntrader.backtest import run_backtest
    from tests.backtest.test_portfolio_engine import _replay

    period = pd.Timestamp("2022-01-01", tz="UTC"), pd.Timestamp("2024-12-31", tz="UTC")
    bars = {s: generate_bars(s, *period, DAY) for s in ("SPY", "TLT")}
    again = run_backtest(
        "rebalance", "SPY,TLT", "2022-01-01", "2024-12-31",
        params={"weights": "SPY:0.6,TLT:0.4", "rebalance": "quarterly"}, save=False,
    )  # fmt: skip
    expected, cash = _replay(bars, again.result)
    np.testing.assert_allclose(load_equity(run.id).to_numpy(), expected.to_numpy(), rtol=0, atol=1e-6)
    assert min(cash) >= 0


def test_a_csv_directory_with_a_later_listing(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "bars"
    folder.mkdir()
    period = pd.Timestamp("2022-01-01", tz="UTC"), pd.Timestamp("2023-12-29", tz="UTC")
    bars = {s: generate_bars(s, *period, DAY) for s in ("KO", "PEP")}
    bars["PEP"] = bars["PEP"].loc["2022-09-01":]  # listed later
    for symbol, frame in bars.items():
        frame.to_csv(
            folder / f"{symbol.lower()}.csv", index_label="timestamp", date_format="%Y-%m-%dT%H:%M:%SZ"
        )
    result = invoke(
        "backtest", "run", "--strategy", "sma", "--symbol", "KO,PEP", "--csv", str(folder), "--json"
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    ranges = document["settings"]["portfolio"]["symbol_ranges"]
    assert ranges["PEP"][0].startswith("2022-09-01")
    assert ranges["KO"][0].startswith("2022-01-03")
    equity = load_equity(document["id"])
    assert len(equity) == len(bars["KO"])  # KO's bars before PEP listed are all there
    trades = load_trades(document["id"])
    assert (trades.loc[trades["symbol"] == "PEP", "entry_time"] >= pd.Timestamp("2022-09-01", tz="UTC")).all()
    _check_account(document["id"], bars)


def test_bad_portfolio_requests_say_what_is_wrong(database_url: str, tmp_path: Path) -> None:
    twice = invoke("backtest", "run", "--strategy", "sma", "--symbol", "AAPL,MSFT,AAPL")
    assert twice.exit_code != 0 and "AAPL given more than once" in twice.output
    missing = invoke(
        "backtest",
        "run",
        "--strategy",
        "rebalance",
        "--symbol",
        "SPY,TLT",
        "--param",
        "weights=SPY:0.5,GLD:0.5",
    )
    assert missing.exit_code != 0 and "GLD" in missing.output
    empty = tmp_path / "none"
    empty.mkdir()
    no_file = invoke("backtest", "run", "--strategy", "sma", "--symbol", "KO,PEP", "--csv", str(empty))
    assert no_file.exit_code != 0 and "no KO.csv" in no_file.output
    assert list_runs() == []


def test_strategy_list_and_show_have_the_portfolio_strategies() -> None:
    listed = invoke("strategy", "list")
    assert "rotation" in listed.output and "rebalance" in listed.output
    shown = invoke("strategy", "show", "rotation")
    assert "lookback" in shown.output and "top" in shown.output
    assert "last known close" in shown.output


def test_a_nautilus_sweep_of_a_basket_saves_portfolio_runs(database_url: str) -> None:
    from ntrader.backtest import run_backtest

    args = ["backtest", "sweep", "--strategy", "sma", "--symbol", "AAPL,MSFT", "--start", "2022-01-01",
            "--end", "2023-12-31", "--grid", "fast_period=5,10", "-p", "slow_period=30"]  # fmt: skip
    # (The default vector engine screens baskets too: tests/backtest/test_vector_basket_cli.py.)
    result = invoke(*args, "--engine", "nautilus", "--workers", "2", "--top", "2", "--json")
    assert result.exit_code == 0, result.output
    runs = list_runs()
    assert len(runs) == 2
    for run in runs:
        assert run.symbol == "AAPL,MSFT" and _run_symbols(database_url, run.id) == ["AAPL", "MSFT"]
        assert set(load_trades(run.id)["symbol"]) == {"AAPL", "MSFT"}
        assert "portfolio" in run.metrics and run.settings["portfolio"]["mode"] == "basket"
        # Each confirmed run is the run `backtest run` gives for its parameters.
        alone = run_backtest("sma", "AAPL,MSFT", "2022-01-01", "2023-12-31", params=run.params, save=False)
        np.testing.assert_allclose(load_equity(run.id).to_numpy(), alone.result.equity.to_numpy(), atol=1e-6)
    assert {r.params["fast_period"] for r in runs} == {5, 10}


def test_walk_forward_of_a_portfolio_strategy_says_why_not(database_url: str) -> None:
    # (Baskets of single-symbol strategies walk forward: tests/backtest/test_vector_basket_cli.py.)
    result = invoke("backtest", "walk-forward", "--strategy", "rotation", "--symbol", "AAPL,MSFT",
                    "--grid", "top=1,2", "--train", "100", "--test", "50")  # fmt: skip
    assert result.exit_code != 0
    assert (
        "walk-forward runs on the vector engine, which does not cover portfolio strategies" in result.output
    )
    assert list_runs() == []


def test_a_basket_on_ibkr_bars_fetches_each_symbol(database_url: str, make_gateway, monkeypatch) -> None:
    from ntrader.config import get_settings
    from ntrader.data import parse_period
    from ntrader.data.store import load_stored_bars

    gateway = make_gateway()
    monkeypatch.setenv("IBKR_PORT", str(gateway.port))
    get_settings.cache_clear()
    args = ["backtest", "run", "--strategy", "sma", "--symbol", "AAPL,MSFT,SPY", "--data-source", "ibkr",
            "--start", "2023-01-01", "--end", "2023-06-30",
            "-p", "fast_period=3", "-p", "slow_period=8"]  # fmt: skip
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert {r.symbol for r in gateway.historical_requests} == {"AAPL", "MSFT", "SPY"}
    assert document["settings"]["instrument_id"] == "AAPL.SMART,MSFT.SMART,SPY.SMART"  # one account
    assert _run_symbols(database_url, document["id"]) == ["AAPL", "MSFT", "SPY"]
    trades = load_trades(document["id"])
    assert set(trades["symbol"]) == {"AAPL", "MSFT", "SPY"}
    period = parse_period("2023-01-01", "2023-06-30")
    bars = {s: load_stored_bars(s, period, bar_size="1-DAY", source="ibkr") for s in ("AAPL", "MSFT", "SPY")}
    _check_account(document["id"], bars)
    # Everything is stored now: the same run without fetching asks IB nothing and gives the same curve.
    requests = len(gateway.historical_requests)
    again = invoke(*args, "--no-fetch", "--json")
    assert again.exit_code == 0, again.output
    assert len(gateway.historical_requests) == requests
    np.testing.assert_allclose(
        load_equity(json.loads(again.output)["id"]).to_numpy(), load_equity(document["id"]).to_numpy()
    )


def test_a_yaml_config_lists_the_symbols(database_url: str, tmp_path: Path) -> None:
    config = tmp_path / "sixty-forty.yaml"
    config.write_text(
        "strategy: rebalance\nsymbol: [spy, tlt]\nstart: 2023-01-01\nend: 2023-12-31\n"
        "params:\n  weights: SPY:0.6,TLT:0.4\n  rebalance: monthly\nbenchmark: SPY\n"
    )
    result = invoke("backtest", "run-config", str(config), "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["symbol"] == "SPY,TLT" and document["settings"]["portfolio"]["benchmark"] == "SPY"
    assert _run_symbols(database_url, document["id"]) == ["SPY", "TLT"]


def test_a_portfolio_panel_compares_with_the_equal_weight_buy_and_hold(database_url: str) -> None:
    """The account's buy & hold is the symbols' equal-weight buy & hold (computed independently here
    from the same mock bars), not "–"; and P&L of closed trades is labelled as such, since a
    rebalance run's positions stay open (its account P&L is in the per-symbol table)."""
    args = ("backtest", "run", "--strategy", "rebalance", "--symbol", "SPY,TLT",
            "--start", "2022-01-01", "--end", "2023-12-31",
            "--param", "weights=SPY:0.6,TLT:0.4", "--param", "rebalance=quarterly")  # fmt: skip
    shown = invoke(*args)
    assert shown.exit_code == 0, shown.output
    assert "Net P&L (closed)" in shown.output
    assert "buy & hold: equal weight" in shown.output
    run = list_runs(limit=1)[0]
    period = pd.Timestamp("2022-01-01", tz="UTC"), pd.Timestamp("2023-12-31", tz="UTC")
    closes = [generate_bars(s, *period, DAY)["close"] for s in ("SPY", "TLT")]
    # Half the capital in each at its first close, held to its last: the mean of the two returns.
    expected = float(np.mean([c.iloc[-1] / c.iloc[0] - 1.0 for c in closes]))
    assert run.metrics["buy_and_hold_return"] is not None
    assert abs(run.metrics["buy_and_hold_return"] - expected) < 1e-9
    assert f"{expected:.2%}" in shown.output
    assert "equal weight" in run.metrics["conventions"]["buy_and_hold_basis"]
