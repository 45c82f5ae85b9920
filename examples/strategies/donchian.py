"""A user strategy with both faces: Nautilus decides bar by bar; `vector_signals` lets it join sweeps.

    ntrader backtest run --strategy examples/strategies/donchian.py:Donchian --symbol AAPL
    ntrader backtest sweep --strategy examples/strategies/donchian.py:Donchian --symbol AAPL \\
        --grid entry_window=10:40:10 --grid exit_window=5,10,20
    ntrader backtest walk-forward --strategy examples/strategies/donchian.py:Donchian --symbol AAPL \\
        --grid entry_window=10:40:10 --train 252 --test 63
"""

from collections import deque
from typing import Annotated, Any

import numpy as np
from msgspec import Meta
from numpy.lib.stride_tricks import sliding_window_view

from ntrader.strategies import SignalCache, SignalStrategy, SignalStrategyConfig, no_signal


class DonchianConfig(SignalStrategyConfig, frozen=True):
    """entry_window: prior closes whose highest a breakout must beat. exit_window: prior closes
    whose lowest a close must fall below to exit."""

    entry_window: Annotated[int, Meta(ge=1)] = 20
    exit_window: Annotated[int, Meta(ge=1)] = 10


def _breaks(close: np.ndarray, window: int, above: bool) -> np.ndarray:
    """Bars whose close is above the highest (or below the lowest) of the `window` closes before it."""
    if window >= len(close):
        return no_signal()
    prior = sliding_window_view(close, window)[:-1]  # row k: closes k .. k+window-1, before bar k+window
    edge = prior.max(axis=1) if above else prior.min(axis=1)
    hits = close[window:] > edge if above else close[window:] < edge
    return np.flatnonzero(hits) + window


class Donchian(SignalStrategy):
    """Long when the close tops the prior `entry_window` closes; flat when it falls below the prior
    `exit_window` closes."""

    config_class = DonchianConfig
    config: DonchianConfig

    def setup(self) -> None:
        self.closes: deque[float] = deque(maxlen=max(self.config.entry_window, self.config.exit_window))

    def on_signal_bar(self, bar) -> None:  # type: ignore[no-untyped-def]
        close = bar.close.as_double()
        prior = list(self.closes)
        entry, exit_ = self.config.entry_window, self.config.exit_window
        if self.is_flat and len(prior) >= entry and close > max(prior[-entry:]):
            self.go_long(bar)
        elif self.is_long and len(prior) >= exit_ and close < min(prior[-exit_:]):
            self.go_flat()
        self.closes.append(close)

    @staticmethod
    def vector_signals(cache: SignalCache, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """The same decisions over all bars at once: (entry bars, exit bars).

        `cache.bars.close_f` holds the closes exactly as `bar.close.as_double()` gives them, so the
        comparisons above and here agree bit for bit.
        """
        close = cache.bars.close_f
        entries = _breaks(close, int(params["entry_window"]), above=True)
        exits = _breaks(close, int(params["exit_window"]), above=False)
        return entries, exits
