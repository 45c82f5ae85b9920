"""Trading strategies: the built-ins (Nautilus `Strategy` subclasses) and their registry."""

from ntrader.strategies.base import SignalStrategy, SignalStrategyConfig
from ntrader.strategies.mean_reversion import MeanReversion, MeanReversionConfig
from ntrader.strategies.momentum import Momentum, MomentumConfig, WilderRSI
from ntrader.strategies.registry import (
    StrategySpec,
    coerce_params,
    get_strategy,
    list_strategies,
    parse_param_pairs,
)
from ntrader.strategies.sma import SMACrossover, SMACrossoverConfig

__all__ = [
    "MeanReversion",
    "MeanReversionConfig",
    "Momentum",
    "MomentumConfig",
    "SMACrossover",
    "SMACrossoverConfig",
    "SignalStrategy",
    "SignalStrategyConfig",
    "StrategySpec",
    "WilderRSI",
    "coerce_params",
    "get_strategy",
    "list_strategies",
    "parse_param_pairs",
]
