"""Which signal function a strategy trades with in the vector engine: from its spec, not a name table.

The functions themselves live with their strategies (`ntrader.strategies.sma.sma_signals`, …); a
user's strategy class brings its own as `vector_signals` (see `ntrader.strategies.signals`).
"""

from __future__ import annotations

from ntrader.errors import InputError, NtraderError
from ntrader.strategies.kernels import wilder_rsi
from ntrader.strategies.mean_reversion import mean_reversion_signals
from ntrader.strategies.momentum import momentum_signals
from ntrader.strategies.registry import BUILTINS, get_strategy
from ntrader.strategies.signals import SignalCache, SignalFunction
from ntrader.strategies.sma import sma_signals
from ntrader.strategies.spec import StrategySpec

#: A strategy as the vector engine's functions take it: its spec, its signal function, or its name.
VectorStrategy = StrategySpec | SignalFunction | str

# The built-ins by canonical name (kept for callers of the name form).
VECTOR_SIGNALS: dict[str, SignalFunction] = {s.name: s.signals for s in BUILTINS if s.signals is not None}


def _lookup(strategy: VectorStrategy) -> tuple[str, SignalFunction | None]:
    if isinstance(strategy, StrategySpec):
        return strategy.name, strategy.signals
    if isinstance(strategy, str):
        if strategy in VECTOR_SIGNALS:
            return strategy, VECTOR_SIGNALS[strategy]
        try:
            return strategy, get_strategy(strategy).signals
        except NtraderError:
            return strategy, None
    return getattr(strategy, "__name__", "signals"), strategy


def has_vector(strategy: VectorStrategy) -> bool:
    """True when the strategy (spec, signal function, or name) has a vectorized signal function."""
    return _lookup(strategy)[1] is not None


def signal_function(strategy: VectorStrategy) -> SignalFunction:
    """The strategy's signal function; an error naming the Nautilus engine when it has none."""
    name, function = _lookup(strategy)
    if function is None:
        raise InputError(f"strategy {name!r} has no vector implementation; sweep it with --engine nautilus")
    return function


__all__ = [
    "VECTOR_SIGNALS",
    "SignalCache",
    "SignalFunction",
    "VectorStrategy",
    "has_vector",
    "mean_reversion_signals",
    "momentum_signals",
    "signal_function",
    "sma_signals",
    "wilder_rsi",
]
