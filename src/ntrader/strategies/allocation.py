"""The built-in portfolio strategies: `rotation` (momentum ranking) and `rebalance` (fixed weights)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
from msgspec import Meta

from ntrader.strategies.portfolio import PortfolioStrategy, PortfolioStrategyConfig, parse_weights


def rotation_holdings(closes: pd.DataFrame, lookback: int, top: int) -> list[str]:
    """The `top` symbols by return over the last `lookback` bars of `closes` (ties: symbol order);
    a symbol without a close `lookback` bars back is not ranked."""
    if len(closes) <= lookback:
        return []
    trailing = closes.iloc[-1] / closes.iloc[-1 - lookback] - 1.0
    ranked = trailing.dropna()
    order = np.argsort(-ranked.to_numpy(), kind="stable")
    return [str(ranked.index[i]) for i in order[:top]]


class RotationConfig(PortfolioStrategyConfig, frozen=True):
    """top: symbols held. lookback: bars of trailing return they are ranked by."""

    top: Annotated[int, Meta(ge=1)] = 1
    lookback: Annotated[int, Meta(ge=1)] = 126


class Rotation(PortfolioStrategy):
    """Every `rebalance` period: hold the `top` symbols by trailing return, equally weighted."""

    config: RotationConfig

    def target_weights(self, closes: pd.DataFrame) -> dict[str, float] | None:
        held = rotation_holdings(closes, self.config.lookback, self.config.top)
        if not held:
            return None  # nothing can be ranked yet: stay as is (cash at the start)
        return dict.fromkeys(held, 1.0 / len(held))


class RebalanceConfig(PortfolioStrategyConfig, frozen=True):
    """weights: SYMBOL:WEIGHT,... (sum <= 1, the rest cash). band: rebalance too when any weight
    drifts more than this from its target (0: calendar only)."""

    weights: str = ""
    band: Annotated[float, Meta(ge=0, le=1)] = 0.0
    rebalance: str = "quarterly"

    def check_params(self) -> None:
        super().check_params()
        if not self.weights:
            raise ValueError("weights are required, e.g. weights=SPY:0.6,TLT:0.4")
        parse_weights(self.weights)


class Rebalance(PortfolioStrategy):
    """Hold fixed target weights; rebalance on the calendar and when the drift exceeds `band`."""

    config: RebalanceConfig

    @classmethod
    def check_symbols(cls, config: PortfolioStrategyConfig, symbols: tuple[str, ...]) -> None:
        assert isinstance(config, RebalanceConfig)
        missing = sorted(set(parse_weights(config.weights)) - set(symbols))
        if missing:
            from ntrader.errors import InputError

            raise InputError(f"weights name symbols that are not in --symbol: {', '.join(missing)}")

    def on_start(self) -> None:
        super().on_start()
        self._targets = parse_weights(self.config.weights)

    def rebalance_due(self, row: int) -> bool:
        if super().rebalance_due(row):
            return True
        if self.config.band <= 0:
            return False
        now = self.current_weights()
        return any(abs(now[s] - self._targets.get(s, 0.0)) > self.config.band for s in self.symbols)

    def target_weights(self, closes: pd.DataFrame) -> dict[str, float] | None:
        return dict(self._targets)


__all__ = ["Rebalance", "RebalanceConfig", "Rotation", "RotationConfig", "rotation_holdings"]
