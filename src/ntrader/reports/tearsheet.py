"""Tearsheet figures of a run as data: monthly and yearly returns, rolling Sharpe and volatility,
the daily-return distribution, the worst drawdowns, costs and validation (HTML and JSON alike)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ntrader.metrics import daily_returns, drawdowns
from ntrader.reports.model import COST_LABELS, RunReport

#: Rolling windows, in trading days.
ROLLING_WINDOW = 63
WORST_DRAWDOWNS = 5
HISTOGRAM_BINS = 50


@dataclass(frozen=True)
class Tearsheet:
    """Every tearsheet figure; `to_json_dict` is what the JSON export carries."""

    monthly: pd.DataFrame  # years × months (1..12), compounded returns; NaN where no data
    yearly: pd.Series  # year → compounded return
    rolling_sharpe: pd.Series
    rolling_volatility: pd.Series
    window: int
    periods_per_year: int
    daily: pd.Series
    worst_drawdowns: list[dict[str, Any]]
    costs: dict[str, float] | None
    validation: dict[str, Any] | None

    def distribution(self, bins: int = HISTOGRAM_BINS) -> dict[str, list[float]]:
        """Histogram of daily returns (density) and the normal density with their mean and std."""
        r = self.daily.to_numpy()
        if r.size < 2:
            return {"edges": [], "density": [], "normal_x": [], "normal_density": []}
        density, edges = np.histogram(r, bins=bins, density=True)
        mu, sigma = float(r.mean()), float(r.std(ddof=1))
        x = np.linspace(edges[0], edges[-1], 200)
        normal = (
            np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
            if sigma > 0
            else np.zeros_like(x)
        )
        return {
            "edges": edges.tolist(),
            "density": density.tolist(),
            "normal_x": x.tolist(),
            "normal_density": normal.tolist(),
            "mean": [mu],
            "std": [sigma],
        }

    def to_json_dict(self) -> dict[str, Any]:
        def series(s: pd.Series) -> list[dict[str, Any]]:
            clean = s.dropna()
            times = pd.DatetimeIndex(clean.index)
            return [
                {"date": t.date().isoformat(), "value": float(v)}
                for t, v in zip(times, clean.to_numpy(), strict=True)
            ]

        monthly = {
            str(year): {str(m): (None if pd.isna(v) else float(v)) for m, v in row.items()}
            for year, row in self.monthly.iterrows()
        }
        return {
            "monthly_returns": monthly,
            "yearly_returns": {str(y): float(v) for y, v in self.yearly.items()},
            "rolling": {
                "window_days": self.window,
                "periods_per_year": self.periods_per_year,
                "sharpe": series(self.rolling_sharpe),
                "volatility": series(self.rolling_volatility),
            },
            "daily_return_distribution": self.distribution(),
            "worst_drawdowns": self.worst_drawdowns,
            "costs": self.costs,
            "validation": self.validation,
        }


def _iso(value: pd.Timestamp | None) -> str | None:
    return None if value is None else pd.Timestamp(value).isoformat()


def worst_drawdowns(equity: pd.Series, count: int = WORST_DRAWDOWNS) -> list[dict[str, Any]]:
    """The `count` deepest drawdowns: start (peak), trough, recovery, depth and length in days."""
    if equity.empty:
        return []
    periods = sorted(drawdowns(equity), key=lambda d: d.depth)[:count]
    return [
        {
            "start": _iso(d.peak),
            "trough": _iso(d.trough),
            "recovery": _iso(d.recovery),
            "depth": d.depth,
            "length_days": d.duration_days,
        }
        for d in periods
    ]


def tearsheet(report: RunReport, window: int = ROLLING_WINDOW) -> Tearsheet:
    """The tearsheet of a saved run, from its stored equity curve and settings."""
    record, equity = report.record, report.equity
    periods = report.metrics.conventions.annualization_factor or 252
    daily = pd.Series(dtype="float64") if equity.empty else daily_returns(equity, record.capital)
    index = pd.DatetimeIndex(daily.index)
    growth = 1.0 + daily
    by_month = growth.groupby([index.year, index.month]).prod() - 1.0
    monthly = by_month.unstack() if len(by_month) else pd.DataFrame()
    monthly = monthly.reindex(columns=range(1, 13)) if len(monthly) else monthly
    yearly = growth.groupby(index.year).prod() - 1.0
    rolling_mean = daily.rolling(window).mean()
    rolling_std = daily.rolling(window).std(ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sharpe = (rolling_mean / rolling_std.where(rolling_std > 1e-12)) * math.sqrt(periods)
    volatility = rolling_std * math.sqrt(periods)
    costs = record.settings.get("costs")
    cost_dict = None
    if isinstance(costs, dict):
        cost_dict = {key: float(costs.get(key, 0.0)) for key, _ in COST_LABELS}
        cost_dict["total"] = float(costs.get("total", 0.0))
    return Tearsheet(
        monthly=monthly,
        yearly=yearly,
        rolling_sharpe=sharpe,
        rolling_volatility=volatility,
        window=window,
        periods_per_year=periods,
        daily=daily,
        worst_drawdowns=worst_drawdowns(equity),
        costs=cost_dict,
        validation=record.settings.get("validation"),
    )
