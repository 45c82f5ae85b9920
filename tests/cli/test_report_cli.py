"""`ntrader report …` and `ntrader backtest compare` through the real CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.reports import validate
from tests.reports import expected_annualization, make_run


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def fails(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output
    return result


def test_summary_shows_every_metric_grouped(database_url):
    run_id = make_run(database_url)
    out = invoke("report", "summary", str(run_id)).output
    for label in (
        "Backtest #1",
        "Run id",
        "Total return",
        "Max drawdown",
        "Win rate",
        "Final equity",
        "Bars",
    ):
        assert label in out
    for label in ("Returns", "Risk", "Trades", "CAGR", "Sortino ratio", "Profit factor", "SQN", "Exposure"):
        assert label in out
    from ntrader.db.runs import load_equity

    factor = expected_annualization(load_equity(run_id).index)
    assert f"√{factor} (measured from the bars)" in out and "fills: close" in out and "commission:" in out
    assert "buy & hold: first close → last close, no costs" in out
    for label in ("Deepest drawdown duration", "Longest drawdown duration", "SQN Van Tharp (n ≤ 100)"):
        assert label in out
    assert "…" not in out  # nothing cut off in a 100-column terminal
    assert "AAPL  [mock, 1-DAY]" in out


def test_show_lists_settings_metrics_and_trades(database_url):
    run_id = make_run(database_url)
    out = invoke("report", "show", str(run_id)).output
    assert "Parameters" in out and "fast_period=5" in out and "Conventions" in out
    assert "Entry (UTC)" not in out
    limited = invoke("report", "show", str(run_id), "--trades", "--limit", "2").output
    assert "Entry (UTC)" in limited and "first 2 of" in limited


def test_export_every_format(database_url, tmp_path):
    run_id = str(make_run(database_url))
    document = json.loads(invoke("report", "export", run_id, "--format", "json").output)
    assert validate(document) == [] and document["run"]["id"] == 1

    trades = pd.read_csv(io.StringIO(invoke("report", "export", run_id, "--format", "csv").output))
    assert len(trades) == document["metrics"]["trade_count"] + document["metrics"]["open_trade_count"]
    assert trades["pnl"].sum() == pytest.approx(sum(t["pnl"] for t in document["trades"]))

    equity = invoke("report", "export", run_id, "--format", "csv", "--equity", "-o", str(tmp_path / "eq.csv"))
    assert equity.output.strip() == f"Wrote {tmp_path / 'eq.csv'}"
    assert len(pd.read_csv(tmp_path / "eq.csv")) == 250  # NYSE sessions of 2023

    text = invoke("report", "export", run_id).output
    assert "Sharpe ratio" in text and "Trades (" in text

    html = invoke("report", "export", run_id, "--format", "html", "-o", str(tmp_path))
    assert html.output.strip() == f"Wrote {tmp_path / 'run-1.html'}"
    assert 'id="report-chart"' in (tmp_path / "run-1.html").read_text()


def test_compare_text_and_html(database_url, tmp_path, isolated_home):
    first, second = make_run(database_url), make_run(database_url, symbol="MSFT", fast_period=10)
    out = invoke("backtest", "compare", str(first), str(second)).output
    assert "#1" in out and "#2" in out and "AAPL" in out and "MSFT" in out
    assert "Sharpe ratio" in out and "Win rate" in out
    html = invoke("backtest", "compare", str(first), str(second), "--format", "html")
    path = isolated_home / "reports" / "compare-1-2.html"
    assert html.output.strip() == f"Wrote {path}" and path.exists()
    assert "at least two different run ids" in fails("backtest", "compare", "1", "1").output


def test_recompute_cli(database_url):
    from ntrader.db.runs import update_metrics

    run_id = make_run(database_url)
    update_metrics(run_id, {"trade_count": 1}, database_url)
    assert "Older metrics format" in invoke("report", "summary", "1").output
    assert "figure(s) updated" in invoke("report", "recompute", "1").output
    assert invoke("report", "recompute", "--all").output.strip() == "Run 1: up to date"
    assert "Older metrics format" not in invoke("report", "summary", "1").output
    usage = CliRunner().invoke(cli, ["report", "recompute"])
    assert usage.exit_code == 2 and "give run ids or --all" in usage.output


def test_backtest_run_writes_the_html_report(database_url, isolated_home):
    result = invoke(
        "backtest", "run", "-s", "sma", "--symbol", "AAPL", "--start", "2023-01-01", "--end", "2023-06-30",
        "--report", "html",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    path = isolated_home / "reports" / "run-1.html"
    assert f"Report: {path}" in result.output and path.exists()
    as_json = CliRunner().invoke(
        cli,
        ["backtest", "run", "-s", "sma", "--symbol", "MSFT", "--start", "2023-01-01", "--end", "2023-06-30",
         "--report", "html", "--json"],
    )  # fmt: skip
    assert json.loads(as_json.stdout)["id"] == 2  # the report path goes to stderr
    assert "run-2.html" in as_json.stderr


def test_unknown_run_and_bad_output_directory(database_url, tmp_path):
    for args in (
        ["report", "summary", "999"],
        ["report", "show", "999"],
        ["report", "export", "999", "--format", "json"],
        ["report", "recompute", "999"],
        ["backtest", "compare", "1", "999"],
    ):
        assert "no backtest run with id" in fails(*args).output
    make_run(database_url)
    bad = fails("report", "export", "1", "--format", "html", "-o", str(tmp_path / "missing" / "r.html"))
    assert f"Error: output directory {tmp_path / 'missing'} does not exist" in bad.output


def test_schema_command_prints_the_schema():
    schema = json.loads(invoke("report", "schema").output)
    assert schema["properties"]["schema_version"] == {"const": 1}
