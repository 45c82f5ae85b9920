"""Old home of the fake IB Gateway, kept as a re-export: import from ``ntrader.ibkr.fake``."""

from __future__ import annotations

from ntrader.ibkr.fake import *  # noqa: F403
from ntrader.ibkr.fake import __all__ as __all__
from ntrader.ibkr.fake.bars import session_hours as _session_hours  # noqa: F401
