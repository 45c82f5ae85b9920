"""Small planning rules of a fetch: when an instrument trades, where a period really ends, and the
one open-ended request IB's continuous futures take."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from ntrader.data.bars import BarSize
from ntrader.data.calendar import TradingHours
from ntrader.errors import InputError
from ntrader.ibkr.report import Range, SymbolFetch
from ntrader.ibkr.sessions import Closures
from ntrader.ibkr.windows import WINDOW, WINDOW_STR, RequestWindow

__all__ = ["closures_for", "complete_end", "covered", "open_ended"]


def closures_for(entry: dict[str, Any], result: SymbolFetch) -> Closures:
    """When the instrument trades: its own hours (futures, forex) or, for stocks, the NYSE's."""
    hours = entry.get("hours")
    if hours:
        return Closures(hours=TradingHours.from_json(hours["liquid" if result.use_rth else "trading"]))
    return Closures.nyse(result.start, result.end)


def open_ended(windows: list[RequestWindow], result: SymbolFetch, size: BarSize) -> RequestWindow:
    """The one request IB's continuous future takes: no end date, so it reaches back from now."""
    now = complete_end(pd.Timestamp.now(tz="UTC"), size)
    window = RequestWindow(min(w.start for w in windows), now, open_end=True)
    limit = WINDOW[size.name]
    if window.span + pd.Timedelta(days=1) > limit:
        raise InputError(
            f"IB's continuous future takes no end date (IB error 10339), so one request reaches back "
            f"from today: at most {WINDOW_STR[size.name]} of {size.name} bars, i.e. from "
            f"{now - limit + pd.Timedelta(days=1):%Y-%m-%d}; choose a later --start, or a dated "
            "contract (--sec-type FUT --expiry YYYYMM)"
        )
    return window


def covered(window: RequestWindow, cached: Sequence[Range]) -> bool:
    return any(a <= window.start and window.end <= b for a, b in cached)


def complete_end(end: pd.Timestamp, size: BarSize, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """``end`` cut back to the last bar that has finished: IB's current bar is still changing.

    A window ending in the future would be answered with a partial bar that the manifest then
    marks as fetched for good.
    """
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    limit = now.floor("D") if size.is_daily else now.floor(f"{int(size.duration.total_seconds())}s")
    return min(end, limit)
