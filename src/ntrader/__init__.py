"""ntrader: backtest Nautilus strategies on mock, CSV or Interactive Brokers bars and keep every result.

Everything a script or notebook needs is importable from here (the names are listed once, in
`_EXPORTS`; `__all__` is derived from it):

    import ntrader
    outcome = ntrader.run_backtest("sma", "AAPL", "2023-01-01", "2023-12-31")
    outcome.metrics                      # prints as a table; a notebook shows it as HTML
    run = ntrader.get_run(outcome.run_id)
    run.trades(), run.equity()           # pandas DataFrame / Series read from the database
    ntrader.write_run_html(run.id)       # a self-contained HTML report
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ntrader.lazy import lazy_exports

if TYPE_CHECKING:  # the same names as _EXPORTS (a test checks), for type checkers and IDEs
    from ntrader.backtest.engine import RunResult as RunResult
    from ntrader.backtest.request import BacktestRequest as BacktestRequest
    from ntrader.backtest.service import BacktestOutcome as BacktestOutcome
    from ntrader.backtest.service import run_backtest as run_backtest
    from ntrader.backtest.sweep import SweepOutcome as SweepOutcome
    from ntrader.backtest.sweep import run_sweep as run_sweep
    from ntrader.backtest.walkforward import Fold as Fold
    from ntrader.backtest.walkforward import WalkForwardOutcome as WalkForwardOutcome
    from ntrader.backtest.walkforward import walk_forward as walk_forward
    from ntrader.data import load_bars as load_bars
    from ntrader.data import parse_period as parse_period
    from ntrader.data.store import import_csv as import_csv
    from ntrader.db.runs import RunRecord as RunRecord
    from ntrader.db.runs import delete_runs as delete_runs
    from ntrader.db.runs import get_run as get_run
    from ntrader.db.runs import list_runs as list_runs
    from ntrader.db.sweeps import SweepRecord as SweepRecord
    from ntrader.db.sweeps import get_sweep as get_sweep
    from ntrader.db.sweeps import list_sweeps as list_sweeps
    from ntrader.errors import ConnectionFailure as ConnectionFailure
    from ntrader.errors import DatabaseUnavailable as DatabaseUnavailable
    from ntrader.errors import DataGapError as DataGapError
    from ntrader.errors import GatewayUnavailable as GatewayUnavailable
    from ntrader.errors import InputError as InputError
    from ntrader.errors import NotFoundError as NotFoundError
    from ntrader.errors import NtraderError as NtraderError
    from ntrader.errors import PacingError as PacingError
    from ntrader.errors import RunHalted as RunHalted
    from ntrader.ibkr.fetch import fetch_bars as fetch_bars
    from ntrader.metrics import Metrics as Metrics
    from ntrader.metrics import compute_metrics as compute_metrics
    from ntrader.reports.export import write_run_html as write_run_html
    from ntrader.strategies.base import SignalStrategy as SignalStrategy
    from ntrader.strategies.base import SignalStrategyConfig as SignalStrategyConfig

# name -> module. Imported on first use, so `import ntrader` (and `ntrader --help`) stays cheap:
# no Nautilus, pandas or IB client until a name that needs them is touched.
_EXPORTS = {
    # Running
    "BacktestRequest": "ntrader.backtest.request",
    "run_backtest": "ntrader.backtest.service",
    "run_sweep": "ntrader.backtest.sweep",
    "walk_forward": "ntrader.backtest.walkforward",
    # Results
    "BacktestOutcome": "ntrader.backtest.service",
    "RunResult": "ntrader.backtest.engine",
    "SweepOutcome": "ntrader.backtest.sweep",
    "WalkForwardOutcome": "ntrader.backtest.walkforward",
    "Fold": "ntrader.backtest.walkforward",
    "Metrics": "ntrader.metrics",
    "compute_metrics": "ntrader.metrics",
    # Saved runs and sweeps
    "RunRecord": "ntrader.db.runs",
    "get_run": "ntrader.db.runs",
    "list_runs": "ntrader.db.runs",
    "delete_runs": "ntrader.db.runs",
    "SweepRecord": "ntrader.db.sweeps",
    "get_sweep": "ntrader.db.sweeps",
    "list_sweeps": "ntrader.db.sweeps",
    "write_run_html": "ntrader.reports.export",
    # Bars
    "load_bars": "ntrader.data",
    "parse_period": "ntrader.data",
    "import_csv": "ntrader.data.store",
    "fetch_bars": "ntrader.ibkr.fetch",
    # Your own strategy
    "SignalStrategy": "ntrader.strategies.base",
    "SignalStrategyConfig": "ntrader.strategies.base",
    # Errors
    "NtraderError": "ntrader.errors",
    "InputError": "ntrader.errors",
    "NotFoundError": "ntrader.errors",
    "ConnectionFailure": "ntrader.errors",
    "DatabaseUnavailable": "ntrader.errors",
    "GatewayUnavailable": "ntrader.errors",
    "PacingError": "ntrader.errors",
    "DataGapError": "ntrader.errors",
    "RunHalted": "ntrader.errors",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
