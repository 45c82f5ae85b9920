"""Split and dividend adjustment: a 4:1 split and quarterly dividends, checked against a holder's account."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ntrader.data.adjust import adjust_bars, infer_events
from ntrader.data.check import check_bars
from ntrader.data.mock import generate_bars
from ntrader.errors import InputError

SPLIT_DAY = pd.Timestamp("2024-06-10", tz="UTC")
DIVIDEND_DAYS = pd.DatetimeIndex(["2024-02-09", "2024-05-10", "2024-08-09", "2024-11-08"], tz="UTC")


def raw_series() -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Mock daily bars as traded: a 4:1 split on 10 June (prices / 4, volume x 4 from then on) and a
    0.80 dividend a quarter before the split, 0.20 after it (the same payout per original share)."""
    bars = generate_bars("ADJ", "2024-01-01", "2024-12-31")
    after = bars.index >= SPLIT_DAY
    for name in ("open", "high", "low", "close"):
        bars.loc[after, name] = (bars.loc[after, name] / 4).round(2)
    bars.loc[after, "volume"] *= 4
    splits = pd.Series([4.0], index=pd.DatetimeIndex([SPLIT_DAY]).as_unit("ns"))  # bars are in ns
    dividends = pd.Series(np.where(DIVIDEND_DAYS < SPLIT_DAY, 0.80, 0.20), index=DIVIDEND_DAYS)
    return bars, splits, dividends


def test_splits_mode_makes_the_series_continuous_and_keeps_the_newest_bars():
    bars, splits, dividends = raw_series()
    adjusted = adjust_bars(bars, splits, dividends, "splits")
    before = bars.index < SPLIT_DAY
    np.testing.assert_allclose(adjusted.loc[before, "close"], bars.loc[before, "close"] / 4)
    np.testing.assert_allclose(adjusted.loc[before, "volume"], bars.loc[before, "volume"] * 4)
    pd.testing.assert_frame_equal(adjusted.loc[~before], bars.loc[~before])
    # data check sees the unadjusted split in the raw bars, and none once adjusted.
    assert {f.check: f.count for f in check_bars(bars, "1-DAY").findings}["splits"] == 1
    assert check_bars(adjusted, "1-DAY").clean
    pd.testing.assert_frame_equal(adjust_bars(bars, splits, dividends, "raw"), bars)


def test_total_return_pnl_of_any_holding_is_the_price_change_plus_the_cash_dividends():
    bars, splits, dividends = raw_series()
    adjusted = adjust_bars(bars, splits, dividends, "total-return")
    # A holder, simulated event by event on the raw bars: N shares held from bar a to bar b (N counted
    # in today's shares); the split multiplies the shares held, each dividend is paid in cash.
    close = bars["close"]
    for a, b in [(0, len(bars) - 1), (10, 120), (150, 200), (30, 31)]:
        later_splits = splits[splits.index > close.index[a]].prod()
        shares = start_shares = 100.0 / later_splits  # 100 of today's shares, as held at bar a
        cash = 0.0
        for day in close.index[a + 1 : b + 1]:
            shares *= splits.get(day, 1.0)
            cash += shares * dividends.get(day, 0.0)
        holder = shares * close.iloc[b] + cash - start_shares * close.iloc[a]
        adjusted_pnl = 100.0 * (adjusted["close"].iloc[b] - adjusted["close"].iloc[a])
        assert adjusted_pnl == pytest.approx(holder, abs=1e-9), (a, b)
    # Over each ex-date, the adjusted price change is the price change plus the dividend (today's basis).
    for day in dividends.index:
        i = bars.index.get_loc(day)
        basis = 4.0 if day < SPLIT_DAY else 1.0
        expected = (close.iloc[i] + dividends[day] - close.iloc[i - 1]) / basis
        assert adjusted["close"].iloc[i] - adjusted["close"].iloc[i - 1] == pytest.approx(expected, abs=1e-12)
    # The newest bars are as traded; high, low and open move with the close; volume is split-adjusted only.
    assert adjusted["close"].iloc[-1] == close.iloc[-1]
    shift = adjust_bars(bars, splits, dividends, "splits") - adjusted
    np.testing.assert_allclose(
        shift[["open", "high", "low"]].to_numpy(), np.repeat(shift[["close"]].to_numpy(), 3, axis=1)
    )
    assert (shift["volume"] == 0).all() and shift["close"].iloc[0] == pytest.approx(0.8 / 4 * 2 + 0.2 * 2)


def test_a_total_return_adjustment_that_would_reach_zero_is_refused():
    bars, _, _ = raw_series()
    big = pd.Series([2 * bars["close"].max()], index=bars.index[-1:])
    with pytest.raises(
        InputError, match=r"total-return: dividends after 20\d\d-\d\d-\d\d exceed the price then"
    ):
        adjust_bars(bars.iloc[: len(bars)], None, big, "total-return")


def vendor_adj_close(close: pd.Series, splits: pd.Series, dividends: pd.Series) -> pd.Series:
    """A vendor's adjusted close (multiplicative: prices before an ex-date times (1 - dividend / previous
    close), divided by later split ratios), computed event by event."""
    factor = pd.Series(1.0, index=close.index)
    for day in sorted({*splits.index, *dividends.index}, reverse=True):
        i = close.index.get_loc(day)
        step = (
            1.0
            / splits.get(day, 1.0)
            * (1 - dividends.get(day, 0.0) / close.iloc[i - 1] / splits.get(day, 1.0))
        )
        factor.iloc[:i] *= step
    return close * factor


def test_events_are_inferred_back_from_an_adjusted_close():
    bars, splits, dividends = raw_series()
    adj_close = vendor_adj_close(bars["close"], splits, dividends)
    found_splits, found_dividends = infer_events(bars["close"], adj_close)
    pd.testing.assert_series_equal(found_splits, splits, check_names=False, check_freq=False)
    np.testing.assert_allclose(found_dividends.to_numpy(), dividends.to_numpy(), rtol=1e-9)
    assert list(found_dividends.index) == list(dividends.index)


@pytest.mark.parametrize("decimals", [2, 4, 6])
def test_a_rounded_vendor_adj_close_gives_the_events_and_no_noise(decimals):
    bars, splits, dividends = raw_series()
    adj_close = vendor_adj_close(bars["close"], splits, dividends).round(decimals)
    found_splits, found_dividends = infer_events(bars["close"], adj_close)
    pd.testing.assert_series_equal(found_splits, splits, check_names=False, check_freq=False)
    assert list(found_dividends.index) == list(dividends.index)
    np.testing.assert_allclose(found_dividends.to_numpy(), dividends.to_numpy(), atol=0.02)


def test_bad_adjustments_are_one_clear_error():
    bars, splits, dividends = raw_series()
    with pytest.raises(InputError, match="adjustment must be one of raw, splits, total-return"):
        adjust_bars(bars, splits, dividends, "dividends")
    with pytest.raises(InputError, match="a split on 2024-06-08 falls on no bar"):
        adjust_bars(bars, pd.Series([2.0], index=pd.DatetimeIndex(["2024-06-08"], tz="UTC")))
    with pytest.raises(InputError, match="dividends must not be negative"):
        adjust_bars(bars, None, pd.Series([-1.0], index=DIVIDEND_DAYS[:1]), "total-return")
