"""The sweep page in headless Chromium: heatmap centred on 0 with values and the best marked, the
validation block, run ids linking to their reports."""

from __future__ import annotations

import re
from pathlib import Path

from ntrader.backtest.sweep import run_sweep
from ntrader.db.sweeps import get_sweep
from ntrader.reports.sweep import heatmap_figure, render_sweep_html
from tests.reports import browse


def test_sweep_page_heatmap_validation_and_links(isolated_home: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{isolated_home / 'sweep.db'}"
    outcome = run_sweep(
        "sma",
        "AAPL",
        "2020-01-01",
        "2023-12-31",
        grid=["fast_period=5:25:5", "slow_period=40:120:20"],
        top=2,
        workers=1,
        database_url=url,
    )
    record = get_sweep(outcome.sweep_id, url=url)
    fig = heatmap_figure(record)
    assert fig is not None
    heat, star = fig.data[0], fig.data[1]
    # Centred on zero whatever the grid's range: negative Sharpe ratios are never painted green.
    assert heat.zmid == 0.0 and heat.texttemplate == "%{text}"
    best = record.results[0]
    assert (star.x[0], star.y[0]) == (str(best["params"]["fast_period"]), str(best["params"]["slow_period"]))
    assert f"{best['screened']['sharpe']:.2f}" in [t for row in heat.text for t in row]

    page = tmp_path / f"sweep-{record.id}.html"
    page.write_text(render_sweep_html(record))
    dom = browse(page, tmp_path)
    body = re.search(r"<body[^>]*>", dom)
    assert body and 'data-report-status="rendered"' in body.group(0)
    assert re.search(r'<div id="js-errors" hidden="?"?></div>', dom)
    assert re.search(r'id="sweep-heatmap".*?class="main-svg"', dom, re.S)
    # Plotly drew the value into the cells (one <text> per defined cell).
    drawn = re.findall(r'<text[^>]*data-unformatted="(-?[0-9.]+)"[^>]*>', dom)
    assert f"{best['screened']['sharpe']:.2f}" in drawn and len(drawn) >= len(record.results)
    assert 'id="validation"' in dom and "Verdict:" in dom and "PBO inputs" in dom
    for run_id in record.run_ids:
        assert f'<a href="run-{run_id}.html">{run_id}</a>' in dom
