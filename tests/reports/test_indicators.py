"""Strategy-declared indicators and the volume panel on the report's price chart."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ntrader.backtest import run_backtest
from ntrader.reports import load_report, render_run_html
from ntrader.reports.html import run_figure
from ntrader.strategies import get_strategy
from ntrader.strategies.plots import Indicator, bollinger_plots, plots_of, rsi_plots, sma_plots
from tests.reports import browse


def _bars(n: int = 300) -> pd.DataFrame:
    close = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, n)))
    return pd.DataFrame({"close": close, "volume": 1e6})


def _textbook_rsi(close: np.ndarray, period: int) -> np.ndarray:
    """Wilder (1978): the first averages are plain means of `period` changes, then smoothed."""
    change = np.diff(close)
    gain, loss = np.maximum(change, 0), np.maximum(-change, 0)
    out = np.full(len(close), np.nan)
    avg_g, avg_l = gain[:period].mean(), loss[:period].mean()
    for i in range(period, len(change) + 1):
        if i > period:
            avg_g = (avg_g * (period - 1) + gain[i - 1]) / period
            avg_l = (avg_l * (period - 1) + loss[i - 1]) / period
        out[i] = 100.0 if avg_l == 0 else 100 - 100 / (1 + avg_g / avg_l)
    return out


def test_builtin_indicators_are_the_textbook_ones() -> None:
    bars = _bars()
    close = bars["close"]
    fast, slow = sma_plots(bars, {"fast_period": 5, "slow_period": 30})
    np.testing.assert_allclose(fast.values, close.rolling(5).mean(), atol=1e-12)
    assert slow.name == "SMA(30)" and slow.panel == "price"
    mid, upper, lower = bollinger_plots(bars, {"lookback": 20, "num_std": 2.0})
    sigma = np.array([np.nan] * 19 + [close.iloc[i - 19 : i + 1].std(ddof=0) for i in range(19, len(close))])
    np.testing.assert_allclose(upper.values - mid.values, 2 * sigma, atol=1e-9)
    np.testing.assert_allclose(mid.values - lower.values, 2 * sigma, atol=1e-9)
    (rsi,) = rsi_plots(bars, {"rsi_period": 14, "oversold": 30.0, "overbought": 70.0})
    assert rsi.panel == "RSI" and rsi.levels == (30.0, 70.0)
    expected = _textbook_rsi(close.to_numpy(), 14)
    finite = ~np.isnan(expected)
    np.testing.assert_allclose(rsi.values[finite], expected[finite], atol=1e-9)


def test_a_strategy_declares_what_it_plots() -> None:
    for name in ("sma", "mean_reversion", "momentum"):
        assert plots_of(get_strategy(name).strategy_class) is not None

    class Mine:
        @staticmethod
        def indicator_plots(bars: pd.DataFrame, params: dict[str, object]) -> list[Indicator]:
            return [Indicator("Close x2", bars["close"].to_numpy() * 2)]

    function = plots_of(Mine)
    assert function is not None and function(_bars(5), {})[0].name == "Close x2"
    assert plots_of(object) is None


@pytest.mark.parametrize(
    ("strategy", "params", "names", "panel"),
    [
        ("sma", {"fast_period": 5, "slow_period": 30}, ["SMA(5)", "SMA(30)"], None),
        ("momentum", {"rsi_period": 14}, ["RSI(14)"], "RSI"),
        ("mean_reversion", {"lookback": 20}, ["SMA(20)", "Upper band (2σ)", "Lower band (2σ)"], None),
    ],
)
def test_indicators_and_volume_drawn_in_chromium(
    isolated_home: Path,
    tmp_path: Path,
    strategy: str,
    params: dict[str, object],
    names: list[str],
    panel: str | None,
) -> None:
    url = f"sqlite:///{isolated_home / 'ind.db'}"
    outcome = run_backtest(strategy, "AAPL", "2023-01-01", "2023-12-31", params=params, database_url=url)
    assert outcome.run_id is not None
    report = load_report(outcome.run_id, url=url)
    fig = run_figure(report)
    assert [t.name for t in fig.data if t.meta == "indicator"] == names
    assert any(t.type == "bar" and t.name == "Volume" for t in fig.data)
    page = tmp_path / "ind.html"
    page.write_text(render_run_html(report))
    dom = browse(page, tmp_path)
    body = re.search(r"<body[^>]*>", dom)
    assert body and 'data-report-status="rendered"' in body.group(0)
    assert re.search(r'<div id="js-errors" hidden="?"?></div>', dom)
    for name in [*names, "Volume"]:
        assert name in dom
    if panel is not None:
        assert f'data-unformatted="{panel}"' in dom  # the panel's title was drawn
