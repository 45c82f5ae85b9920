"""Tearsheet figures (monthly/yearly returns, rolling, distribution, worst drawdowns, costs) as data,
checked against plain pandas, and every tearsheet chart present in the page Chromium renders."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from ntrader.backtest import run_backtest
from ntrader.metrics import daily_returns, drawdowns
from ntrader.reports import load_report, write_run_html
from ntrader.reports.tearsheet import tearsheet
from tests.reports import browse


def make_run(url: str, commission: str) -> int:
    """Two years of mock daily bars with IBKR costs (so the cost breakdown has lines)."""
    outcome = run_backtest(
        "sma",
        "AAPL",
        "2022-01-01",
        "2023-12-31",
        params={"fast_period": 5, "slow_period": 30},
        commission=commission,
        database_url=url,
    )
    assert outcome.run_id is not None
    return outcome.run_id


@pytest.fixture
def sqlite_url(isolated_home: Path) -> str:
    return f"sqlite:///{isolated_home / 'sheet.db'}"


def test_tearsheet_figures_match_plain_pandas(sqlite_url: str) -> None:
    run_id = make_run(sqlite_url, commission="ibkr-fixed")
    report = load_report(run_id, url=sqlite_url)
    sheet = tearsheet(report)
    daily = daily_returns(report.equity, report.record.capital)
    # Each month compounds its days; each year its months.
    for (year, month), days in daily.groupby([daily.index.year, daily.index.month]):
        assert sheet.monthly.loc[year, month] == pytest.approx(np.prod(1 + days.to_numpy()) - 1, abs=1e-12)
    total = np.prod(1 + sheet.yearly.to_numpy()) - 1
    assert total == pytest.approx(report.metrics.total_return, abs=1e-9)
    # Rolling Sharpe over the stated window, annualised with the run's factor.
    w, k = sheet.window, sheet.periods_per_year
    last = daily.iloc[-w:]
    assert sheet.rolling_sharpe.iloc[-1] == pytest.approx(last.mean() / last.std() * math.sqrt(k), abs=1e-9)
    assert sheet.rolling_volatility.iloc[-1] == pytest.approx(last.std() * math.sqrt(k), abs=1e-12)
    # The worst five drawdowns, deepest first, as the metrics package finds them.
    expected = sorted(drawdowns(report.equity), key=lambda d: d.depth)[:5]
    assert [d["depth"] for d in sheet.worst_drawdowns] == [d.depth for d in expected]
    assert sheet.worst_drawdowns[0]["depth"] == pytest.approx(report.metrics.max_drawdown)
    # The histogram is a density, and so is its normal overlay.
    dist = sheet.distribution()
    assert np.sum(np.diff(dist["edges"]) * np.asarray(dist["density"])) == pytest.approx(1.0)
    assert np.trapezoid(dist["normal_density"], dist["normal_x"]) == pytest.approx(1.0, abs=0.05)
    assert sheet.costs is not None and sheet.costs["total"] == pytest.approx(
        report.record.settings["costs"]["total"]
    )
    doc = sheet.to_json_dict()
    assert set(doc) >= {"monthly_returns", "yearly_returns", "rolling", "worst_drawdowns", "costs"}
    assert doc["rolling"]["window_days"] == w


def test_tearsheet_charts_render_in_chromium(sqlite_url: str, tmp_path: Path) -> None:
    run_id = make_run(sqlite_url, commission="ibkr-fixed")
    page = write_run_html(run_id, tmp_path / "sheet.html", url=sqlite_url)
    dom = browse(page, tmp_path)
    body = re.search(r"<body[^>]*>", dom)
    assert body and 'data-report-status="rendered"' in body.group(0), body
    assert 'data-charts-expected="5"' in body.group(0) and 'data-charts-rendered="5"' in body.group(0)
    assert re.search(r'<div id="js-errors" hidden="?"?></div>', dom)
    for chart in ("monthly-returns", "yearly-returns", "rolling", "return-distribution"):
        found = re.search(rf'<div id="{chart}"[^>]*class="plotly-graph-div.*?class="main-svg"', dom, re.S)
        assert found, f"chart {chart} not drawn"
    assert "Monthly returns" in dom and "Yearly returns" in dom
    assert "Rolling Sharpe (63-day window" in dom and "Rolling volatility" in dom
    assert "Daily returns vs normal" in dom and "Normal (mean" in dom
    table = re.search(r'<table class="wide" id="worst-drawdowns">.*?</table>', dom, re.S)
    assert table and table.group(0).count("<tr>") == 1 + min(
        5, len(drawdowns(load_report(run_id, url=sqlite_url).equity))
    )
    assert 'id="cost-breakdown"' in dom and "regulatory" in dom
    assert 'id="validation"' in dom and "PSR (P[Sharpe &gt; 0])" in dom and "Random entries" in dom


def test_json_export_carries_the_tearsheet(database_url: str, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from ntrader.cli import cli
    from ntrader.reports import RUN_EXPORT_SCHEMA, validate

    run_id = make_run(database_url, commission="ibkr-fixed")
    out = tmp_path / "run.json"
    result = CliRunner().invoke(cli, ["report", "export", str(run_id), "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    validate(doc, RUN_EXPORT_SCHEMA)
    sheet = doc["tearsheet"]
    assert sheet == json.loads(json.dumps(tearsheet(load_report(run_id, url=database_url)).to_json_dict()))
    assert len(sheet["worst_drawdowns"]) == 5 and sheet["rolling"]["window_days"] == 63
    assert sum(len(m) for m in sheet["monthly_returns"].values()) == 12 * len(sheet["monthly_returns"])
