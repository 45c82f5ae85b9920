"""Metrics of real runs of the three built-ins against textbook formulas and empyrical."""

from __future__ import annotations

import math

import empyrical
import numpy as np
import pandas as pd
import pytest

from ntrader.backtest import run_backtest

REL = 1e-9
CAPITAL = 100_000.0


def calendar_factor(index: pd.DatetimeIndex) -> int:
    """Days a year of the bars' calendar, as the README states the rule, written out by hand."""
    days = pd.DatetimeIndex(sorted({t.normalize() for t in index}))
    span = pd.date_range(days[0], days[-1], freq="D")
    weekend = lambda d: d.dayofweek >= 5  # noqa: E731
    if len(span) < 358:
        return 365 if weekend(days).any() else 252
    weekday_share = (~weekend(days)).sum() / (~weekend(span)).sum()
    weekend_share = weekend(days).sum() / weekend(span).sum()
    return round(365.25 * (5 / 7 * weekday_share + 2 / 7 * weekend_share))


def held_at_close(closes: pd.DatetimeIndex, fills, at_open: bool) -> float:
    """Share of bar closes after which the position (summed from the fills) is not flat."""
    times = pd.DatetimeIndex([f.timestamp for f in fills])
    signed = np.array([f.quantity if f.side == "BUY" else -f.quantity for f in fills])
    held = 0
    for close in closes:
        booked = times < close if at_open else times <= close
        held += abs(signed[booked].sum()) > 1e-9
    return held / len(closes)


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
    # The first day's return is measured from the starting capital.
    returns = pd.Series(np.concatenate(([CAPITAL], daily.to_numpy()))).pct_change().dropna()
    assert len(returns) == len(daily)
    k = calendar_factor(pd.DatetimeIndex(equity.index))
    assert metrics.conventions.annualization_factor == k
    assert metrics.conventions.annualization_basis == "measured"

    assert metrics.total_return == pytest.approx(equity.iloc[-1] / CAPITAL - 1, rel=REL)
    years = (equity.index[-1] - equity.index[0]).total_seconds() / (365.25 * 86400)
    assert metrics.cagr == pytest.approx((equity.iloc[-1] / CAPITAL) ** (1 / years) - 1, rel=REL)
    assert metrics.short_period is False

    sharpe = returns.mean() / returns.std(ddof=1) * math.sqrt(k)
    assert metrics.sharpe == pytest.approx(sharpe, rel=REL)
    assert metrics.sharpe == pytest.approx(
        empyrical.sharpe_ratio(returns, risk_free=0.0, annualization=k), rel=REL
    )

    downside = np.sqrt(np.mean(np.minimum(returns.to_numpy(), 0.0) ** 2))
    assert metrics.sortino == pytest.approx(returns.mean() / downside * math.sqrt(k), rel=REL)
    assert metrics.sortino == pytest.approx(empyrical.sortino_ratio(returns, annualization=k), rel=REL)

    assert metrics.annualized_volatility == pytest.approx(returns.std(ddof=1) * math.sqrt(k), rel=REL)
    assert metrics.annualized_volatility == pytest.approx(
        empyrical.annual_volatility(returns, annualization=k), rel=REL
    )

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
        # Wins and losses on the P&L in cents: a float residue is break-even.
        assert metrics.win_rate == pytest.approx((pnl.round(2) > 0).mean(), rel=REL)
        assert metrics.losing_trades == int((pnl.round(2) < 0).sum())
        assert metrics.expectancy == pytest.approx(pnl.mean(), rel=REL)
        assert metrics.best_trade == pytest.approx(pnl.max(), rel=REL)
    if len(closed) > 1 and pnl.std(ddof=1) > 0:
        assert metrics.sqn == pytest.approx(math.sqrt(len(pnl)) * pnl.mean() / pnl.std(ddof=1), rel=REL)
        capped = math.sqrt(min(len(pnl), 100)) * pnl.mean() / pnl.std(ddof=1)
        assert metrics.sqn_van_tharp == pytest.approx(capped, rel=REL)
    losses = -pnl[pnl.round(2) < 0].sum()
    if losses > 0:
        assert metrics.profit_factor == pytest.approx(pnl[pnl.round(2) > 0].sum() / losses, rel=REL)
    # Exposure: the share of bar closes at which a position was held.
    closes = pd.DatetimeIndex(outcome.result.equity.index)
    assert metrics.exposure == pytest.approx(held_at_close(closes, outcome.result.fills, at_open=False))
    # Commissions are part of the P&L: the equity curve ends where capital + all P&L says.
    open_pnl = trades.loc[trades["exit_time"].isna(), "pnl"].sum()
    assert outcome.result.final_equity == pytest.approx(100_000 + pnl.sum() + open_pnl, rel=1e-9)


def test_buy_and_hold_is_the_symbols_own_return(outcome):
    from ntrader.data import load_bars, parse_period

    bars = load_bars("AAPL", parse_period("2020-01-01", "2023-12-31"))
    expected = bars["close"].iloc[-1] / bars["close"].iloc[0] - 1
    assert outcome.metrics.buy_and_hold_return == pytest.approx(expected, rel=REL)
    assert isinstance(outcome.result.equity.index, pd.DatetimeIndex)


def test_next_open_exposure_on_intraday_bars():
    # Five-minute bars: a next-open fill lands at the instant the signal bar closes, and is
    # booked to the next bar (the equity curve's rule); exposure must book it the same way.
    outcome = run_backtest(
        "sma",
        "AAPL",
        "2024-03-04",
        "2024-03-15",
        bar_size="5-MINUTE",
        params={"fast_period": 5, "slow_period": 20},
        fill_at="next-open",
        save=False,
    )
    fills = outcome.result.fills
    assert len(fills) >= 10
    closes = pd.DatetimeIndex(outcome.result.equity.index)
    expected = held_at_close(closes, fills, at_open=True)
    assert outcome.metrics.exposure == pytest.approx(expected)
    assert outcome.metrics.exposure != pytest.approx(held_at_close(closes, fills, at_open=False))
    # Two weeks of a weekday market: too short to measure, the weekday calendar's 252.
    assert outcome.metrics.conventions.annualization_factor == 252
    assert outcome.metrics.short_period is True
