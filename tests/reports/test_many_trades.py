"""A run with thousands of trades stays readable: grouped markers zoomed out, every trade zoomed in,
and a trade table that sorts and filters, all exercised in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ntrader.backtest import run_backtest
from ntrader.reports import load_report, render_run_html
from ntrader.reports.trades_html import MAX_TRADE_MARKERS
from tests.reports import browse

# Runs after the page's own scripts: zoom into a few days, filter the table, sort it by P&L, and
# write what happened into attributes of <body> for the DOM dump.
PROBE = """<script>
setTimeout(function () {
  var gd = document.getElementById("report-chart");
  var body = document.body;
  body.setAttribute("data-probe-before", gd.getAttribute("data-trade-markers"));
  var input = document.getElementById("trade-filter");
  input.value = "SHORT-NEVER";
  input.dispatchEvent(new Event("input"));
  body.setAttribute("data-probe-filtered", document.getElementById("trade-count").textContent);
  input.value = "";
  input.dispatchEvent(new Event("input"));
  var heads = document.querySelectorAll("#trades thead th");
  var pnl = Array.prototype.findIndex.call(heads, function (h) { return h.textContent === "P&L"; });
  heads[pnl].click();
  var rows = document.querySelectorAll("#trades tbody tr");
  var first = parseFloat(rows[0].cells[pnl].textContent.replace(/,/g, ""));
  var last = parseFloat(rows[rows.length - 1].cells[pnl].textContent.replace(/,/g, ""));
  body.setAttribute("data-probe-sorted", first <= last ? "ascending" : "not sorted");
  var x0 = new Date(gd.data[0].x[0]).getTime();
  Plotly.relayout(gd, {"xaxis.range": [new Date(x0), new Date(x0 + 2 * 86400000)]}).then(function () {
    body.setAttribute("data-probe-after", gd.getAttribute("data-trade-markers"));
  });
}, 1500);
</script>"""


@pytest.fixture
def busy_run(isolated_home: Path) -> tuple[str, int]:
    url = f"sqlite:///{isolated_home / 'busy.db'}"
    outcome = run_backtest(
        "sma",
        "AAPL",
        "2023-03-01",
        "2023-03-31",
        bar_size="1-MINUTE",
        params={"fast_period": 2, "slow_period": 5},
        database_url=url,
    )
    assert outcome.run_id is not None
    return url, outcome.run_id


def test_thousands_of_trades_group_then_show_each_when_zoomed(
    busy_run: tuple[str, int], tmp_path: Path
) -> None:
    url, run_id = busy_run
    report = load_report(run_id, url=url)
    assert len(report.trades) > 3 * MAX_TRADE_MARKERS
    page = tmp_path / "busy.html"
    page.write_text(render_run_html(report).replace("</main>", PROBE + "</main>"))
    dom = browse(page, tmp_path)
    body = re.search(r"<body[^>]*>", dom)
    assert body, dom[:300]
    tag = body.group(0)
    assert 'data-report-status="rendered"' in tag, tag
    assert 'data-probe-before="grouped"' in tag
    assert 'data-probe-after="each"' in tag, tag
    assert 'data-probe-filtered="0 shown"' in tag
    assert 'data-probe-sorted="ascending"' in tag
    assert "Trades (grouped; zoom in for each)" in dom
    # Every trade is in the table.
    table = re.search(r'<table class="wide" id="trades">.*?</table>', dom, re.S)
    assert table and table.group(0).count("<tr") == len(report.trades) + 1
