"""The HTML report as a person sees it: rendered in headless Chromium, charts drawn, no JS errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ntrader.reports import load_report, render_run_html, write_run_html
from ntrader.reports.compare import compare_runs, render_compare_html
from tests.reports import browse, make_run


@pytest.fixture
def sqlite_url(isolated_home: Path) -> str:
    return f"sqlite:///{isolated_home / 'html.db'}"


def _body(dom: str) -> str:
    match = re.search(r"<body[^>]*>", dom)
    assert match, dom[:500]
    return match.group(0)


def test_report_renders_in_chromium_with_all_charts_and_tables(sqlite_url, tmp_path):
    run_id = make_run(sqlite_url)
    page = write_run_html(run_id, tmp_path / "report.html", url=sqlite_url)
    text = page.read_text()
    # Self-contained: plotly.js inline, nothing fetched from a network.
    assert re.search(r"<(script|link|img)[^>]+(src|href)=", text) is None
    assert "plotly.js v" in text or "Plotly" in text

    shot = tmp_path / "report.png"
    dom = browse(page, tmp_path, screenshot=shot)
    body = _body(dom)
    assert 'data-report-status="rendered"' in body, body
    html_tag = re.search(r"<html[^>]*>", dom)
    assert html_tag and "data-js-errors" not in html_tag.group(0)
    assert re.search(r'<div id="js-errors" hidden="?"?></div>', dom), "the error box has content"
    assert 'class="plot-container plotly"' in dom
    assert dom.count('class="main-svg"') >= 2
    # The three subplots and the markers of the price chart.
    for title in ("Equity vs buy &amp; hold", "Drawdown", "AAPL price with entries and exits"):
        assert title in dom
    assert "Entry (long)" in dom and "Exit" in dom
    # The metric tables, conventions and trades.
    assert 'id="metrics"' in dom and "Sharpe ratio" in dom and "Profit factor" in dom
    assert "risk" in dom.lower() and "Commission" in dom
    assert re.search(r"√\d+ \(measured from the bars: \d+ days with data", dom)
    assert "Deepest drawdown duration" in dom and "no commissions or other costs" in dom
    assert 'id="trades"' in dom
    assert shot.stat().st_size > 30_000  # a blank page compresses to a few kB


def test_report_without_bars_still_renders_and_says_why(sqlite_url, tmp_path, monkeypatch):
    run_id = make_run(sqlite_url)

    def no_bars(*args, **kwargs):
        raise OSError("data file gone")

    monkeypatch.setattr("ntrader.data.load_bars", no_bars)  # reports.model imports it when it loads bars
    page = write_run_html(run_id, tmp_path / "nobars.html", url=sqlite_url)
    dom = browse(page, tmp_path)
    assert 'data-report-status="rendered"' in _body(dom)
    assert "No price chart or buy &amp; hold curve" in dom and "data file gone" in dom
    assert "price with entries and exits" not in dom
    assert dom.count('class="main-svg"') >= 2


def test_a_script_error_is_visible_in_the_page(sqlite_url, tmp_path):
    # The health marker must catch failures, or the tests above would prove nothing.
    run_id = make_run(sqlite_url)
    html = render_run_html(load_report(run_id, url=sqlite_url))
    broken = tmp_path / "broken.html"
    broken.write_text(html.replace("</main>", "<script>undefinedFunction();</script></main>"))
    dom = browse(broken, tmp_path)
    assert 'data-report-status="error"' in _body(dom)
    assert "undefinedFunction" in dom


def test_comparison_page_renders_overlaid_curves(sqlite_url, tmp_path):
    first = make_run(sqlite_url)
    second = make_run(sqlite_url, symbol="MSFT")
    page = tmp_path / "compare.html"
    page.write_text(render_compare_html(compare_runs([first, second], url=sqlite_url)))
    dom = browse(page, tmp_path)
    assert 'data-report-status="rendered"' in _body(dom)
    assert "normalized to starting capital = 1" in dom
    assert 'id="compare-metrics"' in dom and "#1 sma AAPL" in dom and "#2 sma MSFT" in dom


def test_price_chart_uses_a_line_for_long_runs(sqlite_url):
    from ntrader.reports.html import MAX_CANDLES, run_figure

    run_id = make_run(sqlite_url)
    report = load_report(run_id, url=sqlite_url)
    kinds = [trace.type for trace in run_figure(report).data]
    assert "candlestick" in kinds and report.record.bars <= MAX_CANDLES
    assert kinds.count("scatter") >= 4  # equity, buy & hold, drawdown, markers
