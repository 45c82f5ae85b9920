"""SMA crossover: long when the fast average crosses above the slow one, flat when it crosses below."""

from __future__ import annotations

from collections import deque

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
    """Buy when SMA(fast) > SMA(slow) after being <= on the previous bar; exit on the opposite cross.

    The averages are compared exactly: sums of closes in the instrument's price ticks (integers),
    fast above slow ⟺ sum_fast × slow > sum_slow × fast. An exact tie is a tie ("not above"), never
    decided by floating-point rounding (at 10/20 on a cent grid, ties are 4–8 % of crossings).
    """

    config: SMACrossoverConfig

    def setup(self) -> None:
        self._closes: deque[int] = deque(maxlen=self.config.slow_period)
        self._sum_fast = 0
        self._sum_slow = 0
        self._was_above: bool | None = None

    def _push(self, close: int) -> None:
        fast, slow = self.config.fast_period, self.config.slow_period
        if len(self._closes) >= fast:
            self._sum_fast -= self._closes[-fast]
        if len(self._closes) == slow:
            self._sum_slow -= self._closes[0]
        self._closes.append(close)
        self._sum_fast += close
        self._sum_slow += close

    def on_signal_bar(self, bar: Bar) -> None:
        # Price.raw is the fixed-point integer behind the price: exact sums, no rounding.
        self._push(bar.close.raw)
        if len(self._closes) < self.config.slow_period:
            return
        above = self._sum_fast * self.config.slow_period > self._sum_slow * self.config.fast_period
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
