"""SMA crossover: long when the fast average crosses above the slow one, flat when it crosses below."""

from __future__ import annotations

from nautilus_trader.indicators import SimpleMovingAverage
from nautilus_trader.model.data import Bar

from ntrader.strategies.base import SignalStrategy, SignalStrategyConfig


class SMACrossoverConfig(SignalStrategyConfig, frozen=True):
    """fast_period: bars in the fast SMA. slow_period: bars in the slow SMA (greater than fast)."""

    fast_period: int = 10
    slow_period: int = 20
    allow_short: bool = False

    def check_params(self) -> None:
        super().check_params()
        if self.fast_period < 1 or self.slow_period < 1:
            raise ValueError("fast_period and slow_period must be >= 1")
        if self.fast_period >= self.slow_period:
            raise ValueError(
                f"fast_period ({self.fast_period}) must be less than slow_period ({self.slow_period})"
            )


class SMACrossover(SignalStrategy):
    """Buy when fast SMA > slow SMA after being <= on the previous bar; exit on the opposite cross."""

    config: SMACrossoverConfig

    def setup(self) -> None:
        self.fast = SimpleMovingAverage(self.config.fast_period)
        self.slow = SimpleMovingAverage(self.config.slow_period)
        self.use_indicators(self.fast, self.slow)
        self._was_above: bool | None = None

    def on_signal_bar(self, bar: Bar) -> None:
        if not self.slow.initialized:
            return
        above = self.fast.value > self.slow.value
        crossed_up = above and self._was_above is False
        crossed_down = not above and self._was_above is True
        self._was_above = above
        if crossed_up:
            self.go_long(bar)
        elif crossed_down:
            if self.config.allow_short:
                self.go_short(bar)
            else:
                self.go_flat()
