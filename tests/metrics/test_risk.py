"""Tests of ntrader.metrics.risk against textbook numpy/pandas and empyrical-reloaded."""

from __future__ import annotations

import math
from typing import Any

import empyrical
import numpy as np
import pandas as pd
import pytest

from ntrader.metrics import (
    Drawdown,
    average_drawdown_duration,
    cagr,
    calmar_ratio,
    drawdown_series,
    drawdowns,
    longest_drawdown_duration,
    max_drawdown,
    sharpe_ratio,
    sortino_ratio,
)
from ntrader.metrics.risk import NO_DRAWDOWN, _each_drawdown

REL = 1e-9


def random_walk(index: pd.DatetimeIndex, seed: int, drift: float, vol: float) -> pd.Series:
    rng = np.random.default_rng(seed)
    steps = rng.normal(drift, vol, len(index))
    return pd.Series(100_000.0 * np.exp(np.cumsum(steps)), index=index, name="equity")


def rth_index(days: int, minutes: int, start: str = "2024-01-02") -> pd.DatetimeIndex:
    """Bars of a US regular session (14:30-21:00 UTC) on business days."""
    sessions = pd.bdate_range(start, periods=days, tz="UTC")
    offsets = pd.timedelta_range("14:30:00", "21:00:00", freq=f"{minutes}min")
    return pd.DatetimeIndex([day + offset for day in sessions for offset in offsets])


CURVES = {
    "daily_3y": random_walk(
        pd.bdate_range("2021-01-04 21:00", periods=756, tz="UTC", normalize=False),
        1,
        0.0004,
        0.011,
    ),
    "daily_drift_500": random_walk(
        pd.bdate_range("2022-03-01", periods=500, tz="UTC"),
        2,
        0.001,
        0.02,
    ),
    "daily_losing_400": random_walk(
        pd.bdate_range("2019-06-03", periods=400, tz="UTC"),
        5,
        -0.0008,
        0.015,
    ),
    "intraday_5min_rth": random_walk(rth_index(60, 5), 3, 0.00002, 0.0012),
    "intraday_hourly_24x7": random_walk(
        pd.date_range("2024-02-01", periods=24 * 90, freq="h", tz="UTC"), 4, -0.00001, 0.004
    ),
}


def textbook_daily_returns(equity: pd.Series) -> pd.Series:
    daily = equity.resample("D").last().dropna()
    # The first day is measured from the starting capital: the curve's first point here.
    return pd.concat([equity.iloc[:1], daily]).pct_change().dropna()


def years(equity: pd.Series) -> float:
    return (equity.index[-1] - equity.index[0]) / pd.Timedelta(days=365.25)


@pytest.fixture(params=sorted(CURVES))
def curve(request: pytest.FixtureRequest) -> pd.Series:
    return CURVES[request.param]


def textbook_drawdowns(equity: pd.Series) -> list[tuple[Any, ...]]:
    """(depth, peak, trough, recovery, days) by walking the curve one bar at a time."""
    out: list[tuple[Any, ...]] = []
    peak_value, peak_time = equity.iloc[0], equity.index[0]
    current: list[object] | None = None
    for time, value in equity.items():
        if value >= peak_value:
            if current is not None:
                depth, trough = current
                days = (time - peak_time) / pd.Timedelta(days=1)
                out.append((depth, peak_time, trough, time, days))
                current = None
            peak_value, peak_time = value, time
        else:
            depth = value / peak_value - 1
            if current is None or depth < current[0]:
                current = [depth, time]
    if current is not None:
        days = (equity.index[-1] - peak_time) / pd.Timedelta(days=1)
        out.append((current[0], peak_time, current[1], None, days))
    return out


# --- drawdowns --------------------------------------------------------------------------------


def test_drawdown_series_matches_textbook_and_empyrical(curve: pd.Series) -> None:
    textbook = curve / curve.cummax() - 1
    np.testing.assert_allclose(drawdown_series(curve).to_numpy(), textbook.to_numpy(), rtol=REL)
    # empyrical anchors its drawdowns at a start value of 100 that the first return applies to;
    # feeding it bar returns (the first bar's own return is 0) gives the same anchor as ours.
    emp = empyrical.stats.drawdown_series(curve.pct_change().fillna(0.0))
    np.testing.assert_allclose(drawdown_series(curve).to_numpy(), emp.to_numpy(), atol=1e-12)


def test_max_drawdown_matches_textbook_and_empyrical(curve: pd.Series) -> None:
    ours = max_drawdown(curve)
    textbook = min(textbook_drawdowns(curve), key=lambda row: row[0])
    assert ours.depth < 0
    assert ours.depth == pytest.approx(textbook[0], rel=REL)
    assert (ours.peak, ours.trough, ours.recovery) == textbook[1:4]
    assert ours.duration_days == pytest.approx(textbook[4], rel=REL)
    # Sign convention: ours is negative, like empyrical's, so they compare directly.
    # Drawdowns are bar-level for both: empyrical gets bar returns, not daily ones.
    assert ours.depth == pytest.approx(empyrical.max_drawdown(curve.pct_change().dropna()), rel=REL)


def test_every_drawdown_period_matches_textbook(curve: pd.Series) -> None:
    ours = [(d.depth, d.peak, d.trough, d.recovery, d.duration_days) for d in drawdowns(curve)]
    expected = textbook_drawdowns(curve)
    assert len(ours) == len(expected)
    for got, want in zip(ours, expected, strict=True):
        assert got[0] == pytest.approx(want[0], rel=REL)
        assert got[1:4] == want[1:4]
        assert got[4] == pytest.approx(want[4], rel=REL)


@pytest.mark.parametrize("step", [1, 2, 3, 17, 500])
def test_drawdown_periods_found_a_slice_at_a_time_cross_slice_edges(step: int) -> None:
    """The depth is computed `step` bars at a time: periods, troughs and ties spanning slices agree
    with the bar-by-bar walk."""
    curve = CURVES["intraday_hourly_24x7"].round(-1)  # rounded: equal troughs and exact recoveries
    expected = textbook_drawdowns(curve)
    ours = [(d.depth, d.peak, d.trough, d.recovery, d.duration_days) for d in _each_drawdown(curve, step)]
    assert len(ours) == len(expected) > 10
    for got, want in zip(ours, expected, strict=True):
        assert got[0] == pytest.approx(want[0], rel=REL)
        assert got[1:4] == want[1:4]
        assert got[4] == pytest.approx(want[4], rel=REL)


def test_drawdown_durations_match_textbook(curve: pd.Series) -> None:
    days = [row[4] for row in textbook_drawdowns(curve)]
    assert longest_drawdown_duration(curve) == pytest.approx(max(days), rel=REL)
    assert average_drawdown_duration(curve) == pytest.approx(float(np.mean(days)), rel=REL)


def test_drawdown_by_hand() -> None:
    index = pd.date_range("2024-01-01", periods=9, freq="D", tz="UTC")
    equity = pd.Series([100, 110, 110, 99, 88, 110, 120, 108, 114.0], index=index)
    periods = drawdowns(equity)
    assert periods == [
        # The peak is the last bar at the high before the fall (Jan 3, not Jan 2).
        Drawdown(
            depth=pytest.approx(-0.2),  # type: ignore[arg-type]
            peak=index[2],
            trough=index[4],
            recovery=index[5],
            duration_days=3.0,
        ),
        # Still under water at the end: no recovery, the duration runs to the last bar.
        Drawdown(
            depth=pytest.approx(-0.1),  # type: ignore[arg-type]
            peak=index[6],
            trough=index[7],
            recovery=None,
            duration_days=2.0,
        ),
    ]
    assert max_drawdown(equity) == periods[0]
    assert longest_drawdown_duration(equity) == 3.0
    assert average_drawdown_duration(equity) == 2.5


def test_equal_troughs_pick_the_earliest() -> None:
    index = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    equity = pd.Series([100, 50, 100, 50, 60.0], index=index)
    assert max_drawdown(equity).trough == index[1]


def test_intraday_drawdown_durations_are_fractional_days() -> None:
    index = pd.DatetimeIndex(
        ["2024-01-02 14:30", "2024-01-02 15:00", "2024-01-02 20:30", "2024-01-03 14:30"],
        tz="UTC",
    )
    equity = pd.Series([100, 95, 100, 101.0], index=index)
    assert longest_drawdown_duration(equity) == pytest.approx(0.25)
    assert max_drawdown(equity).recovery == index[2]


def test_never_under_water() -> None:
    index = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    equity = pd.Series([100, 100, 101, 105, 105.0], index=index)
    assert drawdowns(equity) == []
    assert max_drawdown(equity) == NO_DRAWDOWN
    assert max_drawdown(equity).depth == 0.0
    assert longest_drawdown_duration(equity) == 0.0
    assert average_drawdown_duration(equity) is None
    assert calmar_ratio(equity) is None


def test_drawdown_of_a_ruined_curve() -> None:
    index = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    equity = pd.Series([100, 120, 60, -5, 50, 200.0], index=index)
    worst = max_drawdown(equity)
    assert worst.depth == -1.0
    assert (worst.peak, worst.trough, worst.recovery) == (index[1], index[3], None)
    assert worst.duration_days == 2.0
    # The bounce after ruin is ignored: returns after zero are undefined.
    assert len(drawdowns(equity)) == 1
    assert calmar_ratio(equity) == -1.0


def test_drawdown_of_a_single_point() -> None:
    one = pd.Series([5.0], index=pd.DatetimeIndex(["2024-01-02"], tz="UTC"))
    assert max_drawdown(one) == NO_DRAWDOWN
    assert longest_drawdown_duration(one) == 0.0
    assert average_drawdown_duration(one) is None


# --- Sharpe, Sortino, Calmar ------------------------------------------------------------------


@pytest.mark.parametrize("risk_free_rate", [0.0, 0.035])
def test_sharpe_matches_textbook_and_empyrical(curve: pd.Series, risk_free_rate: float) -> None:
    returns = textbook_daily_returns(curve)
    excess = returns - risk_free_rate / 252
    textbook = excess.mean() / excess.std(ddof=1) * math.sqrt(252)
    ours = sharpe_ratio(curve, risk_free_rate, 252)
    assert ours == pytest.approx(textbook, rel=REL)
    # empyrical's risk_free is already a per-period (daily) rate: we convert rf / 252 first.
    daily_rf = risk_free_rate / 252
    assert ours == pytest.approx(empyrical.sharpe_ratio(returns, risk_free=daily_rf), rel=REL)


@pytest.mark.parametrize("risk_free_rate", [0.0, 0.035])
def test_sortino_matches_textbook_and_empyrical(curve: pd.Series, risk_free_rate: float) -> None:
    returns = textbook_daily_returns(curve)
    excess = returns - risk_free_rate / 252
    downside = math.sqrt((excess.clip(upper=0) ** 2).mean())
    textbook = excess.mean() / downside * math.sqrt(252)
    ours = sortino_ratio(curve, risk_free_rate, 252)
    assert ours == pytest.approx(textbook, rel=REL)
    # empyrical's required_return is the daily threshold; its downside risk is the same
    # full-sample root mean square of min(r - threshold, 0).
    assert ours == pytest.approx(
        empyrical.sortino_ratio(returns, required_return=risk_free_rate / 252), rel=REL
    )


def test_other_annualization_factor_matches_empyrical(curve: pd.Series) -> None:
    returns = textbook_daily_returns(curve)
    assert sharpe_ratio(curve, 0.02, 365) == pytest.approx(
        empyrical.sharpe_ratio(returns, risk_free=0.02 / 365, annualization=365), rel=REL
    )
    assert sortino_ratio(curve, 0.02, 365) == pytest.approx(
        empyrical.sortino_ratio(returns, required_return=0.02 / 365, annualization=365), rel=REL
    )


def test_calmar_matches_textbook_and_empyrical(curve: pd.Series) -> None:
    textbook = cagr(curve) / abs((curve / curve.cummax() - 1).min())  # type: ignore[operator]
    ours = calmar_ratio(curve)
    assert ours == pytest.approx(textbook, rel=REL)
    # empyrical.calmar_ratio = annual_return / |max_drawdown|, with years counted as
    # len(returns) / annualization; annualization = n / our 365.25-day years matches our CAGR.
    bar_returns = curve.pct_change().dropna()
    matched = empyrical.calmar_ratio(bar_returns, annualization=len(bar_returns) / years(curve))
    assert ours == pytest.approx(matched, rel=REL)


def test_zero_volatility_gives_no_sharpe_or_sortino() -> None:
    index = pd.date_range("2024-01-01", periods=30, freq="D", tz="UTC")
    flat = pd.Series(100.0, index=index)
    assert sharpe_ratio(flat) is None
    assert sortino_ratio(flat) is None
    # Steady compounding: returns equal up to float noise (~1e-19), still zero volatility. The
    # first day's return is measured from the capital, one step below the first point.
    steady = pd.Series(100.0 * 1.001 ** np.arange(30), index=index)
    capital = 100.0 / 1.001
    assert sharpe_ratio(steady, capital=capital) is None
    assert sortino_ratio(steady, capital=capital) is None
    # ... but a risk-free rate above the steady return makes every day a downside day.
    assert sharpe_ratio(steady, risk_free_rate=0.5, capital=capital) is None
    # Daily bars on every day of the week: the (short-run) calendar has 365 days a year.
    assert sortino_ratio(steady, risk_free_rate=0.5, capital=capital) == pytest.approx(
        (0.001 - 0.5 / 365) / abs(0.001 - 0.5 / 365) * math.sqrt(365), rel=1e-6
    )
    assert sortino_ratio(steady, 0.5, 252, capital) == pytest.approx(
        (0.001 - 0.5 / 252) / abs(0.001 - 0.5 / 252) * math.sqrt(252), rel=1e-6
    )


def test_no_down_day_gives_sharpe_but_no_sortino() -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    equity = pd.Series([100, 101, 103, 103.5], index=index)
    assert sharpe_ratio(equity) is not None
    assert sortino_ratio(equity) is None


def test_ratios_need_two_daily_returns() -> None:
    # Two bars of one day: a single daily return (from the starting capital).
    index = pd.DatetimeIndex(["2024-01-02 15:00", "2024-01-02 16:00"], tz="UTC")
    equity = pd.Series([100.0, 90.0], index=index)
    assert sharpe_ratio(equity) is None
    assert sortino_ratio(equity) is None
    # Two days: two returns, 0 % (the first point is the capital) and -10 %.
    two_days = equity.set_axis(pd.date_range("2024-01-01", periods=2, freq="D", tz="UTC"))
    returns = np.array([0.0, -0.1])
    expected = returns.mean() / returns.std(ddof=1) * math.sqrt(252)
    assert sharpe_ratio(two_days) == pytest.approx(expected, rel=REL)
    one = pd.Series([5.0], index=pd.DatetimeIndex(["2024-01-02"], tz="UTC"))
    assert sharpe_ratio(one) is None
    assert sortino_ratio(one) is None
    assert calmar_ratio(one) is None


def test_sharpe_uses_daily_not_bar_returns() -> None:
    curve = CURVES["intraday_5min_rth"]
    bar_returns = curve.pct_change().dropna()
    assert sharpe_ratio(curve) != pytest.approx(empyrical.sharpe_ratio(bar_returns), rel=0.01)
