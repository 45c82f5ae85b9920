"""End to end through the real CLI: what it prints and what it stores, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.db.engine import MIGRATIONS
from tests.conftest import count_rows

REPO = Path(__file__).resolve().parents[2]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_strategy_list_shows_sma_with_aliases_and_defaults():
    result = invoke("strategy", "list")
    assert result.exit_code == 0
    assert "sma_crossover" in result.output
    assert "fast_period=10" in result.output and "slow_period=20" in result.output
    listed = json.loads(invoke("strategy", "list", "--json").output)
    sma = next(s for s in listed if s["name"] == "sma")
    assert sma["parameters"]["fast_period"] == 10


def test_strategy_show_gives_the_rule_and_bounds():
    result = invoke("strategy", "show", "sma_crossover")
    assert result.exit_code == 0
    assert "SMA(fast) > SMA(slow)" in result.output
    assert "< slow_period" in result.output


def test_run_saves_run_trades_and_equity_then_lists_and_summarises(database_url):
    result = invoke(
        "backtest", "run", "--strategy", "sma", "--symbol", "AAPL",
        "--start", "2023-01-01", "--end", "2023-12-31",
        "--param", "fast_period=5", "--param", "slow_period=30",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for label in ("Run id", "Total return", "Max drawdown", "Win rate", "Final equity", "Bars"):
        assert label in result.output
    assert "2023-01-01 → 2023-12-31" in result.output
    assert count_rows(database_url, "backtest_runs") == 1
    trades = count_rows(database_url, "trades")
    assert trades >= 1
    assert count_rows(database_url, "equity_curve") == 250  # NYSE sessions of 2023

    listed = json.loads(invoke("backtest", "list-results", "--strategy", "sma", "--json").output)
    assert [r["id"] for r in listed] == [1]
    assert listed[0]["params"] == {
        "position_pct": 0.95, "fast_period": 5, "slow_period": 30, "allow_short": False
    }  # fmt: skip
    assert listed[0]["metrics"]["trade_count"] == trades

    summary = invoke("report", "summary", "1", "--json")
    stored = json.loads(summary.output)
    assert stored["final_equity"] == pytest.approx(listed[0]["final_equity"])
    panel = invoke("report", "summary", "1")
    assert "Backtest #1" in panel.output and "fast_period=5" in panel.output


def test_run_json_and_default_period(database_url):
    result = invoke("backtest", "run", "--strategy", "sma_crossover", "--symbol", "msft", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["symbol"] == "MSFT" and data["strategy"] == "sma"
    assert data["bars"] > 240  # about a year of weekdays ending yesterday
    assert count_rows(database_url, "backtest_runs") == 1


def test_list_results_filters_and_orders_newest_first(database_url):
    for symbol in ("AAPL", "MSFT", "AAPL"):
        assert invoke("backtest", "run", "-s", "sma", "--symbol", symbol, "--start", "2023-01-01",
                      "--end", "2023-06-30", "--json").exit_code == 0  # fmt: skip
    runs = json.loads(invoke("backtest", "list-results", "--json").output)
    assert [r["id"] for r in runs] == [3, 2, 1]
    aapl = json.loads(invoke("backtest", "list-results", "--symbol", "aapl", "--json").output)
    assert [r["id"] for r in aapl] == [3, 1]
    limited = json.loads(invoke("backtest", "list-results", "--limit", "1", "--json").output)
    assert len(limited) == 1
    table = invoke("backtest", "list-results")
    assert "AAPL" in table.output and "MSFT" in table.output


BAD_INPUTS = [
    (["--strategy", "nope"], "unknown strategy 'nope'; known strategies: sma"),
    (["--start", "2023-13-01"], "start date '2023-13-01' is not a date in YYYY-MM-DD form"),
    (["--start", "2023-06-01", "--end", "2023-01-01"], "start date 2023-06-01 is after end date"),
    (["--start", "2023-01-07", "--end", "2023-01-08"], "no 1-DAY bars for AAPL"),
    (["--param", "fast=3"], "unknown parameter 'fast' for strategy sma"),
    (["--param", "fast_period=abc"], "parameter fast_period must be an integer, got 'abc'"),
    (["--param", "fast_period=30"], "fast_period (30) must be less than slow_period (20)"),
    (["--param", "fast_period=0"], "must be >= 1"),
    (["--param", "novalue"], "--param expects key=value"),
    (["--capital", "0"], "capital must be greater than 0"),
    (["--capital", "-5"], "capital must be greater than 0"),
    (["--bar-size", "3-WEEK"], "unknown bar size '3-WEEK'"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_INPUTS)
def test_bad_input_is_one_line_nonzero_and_writes_nothing(database_url, extra, message):
    args = ["backtest", "run", "--symbol", "AAPL"]
    if "--strategy" not in extra:
        args += ["--strategy", "sma"]
    result = CliRunner().invoke(cli, args + extra)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    assert count_rows(database_url, "backtest_runs") == 0
    assert count_rows(database_url, "trades") == 0
    assert count_rows(database_url, "equity_curve") == 0


def test_unknown_run_id(database_url):
    result = CliRunner().invoke(cli, ["report", "summary", "999"])
    assert result.exit_code == 1
    assert "no backtest run with id 999" in result.output


def test_unreachable_database_names_the_host_and_never_the_password(monkeypatch):
    from ntrader.config import get_settings

    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://trader:s3cret-pw@127.0.0.1:1/ntrader")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["backtest", "list-results"])
    assert result.exit_code == 3
    assert "cannot reach the database (postgresql at 127.0.0.1:1)" in result.output
    assert "s3cret-pw" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_db_status_and_upgrade(database_url):
    upgraded = invoke("db", "upgrade")
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert upgraded.exit_code == 0 and f"revision {head}" in upgraded.output
    status = invoke("db", "status")
    assert f"Revision: {head} (newest: {head})" in status.output
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    assert f"Backend:  {backend}" in status.output


def test_db_status_masks_the_password(monkeypatch, tmp_path):
    from ntrader.config import get_settings

    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres:hunter2@127.0.0.1:1/x")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["db", "status"])
    assert result.exit_code == 3
    assert "hunter2" not in result.output


def test_seed_plan_spelling_runs_as_a_subprocess(tmp_path):
    env = {**os.environ, "NTRADER_HOME": str(tmp_path / "home")}
    env.pop("DATABASE_URL", None)
    completed = subprocess.run(
        [sys.executable, "-m", "src.cli", "backtest", "run", "--strategy", "sma", "--symbol",
         "AAPL", "--start", "2024-01-01", "--end", "2024-12-31"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "Backtest #1" in completed.stdout
    assert (tmp_path / "home" / "ntrader.db").exists()
    listed = subprocess.run(
        [sys.executable, "-m", "src.cli", "backtest", "list-results", "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert json.loads(listed.stdout)[0]["bars"] == 252  # NYSE sessions of 2024
