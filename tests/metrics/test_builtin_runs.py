"""Metrics of real runs of the three built-ins against textbook formulas and empyrical."""

from __future__ import annotations

import math

import empyrical
import numpy as np
import pandas as pd
import pytest

from ntrader.backtest import run_backtest

REL = 1e-9


@pytest.fixture(scope="module", params=["sma", "mean_reversion", "momentum"])
def outcome(request, tmp_path_factory):
    # save=False: this is about the numbers, not storage (which other tests cover).
    return run_backtest(
        request.param,
        "AAPL",
        "2020-01-01",
        "2023-12-31",
        commission="ibkr-fixed",
        save=False,
    )


def test_returns_and_risk_match_textbook_and_empyrical(outcome):
    equity = outcome.result.equity
    metrics = outcome.metrics
    daily = equity.groupby(equity.index.normalize()).last()
    returns = daily.pct_change().dropna()

    assert metrics.total_return == pytest.approx(equity.iloc[-1] / equity.iloc[0] - 1, rel=REL)
    years = (equity.index[-1] - equity.index[0]).total_seconds() / (365.25 * 86400)
    assert metrics.cagr == pytest.approx((equity.iloc[-1] / equity.iloc[0]) ** (1 / years) - 1, rel=REL)

    sharpe = returns.mean() / returns.std(ddof=1) * math.sqrt(252)
    assert metrics.sharpe == pytest.approx(sharpe, rel=REL)
    assert metrics.sharpe == pytest.approx(empyrical.sharpe_ratio(returns, risk_free=0.0), rel=REL)

    downside = np.sqrt(np.mean(np.minimum(returns.to_numpy(), 0.0) ** 2))
    assert metrics.sortino == pytest.approx(returns.mean() / downside * math.sqrt(252), rel=REL)
    assert metrics.sortino == pytest.approx(empyrical.sortino_ratio(returns), rel=REL)

    assert metrics.annualized_volatility == pytest.approx(returns.std(ddof=1) * math.sqrt(252), rel=REL)
    assert metrics.annualized_volatility == pytest.approx(empyrical.annual_volatility(returns), rel=REL)

    # Max drawdown bar by bar, from the running peak.
    drawdown = (equity / equity.cummax() - 1).min()
    assert metrics.max_drawdown == pytest.approx(drawdown, rel=REL)
    assert metrics.max_drawdown == pytest.approx(
        empyrical.max_drawdown(equity.pct_change().dropna()), rel=REL
    )
    assert metrics.calmar == pytest.approx(metrics.cagr / abs(drawdown), rel=REL)


def test_trade_figures_match_the_trade_list(outcome):
    trades = outcome.result.trades
    closed = trades[trades["exit_time"].notna()]
    pnl = closed["pnl"].astype(float)
    metrics = outcome.metrics
    assert metrics.trade_count == len(closed)
    assert metrics.total_commission == pytest.approx(trades["commission"].sum(), rel=REL)
    if len(closed):
        assert metrics.win_rate == pytest.approx((pnl > 0).mean(), rel=REL)
        assert metrics.expectancy == pytest.approx(pnl.mean(), rel=REL)
        assert metrics.best_trade == pytest.approx(pnl.max(), rel=REL)
    if len(closed) > 1 and pnl.std(ddof=1) > 0:
        assert metrics.sqn == pytest.approx(math.sqrt(len(pnl)) * pnl.mean() / pnl.std(ddof=1), rel=REL)
    losses = -pnl[pnl < 0].sum()
    if losses > 0:
        assert metrics.profit_factor == pytest.approx(pnl[pnl > 0].sum() / losses, rel=REL)
    # Commissions are part of the P&L: the equity curve ends where capital + all P&L says.
    open_pnl = trades.loc[trades["exit_time"].isna(), "pnl"].sum()
    assert outcome.result.final_equity == pytest.approx(100_000 + pnl.sum() + open_pnl, rel=1e-9)


def test_buy_and_hold_is_the_symbols_own_return(outcome):
    from ntrader.data import load_bars, parse_period

    bars = load_bars("AAPL", parse_period("2020-01-01", "2023-12-31"))
    expected = bars["close"].iloc[-1] / bars["close"].iloc[0] - 1
    assert outcome.metrics.buy_and_hold_return == pytest.approx(expected, rel=REL)
    assert isinstance(outcome.result.equity.index, pd.DatetimeIndex)
