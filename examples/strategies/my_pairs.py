"""A user portfolio strategy: trade the spread of a pair (KO/PEP style) on its z-score.

    ntrader backtest run --strategy examples/strategies/my_pairs.py:Pairs --symbol KO,PEP

The spread is log(first) − log(second) over the last `lookback` bars; z = (spread now − its mean)
/ its standard deviation (population). When z rises above `entry_z` the first symbol is rich: hold
the second long and the first short; below −`entry_z` the opposite; once |z| falls under `exit_z`
both legs go flat. Each leg is half the equity.

On a cash account (the default) no symbol can be sold short: the short leg is simply not held, so
the strategy is long the cheap leg or flat. `--param allow_short=true` gives the run a 1x margin
account and both legs are traded.
"""

import numpy as np

from ntrader.strategies.portfolio import PortfolioStrategy, PortfolioStrategyConfig


class PairsConfig(PortfolioStrategyConfig, frozen=True):
    """lookback: bars in the z-score. entry_z/exit_z: open above, close below. allow_short: margin."""

    lookback: int = 60
    entry_z: float = 2.0
    exit_z: float = 0.5
    allow_short: bool = False
    rebalance: str = "bar"  # decide on every bar


class Pairs(PortfolioStrategy):
    """Long the cheap leg and short the rich one when the spread's z-score leaves ±entry_z."""

    config: PairsConfig

    @classmethod
    def check_symbols(cls, config, symbols):
        if len(symbols) != 2:
            from ntrader.errors import InputError

            raise InputError(f"Pairs trades exactly two symbols (e.g. KO,PEP), got {len(symbols)}")

    def on_start(self):
        super().on_start()
        self.side = 0  # +1: long first / short second; -1: the opposite; 0: flat

    def target_weights(self, closes):
        first, second = self.symbols
        window = closes.iloc[-self.config.lookback :]
        if len(window) < self.config.lookback or window.isna().to_numpy().any():
            return None
        spread = np.log(window[first].to_numpy()) - np.log(window[second].to_numpy())
        std = spread.std()
        if std <= 0:
            return None
        z = (spread[-1] - spread.mean()) / std
        side = self.side
        if z > self.config.entry_z:
            side = -1
        elif z < -self.config.entry_z:
            side = 1
        elif abs(z) < self.config.exit_z:
            side = 0
        if side == self.side:
            return None  # nothing changed: keep the holdings (no daily trimming)
        self.side = side
        return {first: 0.5 * side, second: -0.5 * side}
