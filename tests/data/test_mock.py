"""Mock bars: deterministic, sane, NYSE sessions and regular hours only, one set of minute bars."""

from __future__ import annotations

import datetime as dt

import numpy as np
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
    assert len(bars) == 250  # 260 weekdays less the NYSE's 10 holidays of 2023
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
    assert by_day["close"].last().tolist() == daily["close"].tolist()


# NYSE's published holidays (nyse.com, "Holidays and Trading Hours"), typed in by hand.
NYSE_HOLIDAYS_2023_24 = [
    "2023-01-02", "2023-01-16", "2023-02-20", "2023-04-07", "2023-05-29",
    "2023-06-19", "2023-07-04", "2023-09-04", "2023-11-23", "2023-12-25",
    "2024-01-01", "2024-01-15", "2024-02-19", "2024-03-29", "2024-05-27",
    "2024-06-19", "2024-07-04", "2024-09-02", "2024-11-28", "2024-12-25",
]  # fmt: skip
# Early closes at 13:00 New York in the same years.
NYSE_HALF_DAYS_2023_24 = ["2023-07-03", "2023-11-24", "2024-07-03", "2024-11-29", "2024-12-24"]


def session_dates(bars: pd.DataFrame) -> set[dt.date]:
    return set(bars.index.tz_convert("America/New_York").date)


def test_no_bars_on_nyse_holidays():
    daily = generate_bars("SPY", "2023-01-01", "2024-12-31")
    weekdays = {d.date() for d in pd.bdate_range("2023-01-01", "2024-12-31")}
    missing = sorted(weekdays - {d.date() for d in daily.index})
    assert [d.isoformat() for d in missing] == NYSE_HOLIDAYS_2023_24
    assert len(daily) == 502
    for size in ("1-DAY", "1-HOUR", "5-MINUTE", "1-MINUTE"):
        assert generate_bars("SPY", "2024-03-29", "2024-03-29", size).empty  # Good Friday
    minutes = generate_bars("SPY", "2024-03-25", "2024-04-05", "1-MINUTE")
    assert dt.date(2024, 3, 29) not in session_dates(minutes) and len(session_dates(minutes)) == 9


@pytest.mark.parametrize("day", NYSE_HALF_DAYS_2023_24)
def test_half_days_end_at_one_pm(day):
    expected_last = {"1-MINUTE": "12:59", "5-MINUTE": "12:55", "1-HOUR": "12:30"}
    counts = {"1-MINUTE": 210, "5-MINUTE": 42, "1-HOUR": 4}
    for size, last in expected_last.items():
        bars = generate_bars("AAPL", day, day, size)
        local = bars.index.tz_convert("America/New_York")
        assert local[0].strftime("%H:%M") == "09:30"
        assert local[-1].strftime("%H:%M") == last
        assert len(bars) == counts[size]
        assert_sane(bars)


def aggregate(frame: pd.DataFrame, key) -> pd.DataFrame:
    rules = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    return frame.groupby(key).agg(rules)


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT", "QQQ"])
def test_daily_and_intraday_bars_are_aggregates_of_the_minute_bars(symbol):
    # Four weeks around Independence Day: a half day (3 July), a holiday (4 July), a weekend.
    start, end = "2024-06-17", "2024-07-12"
    minutes = generate_bars(symbol, start, end, "1-MINUTE")
    assert_sane(minutes)
    local = minutes.index.tz_convert("America/New_York")
    daily = generate_bars(symbol, start, end)
    by_day = aggregate(minutes, local.date)
    assert by_day.index.tolist() == [d.date() for d in daily.index]
    np.testing.assert_array_equal(by_day.to_numpy(), daily.to_numpy())  # exactly, not approximately

    five = generate_bars(symbol, start, end, "5-MINUTE")
    by_five = aggregate(minutes, minutes.index.floor("5min"))
    assert by_five.index.equals(five.index)
    np.testing.assert_array_equal(by_five.to_numpy(), five.to_numpy())

    hourly = generate_bars(symbol, start, end, "1-HOUR")
    # Hourly bars start at the open: 09:30, 10:30, ..., so bucket minutes by hours since 09:30.
    since_open = (local.hour * 60 + local.minute - 570) // 60
    by_hour = aggregate(minutes, [local.date, since_open])
    np.testing.assert_array_equal(by_hour.to_numpy(), hourly.to_numpy())
    np.testing.assert_array_equal(aggregate(hourly, hourly.index.tz_convert("America/New_York").date), daily)


def test_daily_log_returns_are_fat_tailed_with_overnight_gaps():
    for symbol in ("AAPL", "MSFT", "SPY", "IBM"):
        bars = generate_bars(symbol, "2021-01-01", "2024-12-31")
        returns = np.log(bars["close"]).diff().dropna()
        # A normal's excess kurtosis is 0 with a standard error of sqrt(24 / n) ~ 0.15 here.
        assert returns.kurt() > 2.0
        assert 0.01 < returns.std() < 0.03  # a large stock's daily volatility
        gaps = (bars["open"] / bars["close"].shift() - 1).dropna()
        assert (gaps > 0.03).any() and (gaps < -0.03).any()
        assert gaps.abs().max() < 0.25


def test_same_symbol_and_seed_give_the_same_bars_whatever_the_range():
    a = generate_bars("AAPL", "2024-03-04", "2024-03-15", "1-MINUTE")
    b = generate_bars("AAPL", "2024-03-11", "2024-03-22", "1-MINUTE")
    pd.testing.assert_frame_equal(a.loc["2024-03-11":], b.loc[:"2024-03-15"])
    pd.testing.assert_frame_equal(a, generate_bars("AAPL", "2024-03-04", "2024-03-15", "1-MINUTE"))
    seeded = generate_bars("AAPL", "2024-03-04", "2024-03-15", "1-MINUTE", seed=7)
    pd.testing.assert_frame_equal(
        seeded, generate_bars("AAPL", "2024-03-04", "2024-03-15", "1-MINUTE", seed=7)
    )
    assert not seeded["close"].equals(a["close"])
    assert seeded.index.equals(a.index)


def test_volumes_dwarf_a_100k_accounts_orders():
    # Nautilus fills at most volume / 4 at each of a bar's O/H/L/C points: even the thinnest
    # minute must take a 95 000 USD order at one price, and a day many times that.
    for symbol in ("AAPL", "MSFT", "SPY"):
        minutes = generate_bars(symbol, "2024-01-01", "2024-12-31", "1-MINUTE")
        assert (minutes["volume"] / 4 * minutes["low"]).min() > 95_000
        daily = generate_bars(symbol, "2015-01-01", "2024-12-31")
        assert (daily["volume"] / 4 * daily["low"]).min() > 50_000_000
        assert (minutes["volume"] == minutes["volume"].round()).all()


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
