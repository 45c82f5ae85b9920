"""`backtest delete` and `report sweeps`: managing what is saved, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import text

from ntrader.cli import cli
from ntrader.db import get_engine

SMA = ["--strategy", "sma", "--symbol", "AAPL", "--start", "2023-01-01", "--end", "2023-12-31"]


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def rows_of(url: str, run_id: int) -> tuple[int, int, int]:
    """(runs, trades, equity points) stored for one run id."""
    with get_engine(url).connect() as conn:
        return tuple(  # type: ignore[return-value]
            int(
                conn.execute(
                    text(f"SELECT COUNT(*) FROM {table} WHERE {key} = :id"), {"id": run_id}
                ).scalar_one()
            )
            for table, key in (("backtest_runs", "id"), ("trades", "run_id"), ("equity_curve", "run_id"))
        )


def test_delete_asks_then_removes_the_run_its_trades_and_equity(database_url):
    for _ in range(2):
        assert invoke("backtest", "run", *SMA).exit_code == 0
    runs, trades, equity = rows_of(database_url, 1)
    assert runs == 1 and trades > 0 and equity == 250

    declined = invoke("backtest", "delete", "1", input="n\n")
    assert declined.exit_code == 1 and "Delete run(s) #1 (sma AAPL)" in declined.output
    assert rows_of(database_url, 1) == (1, trades, equity)

    accepted = invoke("backtest", "delete", "1", input="y\n")
    assert accepted.exit_code == 0 and "Deleted run(s) 1." in accepted.output
    assert rows_of(database_url, 1) == (0, 0, 0)
    assert rows_of(database_url, 2) == (1, trades, equity)  # the other run is untouched
    listed = json.loads(invoke("backtest", "list-results", "--json").stdout)
    assert [r["id"] for r in listed] == [2]


def test_delete_of_an_unknown_id_is_one_line_exit_1_and_deletes_nothing(database_url):
    assert invoke("backtest", "run", *SMA).exit_code == 0
    before = rows_of(database_url, 1)
    result = invoke("backtest", "delete", "1", "99", "--yes")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: no backtest run with id 99 (see `ntrader backtest list-results`)"
    ]
    assert rows_of(database_url, 1) == before


def test_delete_yes_skips_the_question_and_json_lists_the_ids(database_url):
    for _ in range(2):
        assert invoke("backtest", "run", *SMA).exit_code == 0
    result = invoke("backtest", "delete", "2", "1", "2", "--yes", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"deleted": [1, 2]}
    assert rows_of(database_url, 1) == (0, 0, 0) and rows_of(database_url, 2) == (0, 0, 0)


def test_report_sweeps_lists_saved_sweeps_with_their_best_combination(database_url):
    swept = invoke(
        "backtest", "sweep", *SMA, "--grid", "fast_period=5,10", "--grid", "slow_period=20,30,40",
        "--top", "1", "--workers", "1", "--json",
    )  # fmt: skip
    assert swept.exit_code == 0, swept.output
    sweep = json.loads(swept.stdout)
    listed = json.loads(invoke("report", "sweeps", "--json").stdout)
    mine = next(s for s in listed if s["id"] == sweep["id"])
    best = sweep["results"][0]
    assert mine["strategy"] == "sma" and mine["symbol"] == "AAPL" and mine["engine"] == "vector"
    assert mine["metric"] == "sharpe" and mine["combinations"] == 6
    assert mine["best"] == {
        "params": best["params"],
        "value": best["screened"]["sharpe"],
        "run_id": best["run_id"],
    }
    table = invoke("report", "sweeps")
    assert table.exit_code == 0
    for cell in ("Saved sweeps", str(sweep["id"]), "sma", "AAPL", "vector", "Sharpe", "6"):
        assert cell in table.output
    assert f"fast_period={best['params']['fast_period']}" in table.output
