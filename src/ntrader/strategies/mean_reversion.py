"""Bollinger mean reversion: buy a close below the lower band, sell when it returns to the mean."""

from __future__ import annotations

from collections import deque
from typing import Annotated, Any

import numpy as np
from msgspec import Meta
from nautilus_trader.model.data import Bar

from ntrader.strategies import plots
from ntrader.strategies.base import SignalStrategy, SignalStrategyConfig
from ntrader.strategies.signals import SignalCache, no_signal

# Relative gap under which the vectorized entry test is re-decided with the strategy's own float ops.
CLOSE_CALL = 1e-9


class MeanReversionConfig(SignalStrategyConfig, frozen=True):
    """lookback: closes in the band. num_std: band width in population standard deviations."""

    lookback: Annotated[int, Meta(ge=2)] = 20
    num_std: Annotated[float, Meta(gt=0)] = 2.0


def _numpy_band(close_f: np.ndarray, i: int, lookback: int, num_std: float) -> tuple[float, float]:
    window = close_f[i - lookback + 1 : i + 1]
    mean = float(window.mean())
    return mean, mean - num_std * float(window.std())


def mean_reversion_signals(cache: SignalCache, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Bars where the close is below the lower Bollinger band / back at the mean (`MeanReversion`).

    Decided in exact integers (sums of cents); a bar too close to call in floats is decided again
    with the very numpy operations `MeanReversion.on_signal_bar` performs.
    """
    lookback, num_std = int(params["lookback"]), float(params["num_std"])
    bars = cache.bars
    if lookback > bars.n:
        return no_signal(), no_signal()
    start = lookback - 1
    c = bars.close_c[start:]
    s = cache.rolling_sum(lookback)[start:]
    q = cache.rolling_sum_sq(lookback)[start:]
    # In units of cents × lookback: the distance below the mean and the band's half width.
    below = (s - lookback * c).astype("float64")
    width = num_std * np.sqrt(np.maximum(lookback * q - s * s, 0).astype("float64"))
    gap = below - width
    entry = gap > 0
    close_calls = np.flatnonzero(np.abs(gap) <= CLOSE_CALL * (np.abs(below) + width + 1.0))
    # close >= mean ⟺ lookback × close >= sum, exactly; only an exact equality needs the float mean.
    exit_ = lookback * c > s
    equal = np.flatnonzero(lookback * c == s)
    for k in np.union1d(close_calls, equal).tolist():
        mean, lower = _numpy_band(bars.close_f, k + start, lookback, num_std)
        close = bars.close_f[k + start]
        entry[k] = close < lower
        exit_[k] = close >= mean
    return np.flatnonzero(entry) + start, np.flatnonzero(exit_) + start


class MeanReversion(SignalStrategy):
    """Long when close < SMA − num_std·σ; flat when close >= SMA (σ: population, last `lookback`)."""

    config: MeanReversionConfig
    vector_signals = staticmethod(mean_reversion_signals)
    #: What the report draws on the price chart (`ntrader.strategies.plots`).
    indicator_plots = staticmethod(plots.bollinger_plots)

    def setup(self) -> None:
        self.closes: deque[float] = deque(maxlen=self.config.lookback)

    def on_signal_bar(self, bar: Bar) -> None:
        close = bar.close.as_double()
        self.closes.append(close)
        if len(self.closes) < self.config.lookback:
            return
        window = np.fromiter(self.closes, dtype="float64", count=self.config.lookback)
        mean = float(window.mean())
        lower = mean - self.config.num_std * float(window.std())
        if self.is_flat and close < lower:
            self.go_long(bar)
        elif self.is_long and close >= mean:
            self.go_flat()
