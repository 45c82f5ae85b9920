"""The conventions of issue 11 §4, each first reproduced on the old behaviour, then pinned down.

Every expected figure here is computed independently in the test (pandas/numpy textbook
formulas, empyrical, or an explicit per-bar position walk), never by ntrader's own functions.
"""

from __future__ import annotations

import math

import empyrical
import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest

from ntrader.metrics import compute_metrics, sqn, trade_stats, win_rate
from ntrader.metrics.summary import SHORT_MARK

REL = 1e-9


def trades_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    base = {"side": "LONG", "quantity": 1.0, "entry_price": 1.0, "exit_price": 1.0, "commission": 0.0}
    return pd.DataFrame([{**base, **row} for row in rows])


# --- drawdown durations: the deepest drawdown's and the longest drawdown's --------------------


def textbook_drawdowns(equity: pd.Series) -> list[tuple[float, float]]:
    """(depth, duration in days) per drawdown: peak bar to recovery bar, or to the last bar."""
    peak = equity.cummax()
    under = equity < peak
    out = []
    i, times, n = 0, equity.index, len(equity)
    while i < n:
        if not under.iloc[i]:
            i += 1
            continue
        start = i
        while i < n and under.iloc[i]:
            i += 1
        end = times[i] if i < n else times[-1]
        depth = float((equity.iloc[start:i] / peak.iloc[start:i] - 1).min())
        out.append((depth, (end - times[start - 1]) / pd.Timedelta(days=1)))
    return out


def test_deepest_and_longest_drawdown_durations_are_reported_apart():
    # A sharp -30 % drawdown recovered in 3 days, then a shallow -5 % one lasting 10 days.
    values = [100, 70, 90, 101, 100, 99, 98, 97, 96, 97, 98, 99, 100, 100.5, 102]
    index = pd.date_range("2024-01-01", periods=len(values), freq="D", tz="UTC")
    equity = pd.Series(values, index=index, dtype="float64")
    periods = textbook_drawdowns(equity)
    deepest = min(periods, key=lambda p: p[0])
    longest = max(p[1] for p in periods)
    assert (deepest[1], longest) == (3.0, 11.0)

    m = compute_metrics(equity, None)
    # Before: "max drawdown duration" was the longest drawdown's (11 days) beside the deepest
    # drawdown's depth, peak and trough: two different drawdowns in one line.
    assert m.max_drawdown == pytest.approx(deepest[0], rel=REL)
    assert m.max_drawdown_duration_days == pytest.approx(deepest[1])
    assert m.longest_drawdown_duration_days == pytest.approx(longest)
    risk = dict(m.groups()["Risk"])
    assert risk["Deepest drawdown duration"] == "3.0 days"
    assert risk["Longest drawdown duration"] == "11.0 days"
    assert "Max drawdown duration" not in risk


# --- daily returns: the first day from the starting capital -----------------------------------


def intraday_curve() -> pd.Series:
    """Hourly equity on 30 weekdays, with a +2 % move on the first day after its first bar."""
    days = pd.bdate_range("2024-03-04", periods=30, tz="UTC")
    hours = pd.timedelta_range("14:00:00", "20:00:00", freq="h")
    index = pd.DatetimeIndex([d + h for d in days for h in hours])
    rng = np.random.default_rng(11)
    steps = rng.normal(0.0002, 0.003, len(index))
    steps[0] = 0.0
    steps[1:7] += 0.02 / 6
    return pd.Series(100_000.0 * np.exp(np.cumsum(steps)), index=index, name="equity")


def test_first_day_return_is_measured_from_the_starting_capital():
    equity = intraday_curve()
    capital = 100_000.0
    daily = equity.resample("D").last().dropna()
    textbook = pd.concat([pd.Series([capital]), pd.Series(daily.to_numpy())]).pct_change().dropna()
    assert len(textbook) == 30 and textbook.iloc[0] > 0.019  # the first day's +2 % is a return

    m = compute_metrics(equity, None, capital=capital)
    factor = m.conventions.annualization_factor
    assert factor == 252  # 30 weekdays: too short to measure, a weekday calendar
    # Before: the first day was dropped (29 returns), so its +2 % never reached the Sharpe ratio.
    assert m.sharpe == pytest.approx(empyrical.sharpe_ratio(textbook, annualization=factor), rel=REL)
    assert m.sortino == pytest.approx(empyrical.sortino_ratio(textbook, annualization=factor), rel=REL)
    assert m.annualized_volatility == pytest.approx(textbook.std(ddof=1) * math.sqrt(factor), rel=REL)
    assert m.annualized_return == pytest.approx(textbook.mean() * factor, rel=REL)
    assert m.conventions.first_day_return == "from the starting capital"


def test_total_return_and_cagr_are_measured_from_the_capital():
    # A commission paid on the first bar leaves the first point below the capital.
    index = pd.bdate_range("2022-01-03", periods=600, tz="UTC")
    equity = pd.Series(np.linspace(99_990.0, 130_000.0, len(index)), index=index)
    m = compute_metrics(equity, None, capital=100_000.0)
    years = (index[-1] - index[0]) / pd.Timedelta(days=365.25)
    assert m.total_return == pytest.approx(130_000.0 / 100_000.0 - 1, rel=REL)
    assert m.cagr == pytest.approx((130_000.0 / 100_000.0) ** (1 / years) - 1, rel=REL)


# --- annualization: the data's own calendar ---------------------------------------------------


def nyse_closes(start: str, end: str) -> pd.DatetimeIndex:
    sessions = xcals.get_calendar("XNYS").sessions_in_range(start, end)
    return pd.DatetimeIndex(sessions).tz_localize("UTC") + pd.Timedelta(hours=21)


def walk(index: pd.DatetimeIndex, seed: int = 5) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(100_000.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, len(index)))), index=index)


@pytest.mark.parametrize(
    ("index", "sessions", "factor"),
    [
        # A year of NYSE sessions (250 in 2023, 252 in 2024) annualizes with 252.
        (nyse_closes("2023-01-01", "2023-12-31"), 250, 252),
        (nyse_closes("2024-01-01", "2024-12-31"), 252, 252),
        (nyse_closes("2020-01-01", "2023-12-31"), 1006, 252),
        # Data on every day of the week (crypto): 365.
        (pd.date_range("2023-01-01 23:00", "2024-06-30 23:00", freq="D", tz="UTC"), 547, 365),
        # Weekdays without holidays: 261 (what a calendar-less mock gives, and it says so).
        (pd.bdate_range("2023-01-02 21:00", "2023-12-29 21:00", tz="UTC"), 260, 261),
    ],
)
def test_annualization_is_measured_from_the_bars(index, sessions, factor):
    assert len(index) == sessions
    equity = walk(index)
    m = compute_metrics(equity, None)
    c = m.conventions
    assert (c.annualization_factor, c.annualization_basis, c.days_with_data) == (factor, "measured", sessions)
    returns = pd.concat([pd.Series([equity.iloc[0]]), pd.Series(equity.to_numpy())]).pct_change().dropna()
    assert m.sharpe == pytest.approx(empyrical.sharpe_ratio(returns, annualization=factor), rel=REL)
    assert f"√{factor} (measured from the bars" in c.annualization_text()
    assert m.short_period is False


def test_short_runs_fall_back_to_the_weekday_or_seven_day_calendar():
    weekdays = compute_metrics(walk(pd.bdate_range("2024-01-02", periods=40, tz="UTC")), None)
    assert (weekdays.conventions.annualization_factor, weekdays.conventions.annualization_basis) == (
        252,
        "short run: weekday calendar",
    )
    every_day = compute_metrics(walk(pd.date_range("2024-01-02", periods=40, freq="D", tz="UTC")), None)
    assert every_day.conventions.annualization_factor == 365
    assert every_day.conventions.annualization_basis == "short run: 7-day calendar"
    assert every_day.conventions.annualization_text(brief=True) == "√365 (short run: 7-day calendar)"
    assert every_day.conventions.annualization_text() == "√365 (short run: 7-day calendar; 40 days with data)"
    # Minute bars over two weeks of a weekday market: still a weekday calendar, counted by day.
    minutes = pd.DatetimeIndex(
        [
            d + pd.Timedelta(minutes=k)
            for d in pd.bdate_range("2024-01-02 14:30", periods=10, tz="UTC")
            for k in range(390)
        ]
    )
    assert compute_metrics(walk(minutes), None).conventions.annualization_factor == 252


# --- runs shorter than a year -----------------------------------------------------------------


def test_a_run_under_a_year_shows_no_extrapolated_figures():
    # 14 days losing 4 %: the old report printed an annualized return of about -70 %.
    index = pd.bdate_range("2024-01-02 21:00", periods=10, tz="UTC")
    equity = pd.Series(np.linspace(100_000.0, 96_000.0, len(index)), index=index)
    equity.iloc[4] = 97_000.0
    m = compute_metrics(equity, None, capital=100_000.0)
    assert m.short_period is True
    returns = pd.Series(np.concatenate(([100_000.0], equity.to_numpy()))).pct_change().dropna()
    # The raw values stay in the record (JSON), computed as always...
    assert m.annualized_return == pytest.approx(returns.mean() * 252, rel=REL)
    assert m.to_json_dict()["cagr"] == pytest.approx(m.cagr)
    assert m.to_json_dict()["short_period"] is True
    # ...but the report does not present them as what a year would bring.
    returns_group, risk = dict(m.groups()["Returns"]), dict(m.groups()["Risk"])
    assert returns_group["CAGR"] == SHORT_MARK == "n/a (< 1 year)"
    assert returns_group["Annualized return"] == SHORT_MARK
    assert risk["Calmar ratio"] == SHORT_MARK
    assert risk["Sharpe ratio"].endswith("(< 1 year)")
    assert returns_group["Annualized volatility"].endswith("(< 1 year)")
    assert returns_group["Total return"] == "-4.00%"


def test_a_calendar_year_of_exchange_data_is_a_year():
    m = compute_metrics(walk(nyse_closes("2023-01-01", "2023-12-31")), None)
    assert m.short_period is False
    assert dict(m.groups()["Returns"])["CAGR"] != SHORT_MARK


# --- exposure: bars at whose close a position was held ----------------------------------------


def held_at_close(closes: pd.DatetimeIndex, fills: list[tuple[pd.Timestamp, float]], at_open: bool) -> float:
    """The textbook walk: after each bar's close, is the position non-zero?

    A close fill at time t is in the position at the close at t; a next-open fill at t (the
    open of a bar, equal to the previous bar's close for intraday bars) only from the next close.
    """
    held = 0
    for close in closes:
        position = sum(q for t, q in fills if (t < close if at_open else t <= close))
        held += position != 0
    return held / len(closes)


def test_exposure_counts_bars_held_at_their_close_with_close_fills():
    closes = pd.date_range("2024-01-01 21:00", periods=10, freq="D", tz="UTC")
    trades = trades_frame(
        [
            {"entry_time": closes[2], "exit_time": closes[5], "pnl": 1.0},
            {"entry_time": closes[7], "exit_time": None, "pnl": 0.5},
        ]
    )
    fills = [(closes[2], 1.0), (closes[5], -1.0), (closes[7], 1.0)]
    expected = held_at_close(closes, fills, at_open=False)
    assert expected == pytest.approx(0.6)  # closes 2, 3, 4 and 7, 8, 9
    m = compute_metrics(pd.Series(100_000.0, index=closes), trades)
    # Before: 0.7, the exit bar counted as held.
    assert m.exposure == pytest.approx(expected)


def test_exposure_with_next_open_fills_on_intraday_bars():
    # Five-minute bars: a bar opens at the instant the previous one closes.
    closes = pd.date_range("2024-01-02 14:35", periods=12, freq="5min", tz="UTC")
    opens = closes - pd.Timedelta(minutes=5)
    # Signal at bar 2's close, filled at bar 3's open; exit signal at bar 6, filled at bar 7's open.
    trades = trades_frame([{"entry_time": opens[3], "exit_time": opens[7], "pnl": 1.0}])
    fills = [(opens[3], 1.0), (opens[7], -1.0)]
    expected = held_at_close(closes, fills, at_open=True)
    assert expected == pytest.approx(4 / 12)  # closes 3, 4, 5, 6
    m = compute_metrics(pd.Series(100_000.0, index=closes), trades, fills_at_open=True)
    assert m.exposure == pytest.approx(expected)


# --- wins and losses on P&L rounded to cents --------------------------------------------------


def test_break_even_trades_are_neither_wins_nor_losses():
    pnl = [1e-12, -1e-12, 0.004, -0.004, 10.0, -5.0]
    rounded = np.round(pnl, 2)
    times = pd.date_range("2024-01-01", periods=len(pnl) + 1, freq="D", tz="UTC")
    trades = trades_frame(
        [{"entry_time": times[k], "exit_time": times[k + 1], "pnl": p} for k, p in enumerate(pnl)]
    )
    stats = trade_stats(trades)
    # Before: float residues counted, 3 wins and 3 losses.
    assert (stats.winning_trades, stats.losing_trades) == (int((rounded > 0).sum()), int((rounded < 0).sum()))
    assert (stats.winning_trades, stats.losing_trades) == (1, 1)
    assert stats.win_rate == pytest.approx(1 / 6) == win_rate(pnl)
    assert stats.avg_win == 10.0 and stats.avg_loss == -5.0
    assert stats.profit_factor == pytest.approx(2.0)


# --- SQN and Van Tharp's variant --------------------------------------------------------------


@pytest.mark.parametrize("n", [40, 100, 250])
def test_sqn_and_van_tharps_variant(n):
    rng = np.random.default_rng(n)
    pnl = rng.normal(20.0, 100.0, n)
    mean, std = pnl.mean(), pnl.std(ddof=1)
    stats = trade_stats(
        trades_frame(
            [
                {
                    "entry_time": pd.Timestamp("2024-01-01", tz="UTC"),
                    "exit_time": pd.Timestamp("2024-01-02", tz="UTC"),
                    "pnl": p,
                }
                for p in pnl
            ]
        )
    )
    assert stats.sqn == pytest.approx(math.sqrt(n) * mean / std, rel=REL)
    assert stats.sqn_van_tharp == pytest.approx(math.sqrt(min(n, 100)) * mean / std, rel=REL)
    assert sqn(pnl, 100) == stats.sqn_van_tharp


def test_report_states_the_formulas_and_the_buy_and_hold_basis():
    index = pd.bdate_range("2024-01-02", periods=30, tz="UTC")
    m = compute_metrics(walk(index), None, pd.Series(np.linspace(10, 12, 30), index=index))
    trades_group = dict(m.groups()["Trades"])
    assert "SQN (√n·mean/std)" in trades_group and "SQN Van Tharp (n ≤ 100)" in trades_group
    c = m.conventions
    assert "sqrt(n) × mean(pnl) / std(pnl, ddof=1)" in c.sqn_formula and "capped at 100" in c.sqn_formula
    assert c.buy_and_hold_basis == "first bar's close to last bar's close, no commissions or other costs"
    assert m.buy_and_hold_return == pytest.approx(12 / 10 - 1, rel=REL)


def test_trade_tables_colour_a_break_even_trade_as_break_even():
    from ntrader.reports.model import trade_rows

    times = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    trades = trades_frame(
        [
            {"entry_time": times[0], "exit_time": times[1], "pnl": 1e-12},
            {"entry_time": times[1], "exit_time": times[2], "pnl": -0.004},
            {"entry_time": times[2], "exit_time": times[3], "pnl": 2.5},
        ]
    )
    # The colour (text and HTML tables) follows row.pnl: it must agree with the win/loss count.
    assert [row.pnl for row in trade_rows(trades)] == [0.0, 0.0, 2.5]
