"""Trading strategies: the built-ins (Nautilus `Strategy` subclasses) and their registry."""

from ntrader.strategies.base import SignalStrategy, SignalStrategyConfig
from ntrader.strategies.registry import (
    StrategySpec,
    coerce_params,
    get_strategy,
    list_strategies,
    parse_param_pairs,
)
from ntrader.strategies.sma import SMACrossover, SMACrossoverConfig

__all__ = [
    "SMACrossover",
    "SMACrossoverConfig",
    "SignalStrategy",
    "SignalStrategyConfig",
    "StrategySpec",
    "coerce_params",
    "get_strategy",
    "list_strategies",
    "parse_param_pairs",
]
