"""Probability of backtest overfitting by combinatorially symmetric cross-validation (CSCV).

Bailey, Borwein, López de Prado & Zhu (2015): the trials' returns (rows = periods, columns =
trials) are cut into S contiguous blocks; for each of the C(S, S/2) ways to pick half the blocks as
in-sample, the in-sample best trial (by per-period Sharpe) is ranked out-of-sample. ω is its relative
rank rank/(N + 1) (ties averaged), λ = ln(ω / (1 − ω)); PBO = share of λ ≤ 0. Vectorised: the
blocks' sums and centred sums of squares are combined by one matrix product per half.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PBOResult:
    pbo: float
    blocks: int
    combinations: int
    trials: int
    logits: np.ndarray = field(repr=False)
    #: OOS Sharpe (per period) of the IS winner against its IS Sharpe, per combination.
    in_sample: np.ndarray = field(repr=False)
    out_of_sample: np.ndarray = field(repr=False)
    #: Least-squares slope of OOS on IS performance (negative: the better in-sample, the worse out).
    degradation_slope: float
    degradation_intercept: float
    #: Share of combinations whose IS winner lost money out of sample (OOS Sharpe < 0).
    probability_of_loss: float

    def histogram(self, bins: int = 20) -> dict[str, list[float]]:
        finite = self.logits[np.isfinite(self.logits)]
        if finite.size == 0:
            return {"edges": [], "counts": []}
        counts, edges = np.histogram(finite, bins=bins)
        return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "pbo": self.pbo,
            "blocks": self.blocks,
            "combinations": self.combinations,
            "trials": self.trials,
            "degradation_slope": self.degradation_slope,
            "degradation_intercept": self.degradation_intercept,
            "probability_of_loss": self.probability_of_loss,
            "logit_histogram": self.histogram(),
        }


def _rank_of(perf: np.ndarray, winner: np.ndarray) -> np.ndarray:
    """Average rank (1-based) of column `winner[c]` within row c of `perf`."""
    chosen = perf[np.arange(perf.shape[0]), winner][:, None]
    below = (perf < chosen).sum(axis=1)
    equal = (perf == chosen).sum(axis=1)
    return below + (equal + 1) / 2.0


def probability_of_backtest_overfitting(returns: np.ndarray, blocks: int = 16) -> PBOResult:
    """PBO of choosing the best of the columns of `returns` (periods × trials) by Sharpe."""
    matrix = np.asarray(returns, dtype=float)
    if matrix.ndim != 2:
        raise ValueError("returns must be a (periods × trials) matrix")
    if blocks < 2 or blocks % 2:
        raise ValueError("blocks must be an even number >= 2")
    periods, trials = matrix.shape
    rows = (periods // blocks) * blocks
    if rows < 2 * blocks or trials < 2:
        raise ValueError(
            f"PBO needs at least {2 * blocks} periods and 2 trials, got {periods} periods, {trials} trials"
        )
    matrix = matrix[:rows]
    centred = matrix - matrix.mean(axis=0)
    parts = np.array_split(np.arange(rows), blocks)
    sums = np.stack([matrix[p].sum(axis=0) for p in parts])  # blocks × trials
    # Squares of values centred on each column's overall mean: the variance is shift-free and
    # the centring keeps the difference of squares accurate.
    squares = np.stack([(centred[p] ** 2).sum(axis=0) for p in parts])
    means = matrix.mean(axis=0)
    sizes = np.array([len(p) for p in parts], dtype=float)
    # Centred sums per block: Σ(x − m̄) = Σx − n m̄.
    csums = sums - sizes[:, None] * means
    combos = list(itertools.combinations(range(blocks), blocks // 2))
    select = np.zeros((len(combos), blocks))
    for k, combo in enumerate(combos):
        select[k, list(combo)] = 1.0
    # Sharpe of the raw (uncentred) returns: mean = centred mean + overall mean.
    is_perf = _raw_sharpe(select, csums, squares, sizes, means)
    oos_perf = _raw_sharpe(1.0 - select, csums, squares, sizes, means)
    valid = np.isfinite(is_perf).all(axis=1) & np.isfinite(oos_perf).all(axis=1)
    winner = np.argmax(np.where(np.isfinite(is_perf), is_perf, -np.inf), axis=1)
    omega = _rank_of(oos_perf, winner) / (trials + 1.0)
    logits = np.where(valid, np.log(omega / (1.0 - omega)), np.nan)
    pbo = float(np.mean(logits <= 0.0)) if valid.all() else math.nan
    chosen = np.arange(len(combos))
    x = is_perf[chosen, winner][valid]
    y = oos_perf[chosen, winner][valid]
    slope, intercept = np.polyfit(x, y, 1) if x.size >= 2 and np.ptp(x) > 0 else (math.nan, math.nan)
    return PBOResult(
        pbo=pbo,
        blocks=blocks,
        combinations=len(combos),
        trials=trials,
        logits=logits,
        in_sample=is_perf[chosen, winner],
        out_of_sample=oos_perf[chosen, winner],
        degradation_slope=float(slope),
        degradation_intercept=float(intercept),
        probability_of_loss=float(np.mean(y < 0.0)) if y.size else math.nan,
    )


def _raw_sharpe(
    pick: np.ndarray, csums: np.ndarray, squares: np.ndarray, sizes: np.ndarray, means: np.ndarray
) -> np.ndarray:
    n = (pick @ sizes)[:, None]
    centred_sum = pick @ csums
    centred_mean = centred_sum / n
    var = (pick @ squares - n * centred_mean**2) / (n - 1)
    mean = centred_mean + means[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = mean / np.sqrt(var)
    # A trial flat for a whole half (no position in it) earned nothing there: Sharpe 0. Other
    # zero-variance halves have no Sharpe ratio.
    flat = ~(var > 1e-300)
    out[flat] = np.where(np.abs(mean[flat]) <= 1e-15, 0.0, np.nan)
    return out
