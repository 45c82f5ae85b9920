"""The strategies ntrader knows by name (the built-ins), and lookup of a user's `file.py:Class`."""

from __future__ import annotations

from ntrader.errors import NotFoundError
from ntrader.strategies.allocation import Rebalance, RebalanceConfig, Rotation, RotationConfig
from ntrader.strategies.loader import is_user_reference, load_user_strategy
from ntrader.strategies.mean_reversion import MeanReversion, MeanReversionConfig
from ntrader.strategies.momentum import Momentum, MomentumConfig
from ntrader.strategies.signals import vector_signals_of
from ntrader.strategies.sma import SMACrossover, SMACrossoverConfig

# The spec types moved to `ntrader.strategies.spec`; these names stay importable from here.
from ntrader.strategies.spec import (
    Parameter,
    StrategySpec,
    coerce_params,
    coerce_value,
    config_parameters,
    parse_param_pairs,
)

BUILTINS: tuple[StrategySpec, ...] = (
    StrategySpec(
        name="sma",
        aliases=("sma_crossover",),
        strategy_class=SMACrossover,
        config_class=SMACrossoverConfig,
        description="Simple moving average crossover (trend following).",
        rule=(
            "Enter long when SMA(fast) > SMA(slow) on a bar after SMA(fast) <= SMA(slow) on the "
            "previous bar; close the position on the opposite cross (or, with allow_short=true, flip "
            "short on a 1x margin account). The averages are compared exactly, as sums of closes in "
            "cents (fast sum x slow > slow sum x fast): an exact tie counts as not above, never decided "
            "by floating-point rounding. Market orders, filled per --fill-at (default: the signal "
            "bar's close); an entry on the last bar is not opened."
        ),
        signals=vector_signals_of(SMACrossover),
    ),
    StrategySpec(
        name="mean_reversion",
        aliases=("bollinger",),
        strategy_class=MeanReversion,
        config_class=MeanReversionConfig,
        description="Bollinger band mean reversion.",
        rule=(
            "Enter long when the close falls below SMA(lookback) − num_std·σ, σ being the population "
            "standard deviation of the last `lookback` closes; close the position when the close "
            "reaches the SMA (close >= SMA). Long only. Market orders."
        ),
        signals=vector_signals_of(MeanReversion),
    ),
    StrategySpec(
        name="momentum",
        aliases=("rsi",),
        strategy_class=Momentum,
        config_class=MomentumConfig,
        description="RSI momentum (Wilder's RSI).",
        rule=(
            "Enter long when Wilder's RSI(rsi_period) crosses up through `oversold` (previous bar <= "
            "oversold, this bar > oversold: momentum turning up); close the position when RSI "
            "crosses down through `overbought` (previous >= overbought, this bar < overbought: "
            "momentum fading). Long only. Market orders."
        ),
        signals=vector_signals_of(Momentum),
    ),
    StrategySpec(
        name="rotation",
        aliases=("momentum_rotation",),
        strategy_class=Rotation,
        config_class=RotationConfig,
        description="Momentum rotation across the run's symbols (a portfolio strategy).",
        rule=(
            "On each `rebalance` date (the first bar of each day, week, month or quarter, or every bar "
            "with rebalance=bar; the first bar always) rank the symbols by their return over the last "
            "`lookback` bars (close now / close `lookback` bars back − 1, last known closes); hold the "
            "`top` K equally weighted (1/K of equity each, whole shares), the others flat. A symbol "
            "without a close `lookback` bars back is not ranked; until one can be ranked the account "
            "stays in cash. Sells first, then buys with what the cash covers. Fills at the rebalance "
            "bar's close."
        ),
    ),
    StrategySpec(
        name="rebalance",
        aliases=("fixed_weights",),
        strategy_class=Rebalance,
        config_class=RebalanceConfig,
        description="Fixed target weights, rebalanced on a calendar and/or a drift band (portfolio).",
        rule=(
            "Hold `weights` (SYMBOL:WEIGHT,..., sum <= 1, the rest cash) in whole shares: on the first "
            "bar, on each `rebalance` date (bar, daily, weekly, monthly, quarterly; never = only the "
            "first bar) and whenever a symbol's weight drifts more than `band` from its target (0: calendar "
            "only). Sells first, then buys with what the cash covers. Fills at the bar's close."
        ),
    ),
)


def list_strategies() -> list[StrategySpec]:
    return list(BUILTINS)


def get_strategy(name: str) -> StrategySpec:
    """A built-in by name or alias (case-insensitive), or a user's `file.py:Class` / `module:Class`."""
    if is_user_reference(name):
        return load_user_strategy(name.strip())
    key = name.strip().lower()
    for spec in BUILTINS:
        if key == spec.name or key in spec.aliases:
            return spec
    known = ", ".join(s.name for s in BUILTINS)
    raise NotFoundError(
        f"unknown strategy {name!r}; known strategies: {known} (or path/to/file.py:ClassName)"
    )


__all__ = [
    "BUILTINS",
    "Parameter",
    "StrategySpec",
    "coerce_params",
    "coerce_value",
    "config_parameters",
    "get_strategy",
    "list_strategies",
    "parse_param_pairs",
]
