"""ntrader: backtest Nautilus strategies on mock, CSV or Interactive Brokers bars and keep every result.

The handful of functions a script or notebook needs, importable from here:

    import ntrader
    outcome = ntrader.run_backtest("sma", "AAPL", "2023-01-01", "2023-12-31")
    print(outcome.result, outcome.metrics.sharpe)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ntrader.backtest import run_backtest
    from ntrader.backtest.sweep import run_sweep
    from ntrader.data import load_bars, parse_period
    from ntrader.data.store import import_csv
    from ntrader.db.runs import get_run, list_runs
    from ntrader.ibkr.fetch import fetch_bars
    from ntrader.metrics import compute_metrics

# Imported on first use, so `ntrader --help` does not load Nautilus, pandas and the IB client.
_EXPORTS = {
    "run_backtest": "ntrader.backtest",
    "run_sweep": "ntrader.backtest.sweep",
    "load_bars": "ntrader.data",
    "parse_period": "ntrader.data",
    "import_csv": "ntrader.data.store",
    "get_run": "ntrader.db.runs",
    "list_runs": "ntrader.db.runs",
    "fetch_bars": "ntrader.ibkr.fetch",
    "compute_metrics": "ntrader.metrics",
}

__all__ = [
    "compute_metrics",
    "fetch_bars",
    "get_run",
    "import_csv",
    "list_runs",
    "load_bars",
    "parse_period",
    "run_backtest",
    "run_sweep",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ntrader' has no attribute {name!r}")
