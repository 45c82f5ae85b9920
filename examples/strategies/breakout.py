"""A user strategy: buy a breakout above the highest close of the last N bars, exit below the lowest."""

from collections import deque

from ntrader.strategies import SignalStrategy, SignalStrategyConfig


class BreakoutConfig(SignalStrategyConfig, frozen=True):
    """window: bars in the channel."""

    window: int = 20


class Breakout(SignalStrategy):
    """Long when the close breaks above the prior `window`-bar high; flat below the prior low."""

    def __init__(self, config: BreakoutConfig) -> None:
        super().__init__(config)
        self.closes: deque[float] = deque(maxlen=config.window)

    def on_signal_bar(self, bar):
        close = bar.close.as_double()
        if len(self.closes) == self.closes.maxlen:
            if self.is_flat and close > max(self.closes):
                self.go_long(bar)
            elif self.is_long and close < min(self.closes):
                self.go_flat()
        self.closes.append(close)
