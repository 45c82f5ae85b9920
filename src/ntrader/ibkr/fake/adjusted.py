"""The fake gateway's ADJUSTED_LAST bars: TRADES (already split-adjusted, as IB serves them) with
every bar before a dividend's ex-date scaled by ``1 - dividend / previous close``, as IB does.

IB takes ADJUSTED_LAST only with an empty end date and only for daily bars; the fake refuses the
rest with an invalid-request error (its wording; IB's own text is not reproduced here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["ADJUSTED_DAILY_ONLY_TEXT", "ADJUSTED_END_DATE_TEXT", "dividend_adjusted", "refusal"]

ADJUSTED_END_DATE_TEXT = "Error validating request.-'bP' : cause - ADJUSTED_LAST takes an empty endDateTime"
ADJUSTED_DAILY_ONLY_TEXT = "Error validating request.-'bP' : cause - ADJUSTED_LAST is for daily bars only"
_PRICES = ("open", "high", "low", "close")


def refusal(end: str, bar_seconds: int) -> str | None:
    """Why IB refuses this ADJUSTED_LAST request (None: it does not)."""
    if end.strip():
        return ADJUSTED_END_DATE_TEXT
    if bar_seconds != 86_400:
        return ADJUSTED_DAILY_ONLY_TEXT
    return None


def dividend_adjusted(frame: pd.DataFrame, dividends: Sequence[tuple[dt.date, float]]) -> pd.DataFrame:
    """``frame`` (daily bars, UTC midnight stamps) adjusted for the cash ``dividends`` (ex-date, per share).

    The bar before each ex-date must be in ``frame`` for its dividend to count (the caller widens).
    """
    if frame.empty or not dividends:
        return frame
    index = pd.DatetimeIndex(frame.index)
    close = frame["close"].to_numpy(dtype="float64")
    factor = np.ones(len(frame))
    for ex_date, cash in dividends:
        at = int(index.searchsorted(pd.Timestamp(ex_date, tz="UTC")))
        if 0 < at < len(frame):  # an ex-date after the last bar changes nothing yet
            factor[:at] *= 1 - cash / close[at - 1]
    return frame.assign(**{c: frame[c].to_numpy() * factor for c in _PRICES})
