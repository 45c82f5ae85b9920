"""The exchange sessions a fetch plans around: NYSE holidays and early closes, from ntrader.data.calendar.

Exchange holidays and early closes are not in the pacing-free contract details we get. Without
them every holiday would be reported as a gap (and its window fetched for nothing), and every
half day's afternoon too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import pandas as pd

from ntrader.data import calendar

__all__ = ["Closures", "us_equity_early_closes", "us_equity_holidays"]


def _ny_dates(start: pd.Timestamp, end: pd.Timestamp) -> tuple[dt.date, dt.date]:
    return (start - pd.Timedelta(days=1)).date(), (end + pd.Timedelta(days=1)).date()


def us_equity_holidays(start: pd.Timestamp, end: pd.Timestamp) -> frozenset[dt.date]:
    """New York dates in [start - 1 day, end + 1 day] on which US stock exchanges are closed all day."""
    return calendar.holidays(*_ny_dates(start, end))


def us_equity_early_closes(start: pd.Timestamp, end: pd.Timestamp) -> dict[dt.date, dt.time]:
    """New York dates in [start - 1 day, end + 1 day] on which the regular session closes early."""
    return calendar.early_closes(*_ny_dates(start, end))


@dataclass(frozen=True, eq=False)
class Closures:
    """New York dates the exchange is closed all day, and dates whose regular session ends early.

    ``hours``: the instrument's own trading hours (futures, forex) when they are not a US
    equity's; then they alone say when bars are expected, and the NYSE's dates do not apply.
    """

    holidays: Collection[dt.date] = frozenset()
    early_closes: Mapping[dt.date, dt.time] = field(default_factory=dict)
    hours: calendar.TradingHours | None = None

    @classmethod
    def nyse(cls, start: pd.Timestamp, end: pd.Timestamp) -> Closures:
        """The NYSE's closures around [start, end]."""
        return cls(us_equity_holidays(start, end), us_equity_early_closes(start, end))
