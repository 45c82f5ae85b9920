"""The overfitting gate of a sweep: trials, best Sharpe, DSR, PBO, stability and one sentence."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ntrader.validation.pbo import probability_of_backtest_overfitting
from ntrader.validation.sharpe import deflated_sharpe_ratio
from ntrader.validation.stability import parameter_stability

#: The gate: DSR of the best at least this, PBO below `PBO_LIMIT`.
DSR_THRESHOLD = 0.95
PBO_LIMIT = 0.5
DEFAULT_BLOCKS = 16


@dataclass(frozen=True)
class SweepEvidence:
    """What a sweep hands the gate: each trial's daily returns (days × trials), their annualised
    Sharpe ratios, params, the grid, the index of the best, and how many trials count."""

    daily_returns: np.ndarray
    sharpes: Sequence[float | None]
    params: Sequence[Mapping[str, Any]]
    grid: Mapping[str, Sequence[Any]]
    best: int
    trials: int
    periods_per_year: int = 252


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def sentence(summary: Mapping[str, Any]) -> str:
    """One plain sentence: the gate's outcome with its two numbers."""
    trials = summary.get("trials")
    dsr, pbo = summary.get("dsr"), summary.get("pbo")
    figures = f"DSR {_fmt(dsr)}, PBO {_fmt(pbo)}"
    if summary.get("significant"):
        return f"significant after {trials} trials: {figures}"
    return f"not significant after {trials} trials: {figures}"


def significant(dsr: float | None, pbo: float | None) -> bool:
    """The gate: DSR ≥ 0.95 and, when PBO could be measured, PBO < 0.5."""
    if dsr is None or not dsr >= DSR_THRESHOLD:
        return False
    return pbo is None or not math.isfinite(pbo) or pbo < PBO_LIMIT


def sweep_verdict(evidence: SweepEvidence, *, blocks: int = DEFAULT_BLOCKS) -> dict[str, Any]:
    """The verdict as a JSON-ready dict (stored with the sweep): summary figures, the sentence, and
    the details (DSR inputs, PBO with its logit histogram and degradation, stability)."""
    matrix = np.asarray(evidence.daily_returns, dtype=float)
    notes: list[str] = []
    best_returns = matrix[:, evidence.best]
    deflated = deflated_sharpe_ratio(
        best_returns,
        [s for s in evidence.sharpes if s is not None],
        trials=evidence.trials,
        periods_per_year=evidence.periods_per_year,
    )
    pbo_details: dict[str, Any] | None = None
    pbo: float | None = None
    # Trials that never trade (a constant zero column) have no Sharpe in any half: leave them out.
    active = np.flatnonzero(np.ptp(matrix, axis=0) > 0) if matrix.size else np.array([], dtype=int)
    try:
        result = probability_of_backtest_overfitting(matrix[:, active], blocks)
        pbo_details = result.to_json_dict()
        pbo = None if math.isnan(result.pbo) else result.pbo
        if pbo is None:
            notes.append("PBO undefined: some trial has no Sharpe ratio in a half of the blocks")
    except ValueError as exc:
        notes.append(f"PBO not measured: {exc}")
    stability = parameter_stability(evidence.grid, list(zip(evidence.params, evidence.sharpes, strict=True)))
    dsr = None if deflated is None else deflated.dsr
    summary: dict[str, Any] = {
        "trials": evidence.trials,
        "best_sharpe": evidence.sharpes[evidence.best],
        "dsr": dsr,
        "pbo": pbo,
        "stability": None if stability is None else stability.ratio,
        "significant": significant(dsr, pbo),
    }
    summary["sentence"] = sentence(summary)
    summary["details"] = {
        "dsr": None if deflated is None else deflated.to_json_dict(evidence.periods_per_year),
        "pbo": pbo_details,
        "stability": None if stability is None else stability.to_json_dict(),
        "trials_in_matrix": int(active.size),
        "days": int(matrix.shape[0]),
        "notes": notes,
    }
    return summary
