"""RSI momentum: buy when Wilder's RSI turns up through oversold, sell when it fades below overbought."""

from __future__ import annotations

from nautilus_trader.model.data import Bar

from ntrader.strategies.base import SignalStrategy, SignalStrategyConfig


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

    rsi_period: int = 14
    oversold: float = 30.0
    overbought: float = 70.0

    def check_params(self) -> None:
        super().check_params()
        if self.rsi_period < 2:
            raise ValueError("rsi_period must be >= 2")
        if not 0 < self.oversold < self.overbought < 100:
            raise ValueError(
                f"need 0 < oversold ({self.oversold:g}) < overbought ({self.overbought:g}) < 100"
            )


class Momentum(SignalStrategy):
    """Long when RSI crosses up through `oversold`; flat when RSI crosses down through `overbought`."""

    config: MomentumConfig

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
