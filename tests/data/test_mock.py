"""Mock bars: deterministic, sane, trading days and regular hours only."""

from __future__ import annotations

import pandas as pd
import pytest

from ntrader.data import parse_bar_size
from ntrader.data.mock import generate_bars
from ntrader.errors import InputError


def assert_sane(bars: pd.DataFrame) -> None:
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert (bars["low"] > 0).all() and (bars["volume"] > 0).all()
    assert bars.index.is_monotonic_increasing and bars.index.is_unique
    assert str(bars.index.tz) == "UTC"


def test_daily_bars_are_deterministic_and_independent_of_the_range():
    a = generate_bars("AAPL", "2023-01-01", "2023-12-31")
    b = generate_bars("AAPL", "2023-06-01", "2024-06-30")
    pd.testing.assert_frame_equal(a.loc["2023-06-01":], b.loc[:"2023-12-31"])
    pd.testing.assert_frame_equal(a, generate_bars("AAPL", "2023-01-01", "2023-12-31"))
    assert not a["close"].equals(generate_bars("MSFT", "2023-01-01", "2023-12-31")["close"])


def test_daily_bars_are_sane_and_on_weekdays_only():
    bars = generate_bars("AAPL", "2023-01-01", "2023-12-31")
    assert_sane(bars)
    assert len(bars) == 260
    assert (bars.index.dayofweek < 5).all()
    assert (bars.index == bars.index.normalize()).all()


@pytest.mark.parametrize(("size", "per_day"), [("1-MINUTE", 390), ("5-MINUTE", 78), ("1-HOUR", 7)])
def test_intraday_bars_are_in_regular_trading_hours(size, per_day):
    bars = generate_bars("AAPL", "2024-03-04", "2024-03-08", size)
    assert_sane(bars)
    assert len(bars) == 5 * per_day
    local = bars.index.tz_convert("America/New_York")
    minutes = local.hour * 60 + local.minute
    assert minutes.min() == 9 * 60 + 30
    assert (minutes < 16 * 60).all()


def test_intraday_session_opens_and_closes_with_the_daily_bar():
    daily = generate_bars("AAPL", "2024-03-04", "2024-03-08")
    minutes = generate_bars("AAPL", "2024-03-04", "2024-03-08", "1-MINUTE")
    by_day = minutes.groupby(minutes.index.tz_convert("America/New_York").date)
    assert by_day["open"].first().tolist() == daily["open"].tolist()
    assert by_day["close"].last().tolist() == pytest.approx(daily["close"].tolist(), abs=0.011)


def test_weekend_and_reversed_ranges_are_empty():
    assert generate_bars("AAPL", "2023-01-07", "2023-01-08").empty
    assert generate_bars("AAPL", "2023-02-01", "2023-01-01").empty


def test_bar_size_names():
    assert parse_bar_size("daily").name == "1-DAY"
    assert parse_bar_size("1min").name == "1-MINUTE"
    assert parse_bar_size("5MIN").duration == pd.Timedelta(minutes=5)
    with pytest.raises(InputError, match="unknown bar size"):
        parse_bar_size("2-WEEK")


def test_daily_close_time_is_four_pm_new_york():
    size = parse_bar_size("1-DAY")
    index = pd.DatetimeIndex(["2024-01-02", "2024-07-01"], tz="UTC")
    assert list(size.close_times(index).strftime("%H:%M")) == ["21:00", "20:00"]
    assert list(size.open_times(index).strftime("%H:%M")) == ["14:30", "13:30"]
