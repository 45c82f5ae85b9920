"""Backtests: the Nautilus engine wrapper and the service that runs and saves them.

The names below load on first use, so importing a light submodule (`ntrader.backtest.costs`,
`ntrader.backtest.request`) does not pull in Nautilus and the whole pipeline.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ntrader.backtest.engine import Fill as Fill
    from ntrader.backtest.engine import RunResult as RunResult
    from ntrader.backtest.engine import run_engine as run_engine
    from ntrader.backtest.service import BacktestOutcome as BacktestOutcome
    from ntrader.backtest.service import run_backtest as run_backtest
    from ntrader.backtest.sweep import SweepOutcome as SweepOutcome
    from ntrader.backtest.sweep import run_sweep as run_sweep

_EXPORTS = {
    "Fill": "ntrader.backtest.engine",
    "RunResult": "ntrader.backtest.engine",
    "run_engine": "ntrader.backtest.engine",
    "BacktestOutcome": "ntrader.backtest.service",
    "run_backtest": "ntrader.backtest.service",
    "SweepOutcome": "ntrader.backtest.sweep",
    "run_sweep": "ntrader.backtest.sweep",
}

__all__ = ["BacktestOutcome", "Fill", "RunResult", "SweepOutcome", "run_backtest", "run_engine", "run_sweep"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ntrader.backtest' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
