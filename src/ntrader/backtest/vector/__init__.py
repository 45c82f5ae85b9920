"""Vectorized screen: a strategy's signal function over numpy arrays, a whole grid at a time.

The Nautilus engine is the reference; this module reproduces its trades exactly (same bars, same
quantities, prices and commissions) at a few hundred times its speed, so a sweep can screen
thousands of parameter sets and confirm only the best ones in Nautilus. How it stays exact:

- Prices are what Nautilus sees: each bar price rounded to the instrument's cents the way
  `Price(value, 2)` rounds (half away from zero of ``value * 100``), kept as integer cents.
  Cash is integer cents too (Nautilus's `Money` is fixed point), so no float drift accumulates.
- Signals are decided in exact integer arithmetic where possible: the SMA crossover compares
  rolling sums of cents exactly, as `SMACrossover` does (a tie is a tie: "not above"), and the
  Bollinger exit too. Where a float test is too close to call (the Bollinger entry) the bar is
  decided again with the very float operations the strategy performs (numpy's mean/std for the
  band, Wilder's recursion for the RSI).
- Orders follow `ntrader.strategies.base`: sized at the fill price (the close, or the next open in
  next-open mode) as `floor(equity * position_pct / price)` on `Money.as_double()`-identical floats,
  cut to what the cash covers after the order's costs; every entry is taken flat; an entry on the
  last bar is not opened. The screen is long-only: `allow_short=true` (which Nautilus runs on a
  margin account) is refused here and swept with `--engine nautilus`.
- Liquidity (`ntrader.backtest.fills`): with `bar-volume` an order above what the bar offers at one
  price (a quarter of its volume at the close, its volume at the open) fills in two parts, the rest
  one cent worse, each part charged as Nautilus's fee model charges it; `unlimited` fills whole.
- Costs are `CommissionModel.order_total` in exact integer arithmetic: the broker's commission over
  a common denominator for the rates, bps, minimum and cap, tiers applied marginally from the New
  York month's volume, half-up rounding to cents; then each fee line (per share, per value, per
  commission; sale-only lines skipped on buys) over its own denominator, rounded half-up to cents.

The package, one job per module: `bars` (arrays in cents), `commission` (the cost model in
integers), `kernel` (the compiled per-bar loop), `signals` (which signal function a strategy
brings: a spec's `signals`, see `ntrader.strategies.signals`), `run` (one combination, fills as
Nautilus reports them) and `screen` (a whole grid, ranking figures). Signals and indicators are
numpy over all bars, shared across the grid (one rolling-sum row per distinct period).

Basket mode (several symbols, one cash account, as `ntrader.backtest.portfolio_engine` runs it):
`basket` (the compiled loop over every symbol's events in the engine's processing order) and
`basket_run` (the merged clock, one run as the portfolio engine's `RunResult`, a screened grid).
"""

from ntrader.backtest.vector.bars import VectorBars, as_double, prepare_bars, to_cents
from ntrader.backtest.vector.commission import CommissionTerms, commission, commission_terms
from ntrader.backtest.vector.run import (
    ENGINE_VERSION,
    FoldRules,
    VectorRun,
    VectorSettings,
    fills_of,
    run_vector,
    simulate,
)
from ntrader.backtest.vector.screen import ScreenFigures, figures, screen
from ntrader.backtest.vector.signals import (
    VECTOR_SIGNALS,
    SignalCache,
    SignalFunction,
    VectorStrategy,
    has_vector,
    mean_reversion_signals,
    momentum_signals,
    signal_function,
    sma_signals,
    wilder_rsi,
)

# The names the single-module engine had for its cost kernel.
_commission = commission
_commission_terms = commission_terms

__all__ = [
    "ENGINE_VERSION",
    "VECTOR_SIGNALS",
    "CommissionTerms",
    "FoldRules",
    "ScreenFigures",
    "SignalCache",
    "SignalFunction",
    "VectorBars",
    "VectorRun",
    "VectorSettings",
    "VectorStrategy",
    "as_double",
    "commission",
    "commission_terms",
    "figures",
    "fills_of",
    "has_vector",
    "mean_reversion_signals",
    "momentum_signals",
    "prepare_bars",
    "run_vector",
    "screen",
    "signal_function",
    "simulate",
    "sma_signals",
    "to_cents",
    "wilder_rsi",
]
