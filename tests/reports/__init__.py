"""Tests of ntrader.reports; helpers shared by its test modules and the report CLI tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ntrader.backtest import run_backtest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def make_run(url: str, symbol: str = "AAPL", **params: object) -> int:
    """A saved SMA run on a year of mock daily bars; returns its id."""
    outcome = run_backtest(
        "sma",
        symbol,
        "2023-01-01",
        "2023-12-31",
        params={"fast_period": 5, "slow_period": 30, **params},
        database_url=url,
    )
    assert outcome.run_id is not None
    return outcome.run_id


def expected_annualization(timestamps: object) -> int:
    """Days a year of a run's weekday-only bars over a year or more, by the README's rule:
    365.25 x 5/7 x the share of the span's weekdays that have data (252 for NYSE days)."""
    import pandas as pd

    days = pd.DatetimeIndex(timestamps).normalize().unique()  # type: ignore[arg-type]
    span = pd.date_range(days[0], days[-1], freq="D")
    assert len(span) >= 358 and not (days.dayofweek >= 5).any()
    return round(365.25 * 5 / 7 * len(days) / int((span.dayofweek < 5).sum()))


def chromium_or_skip() -> str:
    """The headless browser; missing it fails under CI=true (a broken image) and skips elsewhere."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("chromium is required under CI=true to test the HTML report")
    pytest.skip("chromium is not installed")


def browse(page: Path, tmp: Path, screenshot: Path | None = None) -> str:
    """Open ``page`` in headless Chromium, let scripts run, return the resulting DOM.

    With ``screenshot`` a PNG of a 1400×2000 window is taken as well (a second, separate run:
    Chromium does one of --dump-dom / --screenshot per invocation).
    """
    browser = chromium_or_skip()
    base = [
        browser,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={tmp / 'chromium-profile'}",
        "--virtual-time-budget=5000",
    ]
    if screenshot is not None:
        subprocess.run(
            [*base, f"--screenshot={screenshot}", "--window-size=1400,2000", page.as_uri()],
            capture_output=True,
            timeout=120,
            check=True,
        )
    done = subprocess.run(
        [*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout
