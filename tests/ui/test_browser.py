"""The UI as a person uses it: the real `ntrader ui` server, driven by Playwright in the machine's Chromium.

Set NTRADER_UI_SCREENSHOTS=docs/ui to (re)write the README's screenshots while the flow runs.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ntrader.db.runs import get_run, list_run_ids
from tests.reports import chromium_or_skip
from tests.ui.conftest import Seeded, seed

SHOTS = os.environ.get("NTRADER_UI_SCREENSHOTS")


def _playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the dev group installs it
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the playwright package is required under CI=true (uv sync installs the dev group)")
        pytest.skip("playwright is not installed")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(database_url: str, isolated_home: Path) -> Iterator[tuple[str, Seeded, subprocess.Popen[str]]]:
    """The real `ntrader ui` on a free port, over a seeded SQLite or PostgreSQL database."""
    url = database_url
    seeded = seed(url, isolated_home)
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "NTRADER_HOME": str(isolated_home)}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "ntrader"), "ui", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(
                    f"ntrader ui did not start: {process.stdout.read() if process.stdout else ''}"
                ) from None
            time.sleep(0.2)
    yield base, seeded, process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(30)


def _shot(page: Any, name: str, element: str | None = None) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        path = str(Path(SHOTS) / f"{name}.png")
        if element:
            page.locator(element).screenshot(path=path)
        else:
            page.screenshot(path=path, full_page=False)


def _rendered(page: Any) -> None:
    page.wait_for_selector('body[data-ui-status="rendered"]', timeout=30_000)


def _request_failed(request, problems: list[str]) -> None:
    # When a job ends the page closes its event stream (EventSource.close()), which the browser reports
    # as an aborted request whenever the server has not ended the stream first: not a failure.
    if (
        "/api/jobs/" in request.url
        and request.url.endswith("/events")
        and "ERR_ABORTED" in (request.failure or "")
    ):
        return
    problems.append(f"request failed: {request.url} ({request.failure})")


def test_browser_flow(server: tuple[str, Seeded, subprocess.Popen[str]]):
    base, seeded, process = server
    chromium = chromium_or_skip()
    problems: list[str] = []
    with _playwright()() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: _request_failed(r, problems))
        page.on(
            "request", lambda r: None if r.url.startswith(base) else problems.append(f"external: {r.url}")
        )

        # Runs page, then filter (htmx swaps the table and keeps the URL shareable).
        page.goto(base + "/runs")
        assert page.locator("#runs-table tbody tr[data-run-id]").count() == len(list_run_ids(seeded.url))
        _shot(page, "runs")
        page.fill('#run-filter input[name="symbol"]', "MSFT")
        page.press('#run-filter input[name="symbol"]', "Enter")
        page.wait_for_function("document.querySelector('#runs').dataset.total === '1'")
        assert "symbol=MSFT" in page.url
        assert page.locator("#runs-table tbody tr[data-run-id] td:nth-child(5)").all_inner_texts() == ["MSFT"]
        page.click('a.sort[data-sort="sharpe"]')
        page.wait_for_url("**sort=sharpe**")
        assert "symbol=MSFT" in page.url  # sorting keeps the filter

        # A run: charts drawn by plotly (SVG in the DOM), KPIs, a sortable and filterable blotter.
        run_id = seeded.runs[0]
        page.goto(base + "/runs")
        page.click(f'#runs-table a[href="/runs/{run_id}"]')
        _rendered(page)
        _shot(page, "run")
        assert page.locator("#run-chart .main-svg").count() >= 1
        assert page.locator("#monthly-returns .main-svg").count() >= 1  # the monthly heatmap drew
        _shot(page, "run-tearsheet", "#tearsheet")
        assert page.get_attribute("body", "data-charts-rendered") == page.get_attribute(
            "body", "data-charts-expected"
        )
        assert (
            page.locator("#run-chart .scatterlayer .trace").count() >= 3
        )  # equity, buy & hold, drawdown, ...
        assert page.locator("#kpis .kpi").count() == 6
        trades = page.locator("#trades tbody tr")
        total = trades.count()
        assert total == len(get_run(run_id, seeded.url).trades(seeded.url)) > 0
        page.click("#trades thead th:nth-child(8)")  # P&L ascending
        pnl = [
            float(t.replace(",", "")) for t in page.locator("#trades tbody td:nth-child(8)").all_inner_texts()
        ]
        assert pnl == sorted(pnl)
        page.fill("#trades-filter", "no such trade")
        assert page.locator("#trades tbody tr:visible").count() == 0
        page.fill("#trades-filter", "")
        assert page.locator("#trades tbody tr:visible").count() == total

        # Compare two runs picked in the list.
        page.goto(base + "/runs")
        a, b = seeded.runs[:2]
        page.check(f'#runs-table input[value="{a}"]')
        page.check(f'#runs-table input[value="{b}"]')
        page.click("#compare-button")
        page.wait_for_url("**/compare?ids=**")
        _rendered(page)
        assert page.locator("#compare-chart .main-svg").count() >= 1
        assert page.locator("#compare-table thead th").count() == 3
        _shot(page, "compare")

        # A bad parameter: the CLI's message, nothing launched (the page comes back as a 400, which
        # the browser logs; that line is the only one allowed, and only here).
        assert problems == []
        page.goto(base + "/backtests/new?strategy=sma")
        page.fill("#param_fast_period", "50")
        page.fill("#param_slow_period", "10")
        page.click("#run-button")
        assert page.inner_text("#form-error") == (
            "invalid parameters for sma: fast_period (50) must be less than slow_period (10)"
        )
        _shot(page, "new-backtest-error")
        assert problems == [
            "console: Failed to load resource: the server responded with a status of 400 (Bad Request)"
        ]
        problems.clear()

        # Launch a backtest from the form: live progress, then the new run opens, and the list has it.
        page.goto(base + "/backtests/new?strategy=sma")
        page.fill("#field-symbol", "NFLX")
        page.fill("#param_fast_period", "8")
        page.click("#run-button")
        page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=60_000)
        _rendered(page)
        new_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
        assert get_run(new_id, seeded.url).symbol == "NFLX"
        page.goto(base + "/runs")
        assert page.locator(f'#runs-table tr[data-run-id="{new_id}"]').count() == 1

        # Launch a sweep from its form: it opens the saved sweep when done.
        page.goto(base + "/sweeps/new?strategy=sma")
        page.fill("#field-grid", "fast_period=5,10\nslow_period=30,40")
        page.fill("#field-top", "1")
        page.click("#run-button")
        page.wait_for_url(re.compile(r"/sweeps/\d+$"), timeout=120_000)
        _rendered(page)
        assert page.locator("#sweep-table tbody tr").count() == 4

        # Sweeps and data pages draw too.
        page.goto(base + f"/sweeps/{seeded.sweep_id}")
        _rendered(page)
        assert page.locator("#sweep-heatmap .main-svg").count() >= 1
        _shot(page, "sweep")
        page.goto(base + "/data")
        _rendered(page)
        assert "AAPL" in page.inner_text("#series")
        _shot(page, "data")
        browser.close()
    assert problems == []
    # Ctrl-C stops the server cleanly.
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    output = process.stdout.read() if process.stdout else ""
    assert "ntrader UI on http://127.0.0.1:" in output and "Traceback" not in output
