"""The vectorized face of a strategy: a signal function over shared indicator arrays.

A strategy joins `backtest sweep` (vector engine) and `backtest walk-forward` when its class has a
`vector_signals(cache, params)` staticmethod: given a `SignalCache` over the bars and one
combination's typed parameters, it returns (entry bar indices, exit bar indices), sorted int64
arrays. The vector engine then trades them as the Nautilus strategy would: an entry bar opens a
long position when flat, an exit bar closes it (entry wins when a bar is both), decisions at the
bar's close, filled per `--fill-at`. The signals must not depend on anything but "flat or long".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pandas as pd


class SignalBars(Protocol):
    """What a signal function may read of the bars (`ntrader.backtest.vector.VectorBars`)."""

    @property
    def frame(self) -> pd.DataFrame: ...  # the bar frame: open/high/low/close/volume, open-time index
    @property
    def close_c(self) -> np.ndarray: ...  # closes in integer cents, as Nautilus stores them
    @property
    def close_f(self) -> np.ndarray: ...  # closes as `bar.close.as_double()` gives them, bit for bit
    @property
    def n(self) -> int: ...


class SignalCache:
    """Indicators shared by every combination of a grid on one set of bars (computed once each)."""

    def __init__(self, bars: SignalBars) -> None:
        self.bars = bars
        self._cum = np.concatenate(([0], np.cumsum(bars.close_c)))
        self._cum_sq: np.ndarray | None = None
        self._sums: dict[int, np.ndarray] = {}
        self._rsi: dict[int, np.ndarray] = {}
        #: Free room for a user's signal function to keep its own indicators per grid.
        self.memo: dict[Any, Any] = {}

    def rolling_sum(self, period: int) -> np.ndarray:
        """Exact integer sum of the last `period` closes in cents (valid from index period - 1)."""
        if period not in self._sums:
            out = np.zeros(self.bars.n, dtype=np.int64)
            if period <= self.bars.n:
                out[period - 1 :] = self._cum[period:] - self._cum[:-period]
            self._sums[period] = out
        return self._sums[period]

    def rolling_sum_sq(self, period: int) -> np.ndarray:
        if self._cum_sq is None:
            # Exact while cents² × bars < 9.2e18: a $10 000 price over 90 000 bars, ample per window.
            self._cum_sq = np.concatenate(([0], np.cumsum(self.bars.close_c * self.bars.close_c)))
        out = np.zeros(self.bars.n, dtype=np.int64)
        if period <= self.bars.n:
            out[period - 1 :] = self._cum_sq[period:] - self._cum_sq[:-period]
        return out

    def rsi(self, period: int) -> np.ndarray:
        """Wilder's RSI of the closes (NaN while undefined), as `WilderRSI` computes it."""
        if period not in self._rsi:
            # numba loads with the first vectorized run, not whenever a strategy is imported.
            from ntrader.strategies.kernels import wilder_rsi

            self._rsi[period] = wilder_rsi(self.bars.close_f, period)
        return self._rsi[period]


#: (cache, typed params) → (entry bar indices, exit bar indices).
SignalFunction = Callable[[SignalCache, dict[str, Any]], tuple[np.ndarray, np.ndarray]]


def no_signal() -> np.ndarray:
    """An empty index array (no entries or no exits)."""
    return np.zeros(0, dtype=np.int64)


def vector_signals_of(strategy_class: type) -> SignalFunction | None:
    """The class's `vector_signals` (staticmethod or classmethod), or None."""
    function = getattr(strategy_class, "vector_signals", None)
    return function if callable(function) else None
