"""Storage: tables, migrations, and the functions that read and write runs and bars."""

from ntrader.db.engine import dispose_engines, get_engine, session_scope, status, upgrade
from ntrader.db.models import BacktestRun, BarBlock, BarSeries, Base, EquityPoint, EquitySeries, Trade
from ntrader.db.sweeps import Sweep

__all__ = [
    "BacktestRun",
    "BarBlock",
    "BarSeries",
    "Base",
    "EquityPoint",
    "EquitySeries",
    "Sweep",
    "Trade",
    "dispose_engines",
    "get_engine",
    "session_scope",
    "status",
    "upgrade",
]
