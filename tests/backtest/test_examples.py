"""Every example the project ships runs to completion, and its last equity point is the account's
balance plus the open position at the last close (the invariant `run_engine` checks on every run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.db.runs import get_run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONFIGS = sorted((EXAMPLES / "configs").glob("*.yaml"))
# Single-symbol examples; a PortfolioStrategy example has its own test (test_portfolio_pairs.py).
STRATEGIES = sorted(
    p for p in (EXAMPLES / "strategies").glob("*.py") if "PortfolioStrategy" not in p.read_text()
)


def check_invariant(run_id: int) -> None:
    record = get_run(run_id)
    assert record.status == "completed", record.settings.get("halt")
    trades = record.trades()
    open_trades = trades[trades["exit_time"].isna()]
    # Flat at the end: equity is the cash balance; long: balance + position × last close, which the
    # open trade's mark (pnl at the last close) carries.
    if open_trades.empty:
        assert record.final_equity == pytest.approx(record.settings["final_balance"], abs=0.01)
    else:
        assert record.final_equity != pytest.approx(record.settings["final_balance"], abs=0.01)
    assert record.final_equity == pytest.approx(record.capital + float(trades["pnl"].sum()), abs=0.02)
    assert record.equity().iloc[-1] == pytest.approx(record.final_equity, abs=1e-6)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_example_configs_complete_and_hold_the_equity_invariant(config: Path, database_url: str) -> None:
    result = CliRunner().invoke(cli, ["backtest", "run-config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    check_invariant(json.loads(result.output)["id"])


@pytest.mark.parametrize("fill_at", ["close", "next-open"])
@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda p: p.stem)
def test_example_strategies_complete_and_hold_the_equity_invariant(
    strategy: Path, fill_at: str, database_url: str
) -> None:
    classes = [line.split("(")[0].removeprefix("class ").strip() for line in strategy.read_text().splitlines()
               if line.startswith("class ") and "Config" not in line.split("(")[0]]  # fmt: skip
    args = ["backtest", "run", "-s", f"{strategy}:{classes[0]}", "--symbol", "AAPL", "--start", "2022-01-01",
            "--end", "2023-12-31", "--fill-at", fill_at, "--json"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    check_invariant(json.loads(result.output)["id"])
