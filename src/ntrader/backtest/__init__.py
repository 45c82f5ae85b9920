"""Backtests: the Nautilus engine wrapper and the service that runs and saves them."""

from ntrader.backtest.engine import Fill, RunResult, run_engine
from ntrader.backtest.service import BacktestOutcome, run_backtest

__all__ = ["BacktestOutcome", "Fill", "RunResult", "run_backtest", "run_engine"]
