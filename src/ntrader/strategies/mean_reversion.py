"""Bollinger mean reversion: buy a close below the lower band, sell when it returns to the mean."""

from __future__ import annotations

from collections import deque

import numpy as np
from nautilus_trader.model.data import Bar

from ntrader.strategies.base import SignalStrategy, SignalStrategyConfig


class MeanReversionConfig(SignalStrategyConfig, frozen=True):
    """lookback: closes in the band. num_std: band width in population standard deviations."""

    lookback: int = 20
    num_std: float = 2.0

    def check_params(self) -> None:
        super().check_params()
        if self.lookback < 2:
            raise ValueError("lookback must be >= 2")
        if self.num_std <= 0:
            raise ValueError("num_std must be > 0")


class MeanReversion(SignalStrategy):
    """Long when close < SMA − num_std·σ; flat when close >= SMA (σ: population, last `lookback`)."""

    config: MeanReversionConfig

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
