"""SMA crossover: long when the fast average crosses above the slow one, flat when it crosses below."""

from __future__ import annotations

from collections import deque
from typing import Annotated, Any, ClassVar

import numpy as np
from msgspec import Meta
from nautilus_trader.model.data import Bar

from ntrader.errors import InputError
from ntrader.strategies import plots
from ntrader.strategies.base import SignalStrategy, SignalStrategyConfig
from ntrader.strategies.signals import SignalCache, no_signal


class SMACrossoverConfig(SignalStrategyConfig, frozen=True):
    """fast_period: bars in the fast SMA. slow_period: bars in the slow SMA (greater than fast)."""

    fast_period: Annotated[int, Meta(ge=1)] = 10
    slow_period: Annotated[int, Meta(ge=1)] = 20
    allow_short: bool = False

    less_than: ClassVar[tuple[tuple[str, str], ...]] = (("fast_period", "slow_period"),)


def sma_signals(cache: SignalCache, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Bars where SMA(fast) crosses above / below SMA(slow), as `SMACrossover` decides them."""
    if params.get("allow_short"):
        raise InputError("the vector engine is long-only: sweep allow_short=true with --engine nautilus")
    fast, slow = int(params["fast_period"]), int(params["slow_period"])
    if slow >= cache.bars.n:
        return no_signal(), no_signal()
    from ntrader.strategies.kernels import sma_crosses

    return sma_crosses(cache.rolling_sum(fast), cache.rolling_sum(slow), fast, slow)  # type: ignore[no-any-return]


class SMACrossover(SignalStrategy):
    """Buy when SMA(fast) > SMA(slow) after being <= on the previous bar; exit on the opposite cross.

    The averages are compared exactly: sums of closes in the instrument's price ticks (integers),
    fast above slow ⟺ sum_fast × slow > sum_slow × fast. An exact tie is a tie ("not above"), never
    decided by floating-point rounding (at 10/20 on a cent grid, ties are 4–8 % of crossings).
    """

    config: SMACrossoverConfig
    vector_signals = staticmethod(sma_signals)
    #: What the report draws on the price chart (`ntrader.strategies.plots`).
    indicator_plots = staticmethod(plots.sma_plots)

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
