"""Trading strategies: the built-ins (Nautilus `Strategy` subclasses), their specs and registry."""

from ntrader.strategies.base import SignalStrategy, SignalStrategyConfig
from ntrader.strategies.mean_reversion import MeanReversion, MeanReversionConfig
from ntrader.strategies.momentum import Momentum, MomentumConfig, WilderRSI
from ntrader.strategies.portfolio import PortfolioStrategy, PortfolioStrategyConfig
from ntrader.strategies.registry import get_strategy, list_strategies
from ntrader.strategies.signals import SignalCache, SignalFunction, no_signal
from ntrader.strategies.sma import SMACrossover, SMACrossoverConfig
from ntrader.strategies.spec import Parameter, StrategySpec, coerce_params, parse_param_pairs

__all__ = [
    "MeanReversion",
    "MeanReversionConfig",
    "Momentum",
    "MomentumConfig",
    "Parameter",
    "PortfolioStrategy",
    "PortfolioStrategyConfig",
    "SMACrossover",
    "SMACrossoverConfig",
    "SignalCache",
    "SignalFunction",
    "SignalStrategy",
    "SignalStrategyConfig",
    "StrategySpec",
    "WilderRSI",
    "coerce_params",
    "get_strategy",
    "list_strategies",
    "no_signal",
    "parse_param_pairs",
]
