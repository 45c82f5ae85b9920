"""Monte Carlo resamples, parameter stability and walk-forward efficiency against plain loops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ntrader.metrics import max_drawdown, sharpe_ratio
from ntrader.validation import (
    bootstrap_returns,
    parameter_stability,
    path_figures,
    random_entry_baseline,
    reshuffle_trades,
    stationary_bootstrap_indices,
    trade_returns,
    walk_forward_efficiency,
)

TOL = 1e-9


def test_stationary_bootstrap_indices_follow_politis_romano() -> None:
    """The same draws walked day by day: a new block at a random day with probability 1/L, else
    the next day (wrapping)."""
    n, samples, block = 50, 7, 4.0
    idx = stationary_bootstrap_indices(n, samples, block, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    new = rng.random((samples, n)) < 1 / block
    starts = rng.integers(0, n, size=(samples, n))
    for s in range(samples):
        current = starts[s, 0]
        assert idx[s, 0] == current
        for t in range(1, n):
            current = starts[s, t] if new[s, t] else (current + 1) % n
            assert idx[s, t] == current
    # Blocks average about L days.
    many = stationary_bootstrap_indices(2000, 50, 10.0, np.random.default_rng(4))
    continues = (np.diff(many, axis=1) % 2000) == 1
    assert 1 / (1 - continues.mean()) == pytest.approx(10.0, rel=0.1)


def test_path_figures_match_the_metrics_package() -> None:
    rng = np.random.default_rng(5)
    r = rng.normal(0.0005, 0.012, size=(3, 300))
    days = pd.date_range("2023-01-02", periods=300, freq="D", tz="UTC")
    cagr, mdd, sharpe = path_figures(r, years=1.25)
    for k in range(3):
        # The curve starts from a capital of 1 the day before its first return.
        curve = pd.Series(np.cumprod(1 + r[k]), index=days)
        with_start = pd.concat([pd.Series([1.0], index=[days[0] - pd.Timedelta(days=1)]), curve])
        assert mdd[k] == pytest.approx(max_drawdown(with_start).depth, abs=TOL)
        assert sharpe[k] == pytest.approx(sharpe_ratio(curve, 0.0, 252, capital=1.0), abs=TOL)
        assert cagr[k] == pytest.approx(curve.iloc[-1] ** (1 / 1.25) - 1, abs=TOL)


def test_bootstrap_spreads_bracket_the_actual_run() -> None:
    rng = np.random.default_rng(6)
    r = rng.normal(0.001, 0.01, size=500)
    out = bootstrap_returns(r, samples=1000, seed=1)
    _, _, actual = path_figures(r[None, :], 2.0)
    assert out.sharpe.p5 < actual[0] < out.sharpe.p95
    assert out.max_drawdown.p5 <= out.max_drawdown.p50 <= out.max_drawdown.p95 <= 0
    assert out.mean_block == pytest.approx(500 ** (1 / 3))
    # Deterministic for a seed.
    assert bootstrap_returns(r, samples=1000, seed=1) == out


def test_trade_returns_and_reshuffles() -> None:
    pnl = np.array([100.0, -50.0, 200.0, -300.0, 80.0])
    r = trade_returns(pnl, 10_000.0)
    equity = 10_000.0 + np.concatenate(([0.0], np.cumsum(pnl)))
    np.testing.assert_allclose(r, pnl / equity[:-1], atol=TOL)
    out = reshuffle_trades(r, samples=500, seed=2)
    # Order changes drawdowns, never the product of the trades: the actual order is one of them.
    assert out.max_drawdown.p5 <= out.actual_max_drawdown + 1e-12
    assert out.actual_max_drawdown == pytest.approx(
        min(0.0, (equity / np.maximum.accumulate(equity) - 1).min()), abs=TOL
    )


def test_random_entry_baseline_keeps_trades_and_exposure() -> None:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 1000)))
    entries = np.array([10, 100, 400, 700])
    exits = np.array([50, 180, 420, 900])
    out = random_entry_baseline(close, entries, exits, samples=3000, seed=3)
    strategy = np.prod(close[exits] / close[entries]) - 1
    assert out.strategy_return == pytest.approx(strategy, abs=TOL)
    assert out.exposure == pytest.approx((exits - entries).sum() / 999)
    assert out.trades == 4
    assert 0.0 <= out.percentile <= 100.0
    # Against a series that only rises, any placement of the same holding lengths earns about the
    # same; a strategy holding the best stretches of a zig-zag beats nearly every random placement.
    zigzag = np.where(np.arange(1000) // 50 % 2 == 0, 1.002, 0.998).cumprod()
    ups = np.arange(0, 1000, 100)[:9]
    best = random_entry_baseline(zigzag, ups, ups + 50, samples=2000, seed=4)
    assert best.percentile > 99.0


def test_random_entry_refuses_overlapping_trades() -> None:
    with pytest.raises(ValueError, match="overlap"):
        random_entry_baseline(np.ones(10) + np.arange(10), np.array([0, 1]), np.array([9, 9]))


def test_parameter_stability_of_a_peak_and_a_plateau() -> None:
    grid = {"fast": [5, 10, 15], "slow": [20, 30, 40]}
    peak = {(10, 30): 2.0, (5, 30): 0.2, (15, 30): 0.4, (10, 20): 0.1, (10, 40): 0.3}
    rows = [({"fast": f, "slow": s}, peak.get((f, s), 0.0)) for f in grid["fast"] for s in grid["slow"]]
    out = parameter_stability(grid, rows)
    assert out is not None
    assert out.neighbours == 4
    assert out.neighbour_mean == pytest.approx(0.25)
    assert out.ratio == pytest.approx(0.125)
    assert out.falloff == pytest.approx(0.875)
    flat = parameter_stability(grid, [(p, 1.0 if p != {"fast": 5, "slow": 20} else 1.1) for p, _ in rows])
    assert flat is not None and flat.neighbours == 2 and flat.ratio == pytest.approx(1 / 1.1)


def test_walk_forward_efficiency() -> None:
    out = walk_forward_efficiency([2.0, 1.0, -0.5, None], [1.0, 0.5, 0.2, 0.3])
    assert out.folds == [0.5, 0.5, None, None]
    assert out.overall == pytest.approx(((1.0 + 0.5 + 0.2) / 3) / ((2.0 + 1.0 - 0.5) / 3))
    assert walk_forward_efficiency([-1.0], [1.0]).overall is None
    assert walk_forward_efficiency([], []).overall is None
