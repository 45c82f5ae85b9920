"""Screening a grid: every combination's ranking figures on the same bars, indicators shared."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Unpack

import numpy as np
import pandas as pd

from ntrader.backtest.vector.bars import VectorBars
from ntrader.backtest.vector.commission import CommissionTerms, commission_terms
from ntrader.backtest.vector.run import MarketKeywords, VectorRun, VectorSettings, market_of, run_one
from ntrader.backtest.vector.signals import VectorStrategy, signal_function
from ntrader.metrics import TRADING_DAYS_PER_YEAR
from ntrader.metrics.returns import cagr, total_return
from ntrader.metrics.risk import ZERO_DEVIATION, calmar_ratio, max_drawdown, sharpe_ratio
from ntrader.strategies.signals import SignalCache


@dataclass(frozen=True)
class ScreenFigures:
    """The ranking metrics of one combination, computed as `compute_metrics` does."""

    total_return: float
    cagr: float | None
    sharpe: float | None
    calmar: float | None
    max_drawdown: float
    final_equity: float
    split_orders: int = 0
    ruined: bool = False
    #: Daily returns (first measured from the capital), kept only when `screen(keep_daily=True)`:
    #: the trials' return matrix for the overfitting statistics (`ntrader.validation`).
    daily_returns: np.ndarray | None = field(default=None, compare=False, repr=False)

    def value(self, metric: str) -> float | None:
        return getattr(self, metric)  # type: ignore[no-any-return]


def figures(
    run: VectorRun,
    first_equity: float,
    years: float,
    *,
    risk_free_rate: float = 0.0,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> ScreenFigures:
    """total return, CAGR, Sharpe, Calmar and max drawdown from a run's daily equity.

    As compute_metrics: the first day's return is measured from `first_equity` (the capital).
    """
    daily = run.daily_equity
    growth = daily[-1] / first_equity
    total = float(growth - 1.0)
    annual: float | None = None
    if years > 0:
        try:
            annual = -1.0 if growth == 0.0 else float(growth ** (1.0 / years) - 1.0)
        except OverflowError:
            annual = None
    days = np.concatenate(([first_equity], daily))
    excess = days[1:] / days[:-1] - 1.0 - risk_free_rate / periods_per_year
    sharpe: float | None = None
    if excess.size >= 2:
        deviation = float(excess.std(ddof=1))
        if deviation > ZERO_DEVIATION:
            sharpe = float(excess.mean() / deviation * math.sqrt(periods_per_year))
    calmar = None if annual is None or run.max_drawdown == 0.0 else annual / abs(run.max_drawdown)
    return ScreenFigures(
        total_return=total,
        cagr=annual,
        sharpe=sharpe,
        calmar=calmar,
        max_drawdown=run.max_drawdown,
        final_equity=run.final_equity,
        split_orders=run.split_orders,
    )


def screen(
    bars: pd.DataFrame | VectorBars,
    strategy: VectorStrategy,
    combinations: Sequence[dict[str, Any]],
    *,
    risk_free_rate: float = 0.0,
    progress: Callable[[int], None] | None = None,
    keep_daily: bool = False,
    **market: Unpack[MarketKeywords],
) -> list[ScreenFigures]:
    """Ranking figures of every combination (typed params, defaults merged) on the same bars.

    `strategy`: its spec, its signal function, or a built-in's name; `market`: `bar_size` (with a
    bar frame), `capital`, `commission`, `fill_at`, `liquidity`, or a `settings` object.
    Indicators are computed once per distinct period and shared; each combination then costs one
    pass of the compiled loop. `progress(k)` is called after every k combinations.
    `keep_daily`: also keep each combination's daily returns (the loop computes the daily
    equity anyway; keeping it costs one small array per combination).
    """
    vb, settings = market_of(bars, market)
    terms = commission_terms(settings.commission)
    signal = signal_function(strategy)
    cache = SignalCache(vb)
    out: list[ScreenFigures] = []
    for params in combinations:
        signals = signal(cache, params)
        run = run_one(vb, signals, params, settings, terms, detail=False)
        if run.ruined:
            out.append(_ruined_figures(vb, signals, run, settings, terms, risk_free_rate))
        else:
            # No strategy trades on its first bar (every indicator needs history): the curve
            # starts at the capital.
            out.append(
                figures(
                    run,
                    settings.capital,
                    vb.years,
                    risk_free_rate=risk_free_rate,
                    periods_per_year=vb.periods_per_year,
                )
            )
        if keep_daily:
            days = np.concatenate(([settings.capital], run.daily_equity))
            out[-1] = replace(out[-1], daily_returns=days[1:] / days[:-1] - 1.0)
        if progress is not None:
            progress(1)
    return out


def _ruined_figures(
    vb: VectorBars,
    signals: tuple[np.ndarray, np.ndarray],
    run: VectorRun,
    settings: VectorSettings,
    terms: CommissionTerms,
    risk_free_rate: float,
) -> ScreenFigures:
    # Rare (equity at or below zero): the metrics package knows how ruin cuts the curve.
    full = run_one(vb, signals, run.params, settings, terms, detail=True)
    assert full.equity is not None
    curve = pd.Series(full.equity, index=vb.close_times)
    capital = settings.capital
    return ScreenFigures(
        total_return=total_return(curve, capital),
        cagr=cagr(curve, capital),
        sharpe=sharpe_ratio(curve, risk_free_rate, vb.periods_per_year, capital),
        calmar=calmar_ratio(curve, capital),
        max_drawdown=max_drawdown(curve).depth,
        final_equity=run.final_equity,
        split_orders=run.split_orders,
        ruined=True,
    )
