"""PSR, DSR and PBO against independent implementations (ffn, and the papers' formulas written out)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from ffn.core import calc_deflated_sharpe_ratio, calc_expected_max_sharpe, calc_prob_backtest_overfitting
from scipy import stats

from ntrader.validation import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    moments,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)

TOL = 1e-9


def _returns(seed: int, n: int = 750, drift: float = 0.0004) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Student-t returns: skewed/fat-tailed enough that the skew/kurtosis terms matter.
    return drift + 0.01 * rng.standard_t(5, size=n) + 0.002 * rng.standard_normal(n) ** 2


def _textbook_psr(r: np.ndarray, benchmark: float) -> float:
    """Bailey & López de Prado (2012), eq. for PSR with bias-corrected sample moments."""
    sr = r.mean() / r.std(ddof=1)
    g3 = stats.skew(r, bias=False)
    g4 = stats.kurtosis(r, fisher=False, bias=False)
    z = (sr - benchmark) * math.sqrt(len(r) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    return float(stats.norm.cdf(z))


@pytest.mark.parametrize(("seed", "benchmark"), [(1, 0.0), (2, 0.02), (3, -0.01), (4, 0.05)])
def test_psr_matches_the_papers_formula(seed: int, benchmark: float) -> None:
    r = _returns(seed)
    assert probabilistic_sharpe_ratio(r, benchmark) == pytest.approx(_textbook_psr(r, benchmark), abs=TOL)


def test_moments_match_pandas_bias_corrected_estimators() -> None:
    r = _returns(5)
    m = moments(r)
    assert m is not None
    s = pd.Series(r)
    assert m.skew == pytest.approx(s.skew(), abs=TOL)
    assert m.kurtosis == pytest.approx(s.kurt() + 3.0, abs=TOL)
    assert m.sharpe == pytest.approx(s.mean() / s.std(), abs=TOL)


def test_psr_is_undefined_for_constant_or_short_series() -> None:
    assert probabilistic_sharpe_ratio(np.full(100, 0.001)) is None
    assert probabilistic_sharpe_ratio([0.01, -0.01, 0.02]) is None


@pytest.mark.parametrize(("trials", "std"), [(1, 0.3), (2, 0.3), (10, 0.5), (100, 0.8), (5000, 0.2)])
def test_expected_max_sharpe_matches_ffn(trials: int, std: float) -> None:
    assert expected_max_sharpe(trials, std) == pytest.approx(calc_expected_max_sharpe(trials, std), abs=TOL)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_dsr_matches_ffn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    best = _returns(seed, drift=0.0008)
    trial_sharpes = rng.normal(0.3, 0.5, size=60)  # annualised, as a sweep stores them
    ours = deflated_sharpe_ratio(best, trial_sharpes, periods_per_year=252)
    theirs = calc_deflated_sharpe_ratio(pd.Series(best), trial_sharpes, nperiods=252)
    assert ours is not None and ours.dsr is not None
    assert ours.dsr == pytest.approx(float(theirs), abs=TOL)
    assert 0.0 < ours.dsr < 1.0


def test_dsr_with_more_trials_than_sharpes_counts_the_trials() -> None:
    """Trials from earlier sweeps raise the hurdle: the DSR falls, and equals the textbook value."""
    best = _returns(21, drift=0.0008)
    sharpes = np.random.default_rng(21).normal(0.3, 0.5, size=50)
    alone = deflated_sharpe_ratio(best, sharpes)
    more = deflated_sharpe_ratio(best, sharpes, trials=500)
    assert alone is not None and more is not None and alone.dsr is not None and more.dsr is not None
    assert more.dsr < alone.dsr
    std = np.std(sharpes / math.sqrt(252), ddof=1)
    hurdle = std * (
        (1 - np.euler_gamma) * stats.norm.ppf(1 - 1 / 500)
        + np.euler_gamma * stats.norm.ppf(1 - 1 / (500 * math.e))
    )
    assert more.dsr == pytest.approx(_textbook_psr(best, hurdle), abs=TOL)


def _trial_matrix(seed: int, days: int, trials: int, edge: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = rng.normal(0.0002, 0.01, size=(days, trials))
    if edge is not None:
        m[:, edge] += 0.002
    return m


@pytest.mark.parametrize(("seed", "blocks", "edge"), [(31, 8, None), (32, 8, 4), (33, 10, None)])
def test_pbo_matches_ffn(seed: int, blocks: int, edge: int | None) -> None:
    m = _trial_matrix(seed, 403, 12, edge)  # 403: rows past a multiple of the blocks are cut
    ours = probability_of_backtest_overfitting(m, blocks)
    theirs = calc_prob_backtest_overfitting(pd.DataFrame(m), n_blocks=blocks, full_output=True)
    assert ours.pbo == pytest.approx(theirs["pbo"], abs=TOL)
    np.testing.assert_allclose(ours.logits, theirs["logits"].to_numpy(), atol=TOL, rtol=0)
    assert ours.combinations == math.comb(blocks, blocks // 2)


def _textbook_pbo(m: np.ndarray, s: int) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """CSCV as the paper spells it: every half of the S blocks in-sample, the rest out-of-sample."""
    t = (m.shape[0] // s) * s
    parts = np.array_split(np.arange(t), s)
    logits, is_best, oos_best = [], [], []
    for combo in itertools.combinations(range(s), s // 2):
        j = np.concatenate([parts[k] for k in combo])
        jc = np.concatenate([parts[k] for k in range(s) if k not in combo])
        r_is = m[j].mean(axis=0) / m[j].std(axis=0, ddof=1)
        r_oos = m[jc].mean(axis=0) / m[jc].std(axis=0, ddof=1)
        n_star = int(np.argmax(r_is))
        omega = stats.rankdata(r_oos)[n_star] / (m.shape[1] + 1)
        logits.append(math.log(omega / (1 - omega)))
        is_best.append(r_is[n_star])
        oos_best.append(r_oos[n_star])
    lg = np.array(logits)
    return float(np.mean(lg <= 0)), lg, np.array(is_best), np.array(oos_best)


@pytest.mark.parametrize(("seed", "edge"), [(41, None), (42, 7)])
def test_pbo_with_16_blocks_matches_the_papers_procedure(seed: int, edge: int | None) -> None:
    m = _trial_matrix(seed, 640, 20, edge)
    ours = probability_of_backtest_overfitting(m, 16)
    pbo, logits, is_best, oos_best = _textbook_pbo(m, 16)
    assert ours.combinations == 12870
    assert ours.pbo == pytest.approx(pbo, abs=TOL)
    np.testing.assert_allclose(ours.logits, logits, atol=TOL, rtol=0)
    np.testing.assert_allclose(ours.in_sample, is_best, atol=TOL, rtol=0)
    np.testing.assert_allclose(ours.out_of_sample, oos_best, atol=TOL, rtol=0)
    slope, intercept = np.polyfit(is_best, oos_best, 1)
    assert ours.degradation_slope == pytest.approx(slope, abs=1e-7)
    assert ours.degradation_intercept == pytest.approx(intercept, abs=1e-9)


def test_pbo_separates_noise_from_a_planted_edge() -> None:
    noise = probability_of_backtest_overfitting(_trial_matrix(51, 640, 30), 16)
    edge = probability_of_backtest_overfitting(_trial_matrix(51, 640, 30, edge=3), 16)
    assert noise.pbo > 0.2
    assert edge.pbo < 0.05


def test_pbo_refuses_bad_shapes() -> None:
    with pytest.raises(ValueError, match="even"):
        probability_of_backtest_overfitting(np.zeros((100, 3)), 7)
    with pytest.raises(ValueError, match="at least"):
        probability_of_backtest_overfitting(np.zeros((10, 3)), 16)
