"""Tests of ntrader.metrics.returns against textbook numpy/pandas and empyrical-reloaded."""

from __future__ import annotations

import math

import empyrical
import numpy as np
import pandas as pd
import pytest

from ntrader.errors import InputError
from ntrader.metrics import (
    annualized_return,
    annualized_volatility,
    buy_and_hold_return,
    cagr,
    daily_equity,
    daily_returns,
    exposure_time,
    stop_at_ruin,
    total_return,
    validate_equity,
)
from ntrader.metrics import returns as returns_module

REL = 1e-9


def random_walk(index: pd.DatetimeIndex, seed: int, drift: float, vol: float) -> pd.Series:
    rng = np.random.default_rng(seed)
    steps = rng.normal(drift, vol, len(index))
    return pd.Series(100_000.0 * np.exp(np.cumsum(steps)), index=index, name="equity")


def rth_index(days: int, minutes: int, start: str = "2024-01-02") -> pd.DatetimeIndex:
    """Bars of a US regular session (14:30-21:00 UTC) on business days."""
    sessions = pd.bdate_range(start, periods=days, tz="UTC")
    offsets = pd.timedelta_range("14:30:00", "21:00:00", freq=f"{minutes}min")
    return pd.DatetimeIndex([day + offset for day in sessions for offset in offsets])


CURVES = {
    "daily_3y": random_walk(
        pd.bdate_range("2021-01-04 21:00", periods=756, tz="UTC", normalize=False), 1, 0.0004, 0.011
    ),
    "daily_drift_500": random_walk(
        pd.bdate_range("2022-03-01", periods=500, tz="UTC"),
        2,
        0.001,
        0.02,
    ),
    "intraday_5min_rth": random_walk(rth_index(60, 5), 3, 0.00002, 0.0012),
    "intraday_hourly_24x7": random_walk(
        pd.date_range("2024-02-01", periods=24 * 90, freq="h", tz="UTC"), 4, -0.00001, 0.004
    ),
}


def textbook_daily_returns(equity: pd.Series) -> pd.Series:
    # resample("D").last() drops into every calendar day; dropna keeps days with data only.
    daily = equity.resample("D").last().dropna()
    # The first day is measured from the starting capital: the curve's first point here.
    return pd.concat([equity.iloc[:1], daily]).pct_change().dropna()


def years(equity: pd.Series) -> float:
    return (equity.index[-1] - equity.index[0]) / pd.Timedelta(days=365.25)


@pytest.fixture(params=sorted(CURVES))
def curve(request: pytest.FixtureRequest) -> pd.Series:
    return CURVES[request.param]


def test_total_return_matches_textbook_and_empyrical(curve: pd.Series) -> None:
    expected = curve.iloc[-1] / curve.iloc[0] - 1
    assert total_return(curve) == pytest.approx(expected, rel=REL)
    bar_returns = curve.pct_change().dropna()
    assert total_return(curve) == pytest.approx(empyrical.cum_returns_final(bar_returns), rel=REL)


def test_cagr_matches_textbook_and_empyrical(curve: pd.Series) -> None:
    textbook = (curve.iloc[-1] / curve.iloc[0]) ** (1 / years(curve)) - 1
    assert cagr(curve) == pytest.approx(textbook, rel=REL)
    # empyrical.cagr counts years as len(returns) / annualization (252 periods a year); ours
    # counts 365.25-day years of wall-clock time. Passing annualization = n / our_years makes
    # empyrical's year count equal ours, so the two compound the same growth the same way.
    bar_returns = curve.pct_change().dropna()
    matched = empyrical.cagr(bar_returns, annualization=len(bar_returns) / years(curve))
    assert cagr(curve) == pytest.approx(matched, rel=REL)


def test_daily_returns_resample_intraday_to_last_value_per_day(curve: pd.Series) -> None:
    ours = daily_returns(curve)
    expected = textbook_daily_returns(curve)
    assert list(ours.index) == list(expected.index)
    np.testing.assert_allclose(ours.to_numpy(), expected.to_numpy(), rtol=REL)
    # One return per day with data: the first day's from the starting capital.
    assert len(daily_equity(curve)) == len(expected)


def test_annualized_return_is_mean_daily_return_times_252(curve: pd.Series) -> None:
    # empyrical has no arithmetic annualized mean (its annual_return is geometric), so the
    # second way here is the definition itself.
    expected = textbook_daily_returns(curve).mean() * 252
    assert annualized_return(curve, 252) == pytest.approx(expected, rel=REL)
    assert annualized_return(curve, 365) == pytest.approx(expected / 252 * 365, rel=REL)


def test_annualized_volatility_matches_textbook_and_empyrical(curve: pd.Series) -> None:
    returns = textbook_daily_returns(curve)
    ours = annualized_volatility(curve, 252)
    assert ours == pytest.approx(returns.std(ddof=1) * math.sqrt(252), rel=REL)
    assert ours == pytest.approx(empyrical.annual_volatility(returns), rel=REL)
    assert annualized_volatility(curve, 365) == pytest.approx(
        empyrical.annual_volatility(returns, annualization=365), rel=REL
    )


def test_intraday_curve_really_is_resampled() -> None:
    curve = CURVES["intraday_5min_rth"]
    bar_vol = curve.pct_change().dropna().std(ddof=1) * math.sqrt(252)
    assert len(daily_returns(curve)) == 60
    assert annualized_volatility(curve, 252) != pytest.approx(bar_vol, rel=0.01)


# --- edge cases -------------------------------------------------------------------------------


def test_single_point() -> None:
    one = pd.Series([1000.0], index=pd.DatetimeIndex(["2024-01-02"], tz="UTC"))
    assert total_return(one) == 0.0
    assert cagr(one) is None
    # One day, measured from the starting capital (the point itself): a return of zero.
    assert list(daily_returns(one)) == [0.0]
    assert annualized_return(one) == 0.0
    assert annualized_volatility(one) is None
    assert total_return(one, capital=800.0) == pytest.approx(0.25)
    assert list(daily_returns(one, capital=800.0)) == [pytest.approx(0.25)]


def test_two_points_same_day_give_one_daily_return_from_the_capital() -> None:
    index = pd.DatetimeIndex(["2024-01-02 15:00", "2024-01-02 16:00"], tz="UTC")
    equity = pd.Series([100.0, 110.0], index=index)
    assert total_return(equity) == pytest.approx(0.1)
    # Before, the only day had no return and its +10 % was dropped.
    assert list(daily_returns(equity)) == [pytest.approx(0.1)]
    assert annualized_return(equity) == pytest.approx(0.1 * 252, rel=REL)
    assert annualized_volatility(equity) is None
    # One hour of +10 % compounds beyond a float when annualized.
    assert cagr(equity) is None


def test_two_days_have_two_returns() -> None:
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-03"], tz="UTC")
    equity = pd.Series([100.0, 101.0], index=index)
    returns = np.array([0.0, 0.01])
    assert annualized_return(equity) == pytest.approx(returns.mean() * 252, rel=REL)
    assert annualized_volatility(equity) == pytest.approx(returns.std(ddof=1) * math.sqrt(252), rel=REL)


def test_cagr_shorter_than_a_year_extrapolates() -> None:
    index = pd.DatetimeIndex(["2024-01-01", "2024-04-01"], tz="UTC")
    equity = pd.Series([100.0, 105.0], index=index)
    span_years = 91 / 365.25
    assert cagr(equity) == pytest.approx(1.05 ** (1 / span_years) - 1, rel=REL)
    assert (cagr(equity) or 0.0) > total_return(equity)


def test_cagr_over_exactly_one_julian_year_equals_total_return() -> None:
    start = pd.Timestamp("2020-01-01", tz="UTC")
    index = pd.DatetimeIndex([start, start + pd.Timedelta(days=365.25)])
    equity = pd.Series([100.0, 120.0], index=index)
    assert cagr(equity) == pytest.approx(0.2, rel=REL)


def test_ruin_stops_the_curve_at_zero() -> None:
    index = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    equity = pd.Series([100.0, 50.0, 0.0, 10.0, 20.0, 40.0], index=index)
    cut, ruin = stop_at_ruin(equity)
    assert ruin == index[2]
    assert list(cut) == [100.0, 50.0, 0.0]
    assert total_return(equity) == -1.0
    assert cagr(equity) == -1.0
    assert list(daily_returns(equity)) == [0.0, -0.5, -1.0]


def test_negative_equity_counts_as_zero() -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    equity = pd.Series([100.0, 40.0, -25.0, 30.0], index=index)
    cut, ruin = stop_at_ruin(equity)
    assert ruin == index[2]
    assert cut.iloc[-1] == 0.0
    assert total_return(equity) == -1.0


def test_no_ruin_returns_the_curve_unchanged() -> None:
    curve = CURVES["daily_3y"]
    cut, ruin = stop_at_ruin(curve)
    assert ruin is None
    pd.testing.assert_series_equal(cut, curve)


@pytest.mark.parametrize(
    ("equity", "message"),
    [
        ([1.0, 2.0], "pandas Series"),
        (pd.Series([1.0, 2.0]), "DatetimeIndex"),
        (pd.Series([], index=pd.DatetimeIndex([], tz="UTC"), dtype=float), "empty"),
        (
            pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2024-01-02", "2024-01-01"])),
            "increasing",
        ),
        (
            pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2024-01-01", "2024-01-01"])),
            "increasing",
        ),
        (pd.Series([1.0, np.nan], index=pd.date_range("2024", periods=2)), "NaN"),
        (pd.Series([0.0, 1.0], index=pd.date_range("2024", periods=2)), "above zero"),
        (pd.Series(["a", "b"], index=pd.date_range("2024", periods=2)), "numbers"),
    ],
)
def test_validate_equity_rejects(equity: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        validate_equity(equity)  # type: ignore[arg-type]


def test_validate_equity_casts_to_float() -> None:
    equity = pd.Series([1, 2], index=pd.date_range("2024", periods=2, tz="UTC"))
    assert validate_equity(equity).dtype == np.float64


# --- buy and hold -----------------------------------------------------------------------------


def test_buy_and_hold_over_the_equity_period() -> None:
    index = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    closes = pd.Series([10.0, 11.0, 12.0, 9.0, 15.0], index=index)
    assert buy_and_hold_return(closes) == pytest.approx(0.5, rel=REL)
    assert buy_and_hold_return(closes, index[1], index[3]) == pytest.approx(9 / 11 - 1, rel=REL)
    assert buy_and_hold_return(closes, start=index[2]) == pytest.approx(15 / 12 - 1, rel=REL)


def test_buy_and_hold_matches_empyrical_on_random_closes(curve: pd.Series) -> None:
    closes = curve / 1000
    expected = empyrical.cum_returns_final(closes.pct_change().dropna())
    assert buy_and_hold_return(closes) == pytest.approx(expected, rel=REL)


def test_buy_and_hold_without_usable_closes() -> None:
    index = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")
    closes = pd.Series([np.nan, 0.0, 5.0], index=index)
    assert buy_and_hold_return(closes) is None
    assert buy_and_hold_return(closes, start=index[2] + pd.Timedelta(days=1)) is None
    with pytest.raises(InputError):
        buy_and_hold_return(pd.Series([1.0, 2.0]))


def test_buy_and_hold_skips_missing_closes_and_sorts() -> None:
    index = pd.DatetimeIndex(["2024-01-03", "2024-01-01", "2024-01-02"], tz="UTC")
    closes = pd.Series([20.0, 10.0, np.nan], index=index)
    assert buy_and_hold_return(closes) == pytest.approx(1.0)


def test_buy_and_hold_window_bounds_are_inclusive_in_any_zone() -> None:
    index = pd.date_range("2024-01-01", periods=6, freq="D", tz="America/New_York")
    closes = pd.Series([10.0, np.nan, 12.0, 9.0, 15.0, np.nan], index=index)
    start, end = index[2].tz_convert("UTC"), index[4].tz_convert("Asia/Tokyo")
    assert buy_and_hold_return(closes, start, end) == pytest.approx(15 / 12 - 1, rel=REL)
    assert buy_and_hold_return(closes, index[1], index[1]) is None  # one missing close only
    assert buy_and_hold_return(closes.iloc[::-1], end=index[3]) == pytest.approx(9 / 10 - 1, rel=REL)


@pytest.mark.parametrize("tz", ["UTC", "America/New_York"])
def test_day_ends_taken_a_slice_at_a_time_match_the_whole_index(tz: str) -> None:
    """Each day's last bar, found a few stamps at a time, across slice edges and a DST change."""
    index = pd.date_range("2024-03-08 20:00", "2024-03-12 03:00", freq="37min", tz=tz)
    days = index.normalize().asi8
    expected = np.flatnonzero(np.append(days[1:] != days[:-1], True))
    for step in (1, 2, 3, 5, 64, len(index), 10 * len(index)):
        np.testing.assert_array_equal(returns_module._day_ends(index, step=step), expected)
    assert returns_module._day_ends(index[:0]).size == 0


# --- exposure ---------------------------------------------------------------------------------


def make_trades(rows: list[tuple[object, object]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "entry_time": pd.to_datetime(pd.Series([entry for entry, _ in rows]), utc=True),
            "exit_time": pd.to_datetime(pd.Series([exit_ for _, exit_ in rows]), utc=True),
            "entry_price": 1.0,
            "exit_price": 1.0,
            "quantity": 1.0,
            "side": "LONG",
            "pnl": 0.0,
            "commission": 0.0,
        }
    )


def brute_force_exposure(index: pd.DatetimeIndex, trades: pd.DataFrame, at_open: bool = False) -> float:
    """Bar i counts when some trade holds a position at its close t_i.

    A close fill at t is in the position from the close at t on; a next-open fill at t (a bar's
    open, the previous bar's close for intraday bars) from the first close after t.
    """
    exposed = 0
    for t in index:
        for entry, exit_ in zip(trades["entry_time"], trades["exit_time"], strict=True):
            entered = entry < t if at_open else entry <= t
            not_left = pd.isna(exit_) or (exit_ >= t if at_open else exit_ > t)
            if entered and not_left:
                exposed += 1
                break
    return exposed / len(index)


def test_exposure_counts_bars_held_at_their_close() -> None:
    index = pd.date_range("2024-01-01", periods=10, freq="D", tz="UTC")
    trades = make_trades([(index[1], index[3]), (index[3], index[4]), (index[7], None)])
    # Held at closes 1, 2 (sold at 3's close), 3 (bought again at 3's close), and 7..9 (open).
    # The old rule counted every exit bar too: 0.7.
    assert exposure_time(index, trades) == pytest.approx(0.6)
    assert exposure_time(index, trades) == pytest.approx(brute_force_exposure(index, trades))


def test_exposure_of_a_trade_between_bar_timestamps() -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    trades = make_trades([("2024-01-02 10:00", "2024-01-02 11:00")])
    # In and out between two closes: no close saw the position.
    assert exposure_time(index, trades) == 0.0
    assert exposure_time(index, trades, fills_at_open=True) == 0.0


@pytest.mark.parametrize("at_open", [False, True])
def test_exposure_matches_brute_force_on_bar_fills(curve: pd.Series, at_open: bool) -> None:
    # Fills on bar timestamps, where the two fill modes differ by one bar.
    rng = np.random.default_rng(8)
    index = pd.DatetimeIndex(curve.index)
    rows: list[tuple[object, object]] = []
    for start in sorted(rng.choice(len(index) - 5, 20, replace=False).tolist()):
        stop = start + int(rng.integers(0, 5))
        rows.append((index[start], index[stop]))
    trades = make_trades(rows)
    expected = brute_force_exposure(index, trades, at_open)
    assert exposure_time(curve, trades, fills_at_open=at_open) == pytest.approx(expected)


def test_exposure_matches_brute_force_on_random_trades(curve: pd.Series) -> None:
    rng = np.random.default_rng(7)
    index = pd.DatetimeIndex(curve.index)
    span = (index[-1] - index[0]).total_seconds()
    rows: list[tuple[object, object]] = []
    for _ in range(25):
        entry = index[0] + pd.Timedelta(seconds=float(rng.uniform(-0.05, 1.0) * span))
        length = pd.Timedelta(seconds=float(rng.exponential(0.02) * span))
        rows.append((entry, None if rng.random() < 0.1 else entry + length))
    trades = make_trades(rows)
    assert exposure_time(curve, trades) == pytest.approx(brute_force_exposure(index, trades))


def test_exposure_from_positions_and_without_trades() -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    assert exposure_time(index, None) == 0.0
    assert exposure_time(index, make_trades([]).iloc[0:0]) == 0.0
    assert exposure_time(pd.DatetimeIndex([]), make_trades([(index[0], None)])) == 0.0
    booleans = pd.Series([True, False, True, True], index=index)
    assert exposure_time(index, positions=booleans) == pytest.approx(0.75)
    quantities = pd.Series([0.0, -5.0, np.nan, 2.0], index=index)
    assert exposure_time(index, positions=quantities) == pytest.approx(0.5)
    assert exposure_time(index, positions=pd.Series([], dtype=float)) == 0.0


def test_exposure_time_zones_are_aligned() -> None:
    trades = make_trades([("2024-01-02", "2024-01-03")])
    # Held at the Jan 2 close only (sold at the Jan 3 close).
    naive_bars = pd.date_range("2024-01-01", periods=4, freq="D")
    assert exposure_time(naive_bars, trades) == pytest.approx(0.25)
    utc_bars = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    new_york_bars = utc_bars.tz_convert("America/New_York")
    assert exposure_time(new_york_bars, trades) == pytest.approx(0.25)
    # Naive trade times are read as UTC.
    naive_trades = trades.assign(
        entry_time=trades["entry_time"].dt.tz_localize(None),
        exit_time=trades["exit_time"].dt.tz_localize(None),
    )
    assert exposure_time(new_york_bars, naive_trades) == pytest.approx(0.25)
