"""`backtest sweep`, `backtest walk-forward` and `report sweep` from the CLI on mock, CSV and IBKR bars."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.config import get_settings
from ntrader.db.runs import get_run
from ntrader.db.sweeps import get_sweep, list_sweeps
from tests.reports import browse

REPO = Path(__file__).resolve().parents[2]
AAPL_CSV = REPO / "examples" / "data" / "AAPL.csv"
SMA_GRID = ["--grid", "fast_period=5:20:5", "--grid", "slow_period=20:60:10"]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def sweep_id_of(output: str) -> int:
    match = re.search(r"Saved sweep (\d+)", output)
    assert match, output
    return int(match.group(1))


def test_sweep_on_mock_bars_then_report_text_and_html(database_url, tmp_path):
    result = invoke(
        "backtest", "sweep", "--strategy", "sma", "--symbol", "AAPL", "--start", "2020-01-01",
        "--end", "2023-12-31", *SMA_GRID, "--constraint", "fast_period < slow_period",
        "--metric", "sharpe", "--top", "3", "--workers", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ranked by Sharpe" in result.output and "NT Sharpe" in result.output
    sweep_id = sweep_id_of(result.output)
    record = get_sweep(sweep_id)
    assert len(record.results) == 19 and len(record.run_ids) == 3  # 4 × 5 minus (20, 20)
    # Each confirmed run is a normal run: `report summary` shows it.
    summary = invoke("report", "summary", str(record.run_ids[0]))
    assert summary.exit_code == 0 and "Sharpe" in summary.output

    text = invoke("report", "sweep", str(sweep_id))
    assert text.exit_code == 0 and "fast_period" in text.output and "19 run, 1 excluded" in text.output

    page = tmp_path / "sweep.html"
    html = invoke("report", "sweep", str(sweep_id), "--format", "html", "--output", str(page))
    assert html.exit_code == 0 and f"Wrote {page}" in html.output
    source = page.read_text()
    assert re.search(r"<(script|link|img)[^>]+(src|href)=", source) is None  # self-contained
    dom = browse(page, tmp_path)
    body = re.search(r"<body[^>]*>", dom)
    assert body and 'data-report-status="rendered"' in body.group(0), body
    assert 'class="plot-container plotly"' in dom and "heatmap" in dom.lower()
    assert "Sharpe by fast_period and slow_period" in dom
    assert 'id="sweep-table"' in dom and "NT Sharpe" in dom


def test_sweep_on_imported_csv_bars_and_on_a_csv_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'csv.db'}")
    get_settings.cache_clear()
    imported = invoke("data", "import-csv", str(AAPL_CSV), "--symbol", "AAPL")
    assert imported.exit_code == 0, imported.output
    stored = invoke(
        "backtest", "sweep", "--strategy", "bollinger", "--symbol", "AAPL", "--data-source", "csv",
        "--grid", "lookback=10:30:10", "--grid", "num_std=1:2:0.5", "--metric", "total_return",
        "--top", "2", "--fill-at", "next-open", "--workers", "1",
    )  # fmt: skip
    assert stored.exit_code == 0, stored.output
    record = get_sweep(sweep_id_of(stored.output))
    assert record.data_source == "csv" and len(record.results) == 9 and record.metric == "total_return"
    assert record.start.date().isoformat() == "2023-01-03" and record.end.date().isoformat() == "2024-12-31"
    for row in record.results[:2]:
        assert row["confirmed"]["total_return"] == pytest.approx(row["screened"]["total_return"], rel=1e-9)

    from_file = invoke(
        "backtest", "sweep", "--strategy", "rsi", "--symbol", "AAPL", "--csv", str(AAPL_CSV),
        "--grid", "rsi_period=7,14", "--grid", "oversold=25,30,35", "--no-confirm",
    )  # fmt: skip
    assert from_file.exit_code == 0, from_file.output
    assert get_sweep(sweep_id_of(from_file.output)).run_ids == []


def test_walk_forward_on_mock_and_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'wf.db'}")
    get_settings.cache_clear()
    result = invoke(
        "backtest", "walk-forward", "--strategy", "sma", "--symbol", "MSFT", "--start", "2019-01-01",
        "--end", "2023-12-31", *SMA_GRID, "--train", "252", "--test", "63",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Walk-forward: sma on MSFT" in result.output and "Out of sample, stitched" in result.output
    run_id = int(re.search(r"Saved run (\d+)", result.output).group(1))  # type: ignore[union-attr]
    run = get_run(run_id)
    # 1 258 NYSE sessions in 2019-2023: (1 258 - 252) / 63 -> 16 folds (17 on the old weekday calendar).
    assert len(run.settings["walk_forward"]["folds"]) == 16 and run.data_source == "mock"
    assert invoke("report", "summary", str(run_id)).exit_code == 0

    on_csv = invoke(
        "backtest", "walk-forward", "--strategy", "momentum", "--symbol", "AAPL", "--csv", str(AAPL_CSV),
        "--grid", "rsi_period=7,14", "--grid", "oversold=25,35", "--train", "126", "--test", "42",
        "--metric", "calmar",
    )  # fmt: skip
    assert on_csv.exit_code == 0, on_csv.output
    assert "chosen by calmar" in on_csv.output


def test_nautilus_engine_sweeps_a_user_strategy(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'user.db'}")
    get_settings.cache_clear()
    reference = f"{REPO / 'examples' / 'strategies' / 'breakout.py'}:Breakout"
    result = invoke(
        "backtest", "sweep", "--strategy", reference, "--symbol", "AAPL", "--start", "2022-01-01",
        "--end", "2023-12-31", "--grid", "window=10,20", "--engine", "nautilus", "--workers", "1",
        "--top", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Figures from Nautilus runs" in result.output and len(list_sweeps()[0].run_ids) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--grid", "fast_period=5:50"], "a range is start:stop:step"),
        (["--grid", "fast_period=5,10", "--constraint", "__import__('os')"], "only comparisons"),
        (["--grid", "fast_period=5,10", "--constraint", "fast < 3"], "unknown parameter 'fast'"),
        (["--grid", "speed=5,10"], "unknown parameter 'speed' in --grid"),
        (["--grid", "fast_period=30,40", "--grid", "slow_period=10,20"], "no combination"),
    ],
)
def test_bad_sweeps_are_one_line_errors(tmp_path, monkeypatch, extra, message):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bad.db'}")
    get_settings.cache_clear()
    result = invoke("backtest", "sweep", "--strategy", "sma", "--symbol", "AAPL", *extra)
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert invoke("report", "sweep", "99").output.startswith("Error: no sweep with id 99")


def test_sweep_on_ibkr_bars_from_the_fake_gateway(make_gateway: Callable, database_url, monkeypatch):
    gateway = make_gateway()
    monkeypatch.setenv("IBKR_PORT", str(gateway.port))
    get_settings.cache_clear()
    result = invoke(
        "backtest", "sweep", "--strategy", "sma", "--symbol", "AAPL", "--data-source", "ibkr",
        "--start", "2023-01-01", "--end", "2023-12-31", "--grid", "fast_period=5,10",
        "--grid", "slow_period=20,30", "--top", "1", "--workers", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = get_sweep(sweep_id_of(result.output))
    assert record.data_source == "ibkr" and len(gateway.historical_requests) == 1
    assert get_run(record.run_ids[0]).data_source == "ibkr"
