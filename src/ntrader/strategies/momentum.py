"""RSI momentum: buy when Wilder's RSI turns up through oversold, sell when it fades below overbought."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import numpy as np
from msgspec import Meta
from nautilus_trader.model.data import Bar

from ntrader.strategies import plots
from ntrader.strategies.base import SignalStrategy, SignalStrategyConfig
from ntrader.strategies.signals import SignalCache


class WilderRSI:
    """Wilder's RSI: averages seeded by the simple mean of the first `period` changes, then 1/period."""

    def __init__(self, period: int) -> None:
        self.period = period
        self._prev_close: float | None = None
        self._changes = 0
        self._gain = 0.0
        self._loss = 0.0
        self.value: float | None = None

    def update(self, close: float) -> float | None:
        if self._prev_close is None:
            self._prev_close = close
            return None
        change = close - self._prev_close
        self._prev_close = close
        gain, loss = max(change, 0.0), max(-change, 0.0)
        self._changes += 1
        n = self.period
        if self._changes <= n:
            self._gain += gain / n
            self._loss += loss / n
            if self._changes < n:
                return None
        else:
            self._gain = (self._gain * (n - 1) + gain) / n
            self._loss = (self._loss * (n - 1) + loss) / n
        if self._loss == 0.0:
            self.value = 100.0 if self._gain > 0 else 50.0
        else:
            self.value = 100.0 - 100.0 / (1.0 + self._gain / self._loss)
        return self.value


class MomentumConfig(SignalStrategyConfig, frozen=True):
    """rsi_period: bars in Wilder's RSI. oversold/overbought: the RSI levels that trigger trades."""

    rsi_period: Annotated[int, Meta(ge=2)] = 14
    oversold: Annotated[float, Meta(gt=0)] = 30.0
    overbought: Annotated[float, Meta(lt=100)] = 70.0

    less_than: ClassVar[tuple[tuple[str, str], ...]] = (("oversold", "overbought"),)


def momentum_signals(cache: SignalCache, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Bars where Wilder's RSI turns up through `oversold` / down through `overbought` (`Momentum`)."""
    rsi = cache.rsi(int(params["rsi_period"]))
    oversold, overbought = float(params["oversold"]), float(params["overbought"])
    prev, value = rsi[:-1], rsi[1:]
    entry = (prev <= oversold) & (oversold < value)
    exit_ = (prev >= overbought) & (overbought > value)
    return np.flatnonzero(entry) + 1, np.flatnonzero(exit_) + 1


class Momentum(SignalStrategy):
    """Long when RSI crosses up through `oversold`; flat when RSI crosses down through `overbought`."""

    config: MomentumConfig
    vector_signals = staticmethod(momentum_signals)
    #: What the report draws on the price chart (`ntrader.strategies.plots`).
    indicator_plots = staticmethod(plots.rsi_plots)

    def setup(self) -> None:
        self.rsi = WilderRSI(self.config.rsi_period)
        self._previous: float | None = None

    def on_signal_bar(self, bar: Bar) -> None:
        value = self.rsi.update(bar.close.as_double())
        previous, self._previous = self._previous, value
        if value is None or previous is None:
            return
        if self.is_flat and previous <= self.config.oversold < value:
            self.go_long(bar)
        elif self.is_long and previous >= self.config.overbought > value:
            self.go_flat()
