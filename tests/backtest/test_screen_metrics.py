"""The vector screen's ranking figures follow compute_metrics' conventions on intraday bars too:
the first day measured from the capital (an SMA on 5-minute bars trades on its first day), and the
calendar measured from the bars (a short weekday run: 252)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ntrader.backtest.vector import prepare_bars, run_vector, screen
from ntrader.data import parse_bar_size
from ntrader.data.mock import generate_bars
from ntrader.metrics import compute_metrics
from ntrader.strategies import get_strategy

CAPITAL = 100_000.0


@pytest.mark.parametrize("fill_at", ["close", "next-open"])
def test_screen_figures_equal_compute_metrics_on_intraday_bars(fill_at):
    bars = generate_bars("MSFT", "2024-03-04", "2024-04-26", bar_size="5-MINUTE")
    size = parse_bar_size("5-MINUTE")
    combos = [{**get_strategy("sma").defaults(), "fast_period": 5, "slow_period": 20}]
    [fig] = screen(prepare_bars(bars, size), "sma", combos, commission="ibkr-fixed", fill_at=fill_at)
    result = run_vector(bars, "sma", combos[0], bar_size=size, commission="ibkr-fixed", fill_at=fill_at)
    equity = result.equity
    first_day = equity[equity.index.normalize() == equity.index[0].normalize()]
    assert first_day.iloc[-1] != CAPITAL  # the first day has P&L of its own

    metrics = compute_metrics(equity, result.trades, capital=CAPITAL, fills_at_open=fill_at == "next-open")
    assert metrics.conventions.annualization_factor == 252
    assert fig.sharpe == pytest.approx(metrics.sharpe, rel=1e-9)
    assert fig.total_return == pytest.approx(metrics.total_return, rel=1e-9)
    assert fig.cagr == pytest.approx(metrics.cagr, rel=1e-9)
    assert fig.max_drawdown == pytest.approx(metrics.max_drawdown, rel=1e-9)

    # And both are the textbook Sharpe of daily returns with the first day from the capital.
    daily = equity.groupby(equity.index.normalize()).last().to_numpy()
    returns = np.concatenate(([CAPITAL], daily))
    returns = returns[1:] / returns[:-1] - 1
    assert fig.sharpe == pytest.approx(returns.mean() / returns.std(ddof=1) * math.sqrt(252), rel=1e-9)
    assert isinstance(equity.index, pd.DatetimeIndex)
