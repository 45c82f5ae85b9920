"""Storage: tables, migrations, and the functions that read and write runs and bars."""

from ntrader.db.engine import dispose_engines, get_engine, session_scope, status, upgrade
from ntrader.db.models import BacktestRun, Base, EquityPoint, MarketData, Trade
from ntrader.db.sweeps import Sweep

__all__ = [
    "BacktestRun",
    "Base",
    "EquityPoint",
    "MarketData",
    "Sweep",
    "Trade",
    "dispose_engines",
    "get_engine",
    "session_scope",
    "status",
    "upgrade",
]
