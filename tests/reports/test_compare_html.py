"""`backtest compare --format html` for three runs of different periods, at 1 400 px in Chromium:
the metrics table fits its card and the curves are drawn on days since start too."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from ntrader.backtest import run_backtest
from ntrader.reports.compare import compare_runs, render_compare_html
from tests.reports import CHROMIUM_FLAGS, chromium_or_skip

PROBE = """<script>
setTimeout(function () {
  var table = document.getElementById("compare-metrics");
  var card = table.parentElement;
  document.body.setAttribute("data-probe-fits", table.scrollWidth <= card.clientWidth ? "yes" :
    "no: table " + table.scrollWidth + " px in a card of " + card.clientWidth + " px");
}, 1000);
</script>"""


def _run(url: str, strategy: str, symbol: str, start: str, end: str, params: dict[str, object]) -> int:
    outcome = run_backtest(strategy, symbol, start, end, params=params, database_url=url)
    assert outcome.run_id is not None
    return outcome.run_id


def test_compare_of_three_runs_fits_1400px_and_overlaps_by_days(isolated_home: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{isolated_home / 'cmp.db'}"
    long_params = {"fast_period": 5, "slow_period": 80, "position_pct": 0.95, "allow_short": False}
    ids = [
        _run(url, "sma", "AAPL", "2016-01-01", "2023-12-31", long_params),
        _run(url, "sma", "MSFT", "2019-01-01", "2021-12-31", {"fast_period": 10, "slow_period": 20}),
        _run(url, "momentum", "NVDA", "2021-01-01", "2023-12-31", {"rsi_period": 14, "oversold": 30.0}),
    ]
    page = tmp_path / "compare.html"
    page.write_text(render_compare_html(compare_runs(ids, url=url)).replace("</main>", PROBE + "</main>"))
    browser = chromium_or_skip()
    dom = subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--window-size=1400,2000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    body = re.search(r"<body[^>]*>", dom)
    assert body, dom[:300]
    tag = body.group(0)
    assert 'data-report-status="rendered"' in tag and 'data-charts-rendered="2"' in tag, tag
    assert 'data-probe-fits="yes"' in tag, tag
    assert re.search(r'<div id="js-errors" hidden="?"?></div>', dom)
    assert re.search(r'id="cmp-days".*?class="main-svg"', dom, re.S)
    assert "Days since start" in dom and "by days since start" in dom
    for run_id in ids:
        assert f"#{run_id}" in dom
