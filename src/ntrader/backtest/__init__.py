"""Backtests: the Nautilus engine wrapper and the service that runs and saves them."""

from ntrader.backtest.engine import Fill, RunResult, run_engine
from ntrader.backtest.service import BacktestOutcome, run_backtest
from ntrader.backtest.sweep import SweepOutcome, run_sweep

__all__ = ["BacktestOutcome", "Fill", "RunResult", "SweepOutcome", "run_backtest", "run_engine", "run_sweep"]
