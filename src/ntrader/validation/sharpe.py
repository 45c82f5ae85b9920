"""Probabilistic and deflated Sharpe ratios (Bailey & López de Prado, 2012 and 2014).

Everything here is per period (daily returns give a daily Sharpe ratio); annualised Sharpe ratios
of the trials are converted with `periods_per_year`. Skewness and kurtosis are the bias-corrected
sample estimates (pandas' `skew`/`kurt`), kurtosis as the raw fourth moment (normal = 3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

_NORMAL = NormalDist()
EULER_GAMMA = 0.5772156649015329


@dataclass(frozen=True)
class Moments:
    """What the PSR needs of a return series: its length, per-period Sharpe, skewness, kurtosis."""

    n: int
    sharpe: float
    skew: float
    kurtosis: float


def moments(returns: Sequence[float] | np.ndarray, risk_free_per_period: float = 0.0) -> Moments | None:
    """Per-period Sharpe (mean / sample std of the excess returns), skewness and raw kurtosis;
    None when the series is too short (< 4) or constant."""
    x = np.asarray(returns, dtype=float) - risk_free_per_period
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n < 4:
        return None
    d = x - x.mean()
    m2 = float(np.mean(d**2))
    if not m2 > 0.0 or float(x.max() - x.min()) <= 4 * np.finfo(float).eps * float(np.abs(x).max()):
        return None
    m3 = float(np.mean(d**3))
    m4 = float(np.mean(d**4))
    g1 = m3 / m2**1.5
    g2 = m4 / m2**2 - 3.0
    skew = math.sqrt(n * (n - 1)) / (n - 2) * g1
    excess = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0)
    sharpe = float(x.mean() / x.std(ddof=1))
    return Moments(n=n, sharpe=sharpe, skew=skew, kurtosis=excess + 3.0)


def psr_from(m: Moments, benchmark: float = 0.0) -> float | None:
    """PSR = Φ((SR − SR*) √(n − 1) / √(1 − γ₃ SR + (γ₄ − 1)/4 SR²)), all per period."""
    variance = 1.0 - m.skew * m.sharpe + (m.kurtosis - 1.0) / 4.0 * m.sharpe**2
    if not variance > 0.0:
        return None
    return _NORMAL.cdf((m.sharpe - benchmark) * math.sqrt(m.n - 1) / math.sqrt(variance))


def probabilistic_sharpe_ratio(
    returns: Sequence[float] | np.ndarray,
    benchmark_sharpe: float = 0.0,
    *,
    risk_free_per_period: float = 0.0,
) -> float | None:
    """Probability that the true (per-period) Sharpe ratio exceeds `benchmark_sharpe`."""
    m = moments(returns, risk_free_per_period)
    return None if m is None else psr_from(m, benchmark_sharpe)


def expected_max_sharpe(trials: int, sharpe_std: float) -> float:
    """E[max SR] of `trials` skill-less trials whose Sharpe ratios have std `sharpe_std`:
    σ ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e)))."""
    if trials < 1:
        raise ValueError("trials must be at least 1")
    if trials == 1 or not sharpe_std > 0.0:
        return 0.0
    return sharpe_std * (
        (1.0 - EULER_GAMMA) * _NORMAL.inv_cdf(1.0 - 1.0 / trials)
        + EULER_GAMMA * _NORMAL.inv_cdf(1.0 - 1.0 / (trials * math.e))
    )


@dataclass(frozen=True)
class Deflated:
    """A deflated Sharpe ratio and what went into it."""

    dsr: float | None
    trials: int
    sharpe: float  # per period, of the selected trial
    sharpe_std: float  # per period, across the trials
    hurdle: float  # expected maximum Sharpe (per period) of that many skill-less trials
    n: int
    skew: float
    kurtosis: float

    def to_json_dict(self, periods_per_year: int = 252) -> dict[str, float | int | None]:
        root = math.sqrt(periods_per_year)
        return {
            "dsr": self.dsr,
            "trials": self.trials,
            "sharpe_annual": self.sharpe * root,
            "trials_sharpe_std_annual": self.sharpe_std * root,
            "hurdle_annual": self.hurdle * root,
            "observations": self.n,
            "skew": self.skew,
            "kurtosis": self.kurtosis,
        }


def deflated_sharpe_ratio(
    returns: Sequence[float] | np.ndarray,
    trial_sharpes: Sequence[float | None] | np.ndarray,
    *,
    trials: int | None = None,
    sharpe_std: float | None = None,
    periods_per_year: int = 252,
    annualized_trials: bool = True,
    risk_free_per_period: float = 0.0,
) -> Deflated | None:
    """DSR of the selected trial (its `returns`) against the hurdle its own search sets.

    `trial_sharpes`: the Sharpe ratios of the trials screened (annualised unless
    `annualized_trials=False`; undefined ones left out), whose sample std sets the hurdle;
    `trials`: how many were tried (defaults to their count; more when earlier sweeps count too);
    `sharpe_std`: the trials' Sharpe std when only that is known (same units as the Sharpes).
    """
    m = moments(returns, risk_free_per_period)
    values = np.asarray([s for s in trial_sharpes if s is not None], dtype=float)
    values = values[np.isfinite(values)]
    if m is None or (values.size < 1 and sharpe_std is None):
        return None
    scale = math.sqrt(periods_per_year) if annualized_trials else 1.0
    count = int(trials if trials is not None else values.size)
    if sharpe_std is not None:
        std = float(sharpe_std) / scale
    else:
        std = float((values / scale).std(ddof=1)) if values.size >= 2 else 0.0
    hurdle = expected_max_sharpe(count, std)
    return Deflated(
        dsr=psr_from(m, hurdle),
        trials=count,
        sharpe=m.sharpe,
        sharpe_std=std,
        hurdle=hurdle,
        n=m.n,
        skew=m.skew,
        kurtosis=m.kurtosis,
    )
