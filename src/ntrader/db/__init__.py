"""Storage: tables, migrations, and the functions that read and write runs and bars."""

from ntrader.db.engine import dispose_engines, get_engine, session_scope, status, upgrade
from ntrader.db.models import BacktestRun, Base, EquityPoint, MarketData, Trade

__all__ = [
    "BacktestRun",
    "Base",
    "EquityPoint",
    "MarketData",
    "Trade",
    "dispose_engines",
    "get_engine",
    "session_scope",
    "status",
    "upgrade",
]
