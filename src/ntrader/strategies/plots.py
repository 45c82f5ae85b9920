"""What a strategy draws on the report's price chart: its indicators, declared by the strategy.

A strategy class declares `indicator_plots = staticmethod(function)`, `function(bars, params)`
returning `Indicator`s computed over the run's bars (a frame with open/high/low/close/volume): lines
on the price ("price") or on a panel of their own (any other name, e.g. "RSI", with reference
levels). User strategies declare theirs the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

PRICE = "price"


@dataclass(frozen=True)
class Indicator:
    name: str
    values: np.ndarray
    panel: str = PRICE
    #: Horizontal reference lines of a panel (e.g. RSI 30 and 70).
    levels: tuple[float, ...] = ()
    dash: str = "solid"


PlotFunction = Callable[[pd.DataFrame, Mapping[str, Any]], list[Indicator]]


def plots_of(strategy_class: type) -> PlotFunction | None:
    """The class's `indicator_plots`, or None."""
    function = getattr(strategy_class, "indicator_plots", None)
    return function if callable(function) else None


def _close(bars: pd.DataFrame) -> pd.Series:
    return bars["close"].astype("float64").reset_index(drop=True)


def sma_plots(bars: pd.DataFrame, params: Mapping[str, Any]) -> list[Indicator]:
    close = _close(bars)
    fast, slow = int(params["fast_period"]), int(params["slow_period"])
    return [
        Indicator(f"SMA({fast})", close.rolling(fast).mean().to_numpy()),
        Indicator(f"SMA({slow})", close.rolling(slow).mean().to_numpy()),
    ]


def bollinger_plots(bars: pd.DataFrame, params: Mapping[str, Any]) -> list[Indicator]:
    close = _close(bars)
    lookback, width = int(params["lookback"]), float(params["num_std"])
    mean = close.rolling(lookback).mean()
    sigma = close.rolling(lookback).std(ddof=0)  # population σ, as the strategy uses
    return [
        Indicator(f"SMA({lookback})", mean.to_numpy()),
        Indicator(f"Upper band ({width:g}σ)", (mean + width * sigma).to_numpy(), dash="dot"),
        Indicator(f"Lower band ({width:g}σ)", (mean - width * sigma).to_numpy(), dash="dot"),
    ]


def rsi_plots(bars: pd.DataFrame, params: Mapping[str, Any]) -> list[Indicator]:
    from ntrader.strategies.kernels import wilder_rsi  # numba: only when a report draws it

    period = int(params["rsi_period"])
    rsi = wilder_rsi(_close(bars).to_numpy(), period)
    levels = (float(params["oversold"]), float(params["overbought"]))
    return [Indicator(f"RSI({period})", np.asarray(rsi, dtype=float), panel="RSI", levels=levels)]
