"""Exports of a saved run: CSV round-trips through pandas, text has every section, paths are checked."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from ntrader.db.runs import load_equity, load_trades
from ntrader.errors import InputError, NotFoundError
from ntrader.reports import default_report_path, export_run
from tests.reports import make_run


@pytest.fixture
def sqlite_url(isolated_home: Path) -> str:
    return f"sqlite:///{isolated_home / 'export.db'}"


def test_trades_csv_round_trips_through_pandas(sqlite_url, tmp_path):
    run_id = make_run(sqlite_url)
    export = export_run(run_id, "csv", tmp_path / "trades.csv", url=sqlite_url)
    assert export.path == tmp_path / "trades.csv"
    back = pd.read_csv(export.path, parse_dates=["entry_time", "exit_time"])
    stored = load_trades(run_id, sqlite_url)
    assert list(back.columns) == list(stored.columns)
    pd.testing.assert_series_equal(back["entry_time"], stored["entry_time"], check_names=False)
    pd.testing.assert_series_equal(back["exit_time"], stored["exit_time"], check_names=False)
    for column in ("quantity", "entry_price", "exit_price", "pnl", "commission"):
        pd.testing.assert_series_equal(back[column], stored[column], check_dtype=False, check_names=False)
    assert (back["side"] == stored["side"]).all()


def test_equity_csv_round_trips_with_drawdown(sqlite_url):
    run_id = make_run(sqlite_url)
    content = export_run(run_id, "csv", equity=True, url=sqlite_url).content
    back = pd.read_csv(io.StringIO(content or ""), parse_dates=["timestamp"], index_col="timestamp")
    stored = load_equity(run_id, sqlite_url)
    assert len(back) == len(stored) == 250  # NYSE sessions of 2023
    assert (back.index == stored.index).all()
    assert back["equity"].to_numpy() == pytest.approx(stored.to_numpy(), rel=1e-9)
    assert back["drawdown"].max() == 0.0 and back["drawdown"].min() < 0


def test_text_export_has_settings_metrics_conventions_and_every_trade(sqlite_url):
    run_id = make_run(sqlite_url)
    text = export_run(run_id, "text", url=sqlite_url).content or ""
    for label in ("Parameters", "Returns", "Risk", "Trades", "Sharpe ratio", "Annualization", "Fills"):
        assert label in text
    assert "\x1b[" not in text  # no terminal codes in a file
    trades = load_trades(run_id, sqlite_url)
    assert f"Trades ({len(trades)})" in text and "--limit 0 shows all" not in text


def test_html_goes_to_the_reports_directory_by_default(sqlite_url, isolated_home):
    run_id = make_run(sqlite_url)
    export = export_run(run_id, "html", url=sqlite_url)
    assert export.path == default_report_path(run_id) == isolated_home / "reports" / f"run-{run_id}.html"
    assert export.path.read_text().startswith("<!DOCTYPE html>")


def test_an_existing_directory_gets_a_default_file_name(sqlite_url, tmp_path):
    run_id = make_run(sqlite_url)
    export = export_run(run_id, "json", tmp_path, url=sqlite_url)
    assert export.path == tmp_path / f"run-{run_id}.json"


def test_missing_output_directory_is_one_clear_error_before_any_work(sqlite_url, tmp_path):
    with pytest.raises(InputError, match=r"output directory .*nowhere does not exist"):
        export_run(999, "html", tmp_path / "nowhere" / "r.html", url=sqlite_url)


def test_unknown_run_and_format(sqlite_url):
    with pytest.raises(NotFoundError, match="no backtest run with id 42"):
        export_run(42, "json", url=sqlite_url)
    with pytest.raises(InputError, match="unknown export format 'pdf'"):
        export_run(1, "pdf", url=sqlite_url)
