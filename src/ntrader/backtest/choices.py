"""The names a backtest's options choose from, defined once and importable without Nautilus or pandas
(so the CLI can declare its options cheaply); fills.py and costs.py use these same values."""

from __future__ import annotations

FILL_CLOSE = "close"
FILL_NEXT_OPEN = "next-open"
FILL_MODES = (FILL_CLOSE, FILL_NEXT_OPEN)
LIQUIDITY_BAR_VOLUME = "bar-volume"
LIQUIDITY_UNLIMITED = "unlimited"
LIQUIDITY_MODES = (LIQUIDITY_BAR_VOLUME, LIQUIDITY_UNLIMITED)
DEFAULT_LIQUIDITY = LIQUIDITY_BAR_VOLUME
DEFAULT_COMMISSION = "ibkr-fixed"
#: Where bars come from (ntrader.data.DATA_SOURCES; data never imports backtest, a test checks they match).
DATA_SOURCES = ("mock", "csv", "ibkr")
#: `--adjust`: split/dividend handling of the bars (ntrader.data.adjust.ADJUSTMENTS).
ADJUST_MODES = ("raw", "splits", "total-return")
DEFAULT_ADJUST = "splits"
#: What ranks a sweep's combinations (ntrader.backtest.sweep.SCREEN_METRICS).
SCREEN_METRICS = ("sharpe", "cagr", "calmar", "total_return")
#: Basket-mode allocations (ntrader.backtest.request.ALLOCATIONS).
ALLOCATIONS = ("equal", "inverse-vol")
#: `backtest sweep --engine` (ntrader.backtest.sweep.ENGINES).
ENGINES = ("vector", "nautilus")
#: The variable naming the default Ray cluster (ntrader.backtest.parallel.RAY_ADDRESS_ENV).
RAY_ADDRESS_ENV = "NTRADER_RAY_ADDRESS"

__all__ = [
    "ADJUST_MODES",
    "DATA_SOURCES",
    "DEFAULT_ADJUST",
    "DEFAULT_COMMISSION",
    "DEFAULT_LIQUIDITY",
    "ENGINES",
    "FILL_CLOSE",
    "FILL_MODES",
    "FILL_NEXT_OPEN",
    "LIQUIDITY_BAR_VOLUME",
    "LIQUIDITY_MODES",
    "LIQUIDITY_UNLIMITED",
    "RAY_ADDRESS_ENV",
    "SCREEN_METRICS",
]
