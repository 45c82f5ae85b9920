"""Backtest periods from CLI dates."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ntrader.data.period import parse_period
from ntrader.errors import InputError


def test_default_period_is_the_365_days_ending_yesterday():
    period = parse_period(None, None, today=date(2024, 3, 1))
    assert period.end == date(2024, 2, 29)
    assert period.start == date(2023, 3, 2)
    assert (period.end - period.start).days == 364


def test_end_is_inclusive_of_its_whole_day():
    period = parse_period("2024-01-01", "2024-01-31")
    assert period.start_ts == pd.Timestamp("2024-01-01", tz="UTC")
    assert period.end_ts == pd.Timestamp("2024-02-01", tz="UTC")
    assert str(period) == "2024-01-01 → 2024-01-31"


def test_only_start_or_only_end():
    assert parse_period("2024-01-01", None, today=date(2024, 2, 1)).end == date(2024, 1, 31)
    assert parse_period(None, "2024-12-31").start == date(2024, 1, 2)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2024/01/01", "2024-02-01", "start date '2024/01/01' is not a date"),
        ("2024-01-01", "tomorrow", "end date 'tomorrow' is not a date"),
        ("2024-02-01", "2024-01-01", "is after end date"),
    ],
)
def test_bad_dates(start, end, message):
    with pytest.raises(InputError, match=message):
        parse_period(start, end)
