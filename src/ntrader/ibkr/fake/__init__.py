"""A fake IB Gateway: the real TWS wire protocol, synthetic bars, scripted faults, IB's own limits.

It backs ``ntrader ibkr fake-gateway`` (try ntrader without an IB account) and the tests of the
IB client, which talk to it over TCP. Its pacing and duration limits (``limits``) are written
from IB's documentation, apart from the client's, so the client is checked against an
independent model.
"""

from __future__ import annotations

from ntrader.ibkr.fake.bars import (
    parse_bar_size,
    parse_end_datetime,
    session_hours,
    stock_info,
    synthetic_bars,
)
from ntrader.ibkr.fake.faults import ContractRecord, FaultPlan, HistoricalRecord, Market
from ntrader.ibkr.fake.limits import IB_PACING, PacingLimits
from ntrader.ibkr.fake.server import DEFAULT_ACCOUNT, DEFAULT_SYMBOLS, FakeGateway

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_SYMBOLS",
    "IB_PACING",
    "ContractRecord",
    "FakeGateway",
    "FaultPlan",
    "HistoricalRecord",
    "Market",
    "PacingLimits",
    "parse_bar_size",
    "parse_end_datetime",
    "session_hours",
    "stock_info",
    "synthetic_bars",
]
