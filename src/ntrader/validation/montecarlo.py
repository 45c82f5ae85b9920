"""Monte Carlo checks of one run: bootstrapped daily returns, reshuffled trades, random entries.

- Stationary block bootstrap (Politis & Romano, 1994) of the daily returns: each resampled day
  continues the previous day's block with probability 1 − 1/L and starts a new block at a uniformly
  drawn day otherwise (wrapping around the end), so autocorrelation within ~L days survives.
- Trade reshuffles: the closed trades' returns (P&L over the closed-trade equity before each) in a
  random order: the final equity is unchanged, the drawdowns are not; drawn with replacement they
  also spread the final return.
- Random-entry baseline: as many trades as the strategy made, with the same holding lengths (so the
  same exposure), placed at random non-overlapping bars; the strategy's own trades measured the
  same way (close to close, fully invested, no costs) sit at a percentile of that distribution.
All vectorised over the samples: (samples × days) arrays, no Python loop per path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

PERCENTILES = (5.0, 50.0, 95.0)


@dataclass(frozen=True)
class Spread:
    """5th / 50th / 95th percentiles of one figure across the Monte Carlo samples."""

    p5: float
    p50: float
    p95: float

    @classmethod
    def of(cls, values: np.ndarray) -> Spread:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return cls(math.nan, math.nan, math.nan)
        p5, p50, p95 = np.percentile(finite, PERCENTILES)
        return cls(float(p5), float(p50), float(p95))

    def to_json_dict(self) -> dict[str, float | None]:
        return {k: (None if math.isnan(v) else v) for k, v in self.__dict__.items()}


def stationary_bootstrap_indices(
    n: int, samples: int, mean_block: float, rng: np.random.Generator
) -> np.ndarray:
    """(samples × n) day indices of a stationary block bootstrap with mean block length `mean_block`.

    Draws, in this order: a (samples × n) uniform array (a new block where < 1/L; day 0 always
    starts one) and a (samples × n) array of block starts; day t of a block started at day s with
    start index j is (j + t − s) mod n.
    """
    if n < 1 or samples < 1:
        raise ValueError("need at least one day and one sample")
    p = 1.0 / max(float(mean_block), 1.0)
    new = rng.random((samples, n)) < p
    new[:, 0] = True
    starts = rng.integers(0, n, size=(samples, n))
    t = np.arange(n)
    began = np.maximum.accumulate(np.where(new, t, 0), axis=1)
    first = np.take_along_axis(starts, began, axis=1)
    return (first + t - began) % n  # type: ignore[no-any-return]


def path_figures(
    returns: np.ndarray, years: float, periods_per_year: int = 252
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CAGR, max drawdown (≤ 0) and annualised Sharpe of each row of (paths × days) returns."""
    r = np.atleast_2d(np.asarray(returns, dtype=float))
    growth = np.cumprod(1.0 + r, axis=1)
    final = growth[:, -1]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        cagr = (
            np.where(final > 0, final ** (1.0 / years) - 1.0, -1.0)
            if years > 0
            else np.full_like(final, np.nan)
        )
        peak = np.maximum(np.maximum.accumulate(growth, axis=1), 1.0)
        mdd = np.minimum((growth / peak - 1.0).min(axis=1), 0.0)
        std = r.std(axis=1, ddof=1) if r.shape[1] >= 2 else np.full(r.shape[0], np.nan)
        sharpe = np.where(std > 1e-12, r.mean(axis=1) / std * math.sqrt(periods_per_year), np.nan)
    return cagr, mdd, sharpe


@dataclass(frozen=True)
class Bootstrap:
    samples: int
    mean_block: float
    cagr: Spread
    max_drawdown: Spread
    sharpe: Spread
    #: Share of samples that lost money over the period.
    probability_of_loss: float

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "mean_block_days": self.mean_block,
            "cagr": self.cagr.to_json_dict(),
            "max_drawdown": self.max_drawdown.to_json_dict(),
            "sharpe": self.sharpe.to_json_dict(),
            "probability_of_loss": self.probability_of_loss,
        }


def bootstrap_returns(
    daily_returns: np.ndarray,
    *,
    samples: int = 2000,
    mean_block: float | None = None,
    years: float | None = None,
    periods_per_year: int = 252,
    seed: int = 0,
) -> Bootstrap:
    """Distributions of CAGR, max drawdown and Sharpe over stationary-bootstrap resamples.

    `mean_block` defaults to n^(1/3) days (Politis & White's order); `years` to n / periods_per_year.
    """
    r = np.asarray(daily_returns, dtype=float)
    r = r[np.isfinite(r)]
    n = r.size
    if n < 2:
        raise ValueError("a bootstrap needs at least two daily returns")
    block = float(mean_block) if mean_block is not None else max(1.0, n ** (1.0 / 3.0))
    span = years if years is not None else n / periods_per_year
    idx = stationary_bootstrap_indices(n, samples, block, np.random.default_rng(seed))
    cagr, mdd, sharpe = path_figures(r[idx], span, periods_per_year)
    final = np.prod(1.0 + r[idx], axis=1)
    return Bootstrap(
        samples=samples,
        mean_block=block,
        cagr=Spread.of(cagr),
        max_drawdown=Spread.of(mdd),
        sharpe=Spread.of(sharpe),
        probability_of_loss=float(np.mean(final < 1.0)),
    )


def trade_returns(pnl: np.ndarray, capital: float) -> np.ndarray:
    """Each closed trade's P&L over the closed-trade equity before it (trades in exit order)."""
    p = np.asarray(pnl, dtype=float)
    before = capital + np.concatenate(([0.0], np.cumsum(p)[:-1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(before > 0, p / before, np.nan)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Reshuffle:
    samples: int
    trades: int
    #: Max drawdown of the closed-trade equity with the trades in random order (final unchanged).
    max_drawdown: Spread
    #: Total return with the trades drawn with replacement.
    total_return: Spread
    actual_max_drawdown: float

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "trades": self.trades,
            "max_drawdown": self.max_drawdown.to_json_dict(),
            "total_return": self.total_return.to_json_dict(),
            "actual_max_drawdown": self.actual_max_drawdown,
        }


def reshuffle_trades(returns: np.ndarray, *, samples: int = 2000, seed: int = 0) -> Reshuffle:
    """Closed-trade drawdowns over random orders, total returns over draws with replacement."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    if r.size < 2:
        raise ValueError("a trade reshuffle needs at least two closed trades")
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((samples, r.size)), axis=1)
    _, mdd, _ = path_figures(r[order], 1.0)
    drawn = r[rng.integers(0, r.size, size=(samples, r.size))]
    _, actual, _ = path_figures(r[None, :], 1.0)
    return Reshuffle(
        samples=samples,
        trades=int(r.size),
        max_drawdown=Spread.of(mdd),
        total_return=Spread.of(np.prod(1.0 + drawn, axis=1) - 1.0),
        actual_max_drawdown=float(actual[0]),
    )


@dataclass(frozen=True)
class RandomEntry:
    samples: int
    trades: int
    exposure: float  # share of bars in the market
    strategy_return: float  # close to close over its own trades, fully invested, no costs
    total_return: Spread
    #: Where the strategy sits in the baseline: % of random-entry samples it beats (ties half).
    percentile: float

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "trades": self.trades,
            "exposure": self.exposure,
            "strategy_return": self.strategy_return,
            "total_return": self.total_return.to_json_dict(),
            "percentile": self.percentile,
        }


def random_entry_baseline(
    close: np.ndarray,
    entries: np.ndarray,
    exits: np.ndarray,
    *,
    samples: int = 2000,
    seed: int = 0,
) -> RandomEntry:
    """The strategy's trades (bar indices `entries[i] < exits[i]`, non-overlapping) against as many
    trades of the same lengths at random places: random order of the lengths, and the free bars
    split at random among the gaps before, between and after them."""
    c = np.asarray(close, dtype=float)
    e = np.asarray(entries, dtype=np.int64)
    x = np.asarray(exits, dtype=np.int64)
    if e.size < 1 or c.size < 2:
        raise ValueError("a random-entry baseline needs at least one trade and two bars")
    lengths = x - e
    if (lengths < 0).any():
        raise ValueError("every exit must come at or after its entry")
    log_c = np.log(c)
    strategy = float(np.expm1((log_c[x] - log_c[e]).sum()))
    free = c.size - 1 - int(lengths.sum())
    if free < 0:
        raise ValueError("the trades overlap: they hold more bars than there are")
    rng = np.random.default_rng(seed)
    perm = np.argsort(rng.random((samples, e.size)), axis=1)
    held = lengths[perm]
    gaps = np.sort(rng.integers(0, free + 1, size=(samples, e.size)), axis=1)
    starts = gaps + np.cumsum(held, axis=1) - held
    total = np.expm1((log_c[starts + held] - log_c[starts]).sum(axis=1))
    beats = float(np.mean(total < strategy) + 0.5 * np.mean(total == strategy))
    return RandomEntry(
        samples=samples,
        trades=int(e.size),
        exposure=float(lengths.sum() / (c.size - 1)),
        strategy_return=strategy,
        total_return=Spread.of(total),
        percentile=100.0 * beats,
    )
