"""Backtest periods from the CLI's `YYYY-MM-DD` dates: start inclusive, end inclusive of its day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from ntrader.errors import InputError


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def start_ts(self) -> pd.Timestamp:
        return pd.Timestamp(self.start, tz="UTC")

    @property
    def end_ts(self) -> pd.Timestamp:
        """The first instant after the period (exclusive bound in UTC)."""
        return pd.Timestamp(self.end, tz="UTC") + pd.Timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.start.isoformat()} → {self.end.isoformat()}"


def parse_date(text: str | date, what: str) -> date:
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise InputError(f"{what} date {text!r} is not a date in YYYY-MM-DD form") from None


def parse_period(start: str | date | None, end: str | date | None, *, today: date | None = None) -> Period:
    """Dates from the user; without them, the 365 days ending yesterday."""
    today = today or date.today()
    end_date = parse_date(end, "end") if end is not None else today - timedelta(days=1)
    start_date = parse_date(start, "start") if start is not None else end_date - timedelta(days=364)
    if start_date > end_date:
        raise InputError(f"start date {start_date.isoformat()} is after end date {end_date.isoformat()}")
    return Period(start_date, end_date)
