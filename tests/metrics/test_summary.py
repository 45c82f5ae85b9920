"""Tests of compute_metrics, the Metrics record, its JSON round trip and its report groups."""

from __future__ import annotations

import dataclasses
import json
import math

import empyrical
import numpy as np
import pandas as pd
import pytest

import ntrader.metrics as metrics_package
from ntrader.errors import InputError
from ntrader.metrics import Conventions, Metrics, compute_metrics

REL = 1e-9


def random_walk(index: pd.DatetimeIndex, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(100_000.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, len(index)))), index)


def trades_on(index: pd.DatetimeIndex, pnl: list[float], open_trade: bool = False) -> pd.DataFrame:
    n = len(pnl)
    entries = [index[3 * i] for i in range(n)]
    exits: list[pd.Timestamp | None] = [index[3 * i + 2] for i in range(n)]
    if open_trade:
        entries.append(index[-2])
        exits.append(None)
        pnl = [*pnl, np.nan]
    return pd.DataFrame(
        {
            "entry_time": entries,
            "exit_time": pd.to_datetime(pd.Series(exits), utc=True),
            "entry_price": 50.0,
            "exit_price": 51.0,
            "quantity": 100.0,
            "side": "LONG",
            "pnl": pnl,
            "commission": 2.0,
        }
    )


DAILY = pd.bdate_range("2022-01-03", periods=400, tz="UTC")
INTRADAY = pd.date_range("2024-05-01 00:00", periods=24 * 40, freq="h", tz="UTC")


def textbook_daily(equity: pd.Series) -> pd.Series:
    """Daily simple returns, the first day's from the starting capital (the first point)."""
    daily = equity.resample("D").last().dropna()
    return pd.concat([equity.iloc[:1], daily]).pct_change().dropna()


def expected_factor(equity: pd.Series) -> int:
    # DAILY: 400 weekdays without holidays over more than a year, 365.25 x 5/7 = 260.9 -> 261.
    # INTRADAY: 40 days of 24 x 7 bars, too short to measure, with weekend data -> 365.
    return 261 if equity.index.equals(DAILY) else 365


@pytest.fixture(params=["daily", "intraday"])
def backtest(request: pytest.FixtureRequest) -> tuple[pd.Series, pd.DataFrame, pd.Series]:
    index = DAILY if request.param == "daily" else INTRADAY
    equity = random_walk(index, 21)
    closes = random_walk(index, 22) / 1000
    trades = trades_on(index, [120.0, -40.0, 15.5, -80.0, 300.0], open_trade=True)
    return equity, trades, closes


def test_compute_metrics_agrees_with_the_individual_functions(
    backtest: tuple[pd.Series, pd.DataFrame, pd.Series],
) -> None:
    equity, trades, closes = backtest
    m = compute_metrics(equity, trades, closes, risk_free_rate=0.02)
    mp = metrics_package
    assert m.start == equity.index[0]
    assert m.end == equity.index[-1]
    assert m.starting_equity == equity.iloc[0]
    assert m.ending_equity == equity.iloc[-1]
    assert m.total_return == mp.total_return(equity)
    assert m.cagr == mp.cagr(equity)
    assert m.annualized_return == mp.annualized_return(equity)
    assert m.annualized_volatility == mp.annualized_volatility(equity)
    assert m.buy_and_hold_return == mp.buy_and_hold_return(closes)
    assert m.exposure == mp.exposure_time(equity.index, trades)
    worst = mp.max_drawdown(equity)
    assert (m.max_drawdown, m.max_drawdown_peak, m.max_drawdown_trough) == (
        worst.depth,
        worst.peak,
        worst.trough,
    )
    assert m.max_drawdown_recovery == worst.recovery
    assert m.max_drawdown_duration_days == worst.duration_days
    assert m.longest_drawdown_duration_days == mp.longest_drawdown_duration(equity)
    assert m.avg_drawdown_duration_days == mp.average_drawdown_duration(equity)
    assert m.sharpe == mp.sharpe_ratio(equity, 0.02)
    assert m.sortino == mp.sortino_ratio(equity, 0.02)
    assert m.calmar == mp.calmar_ratio(equity)
    assert (m.ruined, m.ruin_time) == (False, None)
    stats = mp.trade_stats(trades)
    for item in dataclasses.fields(stats):
        assert getattr(m, item.name) == getattr(stats, item.name)
    assert m.trade_count == 5
    assert m.open_trade_count == 1
    calendar = mp.measure_annualization(equity.index)
    assert m.conventions == Conventions(
        annualization_factor=calendar.factor,
        risk_free_rate=0.02,
        annualization_basis=calendar.basis,
        days_with_data=calendar.days,
        span_days=calendar.span_days,
        starting_capital=equity.iloc[0],
    )
    assert m.conventions.annualization_factor == expected_factor(equity)


def test_compute_metrics_matches_empyrical(
    backtest: tuple[pd.Series, pd.DataFrame, pd.Series],
) -> None:
    equity, trades, closes = backtest
    m = compute_metrics(equity, trades, closes, risk_free_rate=0.02)
    daily = textbook_daily(equity)
    bar = equity.pct_change().dropna()
    k = expected_factor(equity)
    # empyrical wants a daily risk-free rate; ours is annual and divided by the factor.
    assert m.sharpe == pytest.approx(
        empyrical.sharpe_ratio(daily, risk_free=0.02 / k, annualization=k), rel=REL
    )
    sortino = empyrical.sortino_ratio(daily, required_return=0.02 / k, annualization=k)
    assert m.sortino == pytest.approx(sortino, rel=REL)
    assert m.annualized_volatility == pytest.approx(
        empyrical.annual_volatility(daily, annualization=k), rel=REL
    )
    assert m.max_drawdown == pytest.approx(empyrical.max_drawdown(bar), rel=REL)
    # Years as 365.25-day spans instead of empyrical's len(returns) / 252 (see test_returns).
    span = (equity.index[-1] - equity.index[0]) / pd.Timedelta(days=365.25)
    assert m.cagr == pytest.approx(empyrical.cagr(bar, annualization=len(bar) / span), rel=REL)
    calmar = empyrical.calmar_ratio(bar, annualization=len(bar) / span)
    assert m.calmar == pytest.approx(calmar, rel=REL)


def test_json_round_trip_is_lossless_and_strict(
    backtest: tuple[pd.Series, pd.DataFrame, pd.Series],
) -> None:
    equity, trades, closes = backtest
    m = compute_metrics(equity, trades, closes)
    data = m.to_json_dict()
    text = json.dumps(data, allow_nan=False)
    assert Metrics.from_json_dict(json.loads(text)) == m
    assert data["start"] == equity.index[0].isoformat()
    assert data["profit_factor_infinite"] is False
    conventions = data["conventions"]
    assert {key: conventions[key] for key in list(conventions)[:5]} == {
        "annualization_factor": expected_factor(equity),
        "risk_free_rate": 0.0,
        "cagr_day_count": 365.25,
        "drawdown_sign": "negative",
        "daily_resampling": "last equity per calendar day with data",
    }
    assert conventions["annualization_basis"] in ("measured", "short run: 7-day calendar")
    assert conventions["starting_capital"] == equity.iloc[0]


def test_infinite_profit_factor_is_stored_as_none_with_a_flag() -> None:
    equity = random_walk(DAILY[:30], 5)
    m = compute_metrics(equity, trades_on(DAILY, [10.0, 20.0]))
    assert m.profit_factor == math.inf
    data = m.to_json_dict()
    assert data["profit_factor"] is None
    assert data["profit_factor_infinite"] is True
    json.dumps(data, allow_nan=False)
    assert Metrics.from_json_dict(data).profit_factor == math.inf
    assert dict(m.groups()["Trades"])["Profit factor"] == "∞"


def test_unexpected_non_finite_floats_become_none_in_json() -> None:
    m = compute_metrics(random_walk(DAILY[:30], 5), None)
    data = dataclasses.replace(m, sharpe=math.nan).to_json_dict()
    assert data["sharpe"] is None
    json.dumps(data, allow_nan=False)


def test_no_trades_and_no_closes() -> None:
    equity = random_walk(DAILY[:50], 6)
    m = compute_metrics(equity, pd.DataFrame())
    assert m.trade_count == 0
    assert m.win_rate is None
    assert m.profit_factor is None
    assert m.sqn is None
    assert m.buy_and_hold_return is None
    assert m.exposure == 0.0
    trades = dict(m.groups()["Trades"])
    assert trades["Trades"] == "0"
    assert trades["Win rate"] == "–"
    assert trades["Profit factor"] == "–"
    assert Metrics.from_json_dict(m.to_json_dict()) == m


def test_single_point_equity() -> None:
    one = pd.Series([10_000.0], index=pd.DatetimeIndex(["2024-01-02 21:00"], tz="UTC"))
    m = compute_metrics(one, None, one)
    assert m.total_return == 0.0
    assert m.buy_and_hold_return == 0.0
    # One day measured from the starting capital (the point itself): a zero return.
    assert m.annualized_return == 0.0
    for undefined in (
        m.cagr,
        m.annualized_volatility,
        m.sharpe,
        m.sortino,
        m.calmar,
        m.avg_drawdown_duration_days,
        m.max_drawdown_peak,
    ):
        assert undefined is None
    assert m.max_drawdown == 0.0
    assert m.max_drawdown_duration_days == 0.0
    assert m.longest_drawdown_duration_days == 0.0
    risk = dict(m.groups()["Risk"])
    assert risk["Max drawdown"] == "0.00%"
    # Never under water: nothing to recover from, so a dash rather than "not recovered".
    assert risk["Max drawdown recovery"] == "–"
    assert Metrics.from_json_dict(m.to_json_dict()) == m


def test_ruined_equity() -> None:
    index = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    equity = pd.Series([100.0, 120.0, 30.0, 0.0, 10.0, 50.0], index=index)
    m = compute_metrics(equity, None)
    assert m.ruined
    assert m.ruin_time == index[3]
    assert m.total_return == -1.0
    assert m.cagr == -1.0
    assert m.max_drawdown == -1.0
    assert m.max_drawdown_recovery is None
    assert m.calmar == -1.0
    assert m.ending_equity == 0.0
    # The period is still the whole backtest; only the return figures stop at ruin.
    assert m.end == index[-1]
    risk = dict(m.groups()["Risk"])
    assert risk["Ruin"] == "2024-01-04"
    assert risk["Max drawdown recovery"] == "not recovered"
    assert risk["Max drawdown"] == "-100.00%"
    assert Metrics.from_json_dict(m.to_json_dict()) == m


def test_short_period_still_has_a_cagr() -> None:
    equity = random_walk(DAILY[:20], 8)
    m = compute_metrics(equity, None)
    span = (equity.index[-1] - equity.index[0]) / pd.Timedelta(days=365.25)
    assert span < 1
    assert m.cagr == pytest.approx((1 + m.total_return) ** (1 / span) - 1, rel=REL)
    # ...kept in the record, but not shown as a yearly figure (test_conventions has the rest).
    assert m.short_period is True
    assert dict(m.groups()["Returns"])["CAGR"] == "n/a (< 1 year)"


def test_zero_volatility_equity() -> None:
    equity = pd.Series(50_000.0, index=DAILY[:40])
    m = compute_metrics(equity, None)
    assert (m.sharpe, m.sortino, m.calmar) == (None, None, None)
    assert m.annualized_volatility == 0.0
    risk = dict(m.groups()["Risk"])
    assert risk["Sharpe ratio"] == "–"
    assert risk["Sortino ratio"] == "–"


def test_positions_override_trades_for_exposure() -> None:
    equity = random_walk(DAILY[:10], 9)
    positions = pd.Series([0, 0, 1, 1, 1, 0, -1, -1, 0, 0], index=DAILY[:10])
    m = compute_metrics(equity, trades_on(DAILY, [1.0]), positions=positions)
    assert m.exposure == pytest.approx(0.5)


def test_periods_per_year_is_used_and_recorded() -> None:
    equity = random_walk(INTRADAY, 10)
    m = compute_metrics(equity, None, periods_per_year=365, risk_free_rate=0.01)
    daily = textbook_daily(equity)
    assert m.sharpe == pytest.approx(
        empyrical.sharpe_ratio(daily, risk_free=0.01 / 365, annualization=365), rel=REL
    )
    assert m.annualized_return == pytest.approx(daily.mean() * 365, rel=REL)
    assert m.conventions.annualization_factor == 365
    assert m.conventions.annualization_basis == "given"
    assert m.conventions.annualization_text() == "√365 (given)"


@pytest.mark.parametrize(
    "kwargs",
    [{"periods_per_year": 0}, {"risk_free_rate": math.nan}],
    ids=["ppy", "rf"],
)
def test_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(InputError):
        compute_metrics(random_walk(DAILY[:5], 1), None, **kwargs)  # type: ignore[arg-type]


def test_from_json_dict_rejects_foreign_data() -> None:
    with pytest.raises(InputError, match="not a metrics record"):
        Metrics.from_json_dict({"start": "2024-01-01"})
    good = compute_metrics(random_walk(DAILY[:5], 1), None).to_json_dict()
    with pytest.raises(InputError):
        Metrics.from_json_dict({**good, "start": "not a date"})


def test_from_json_dict_accepts_missing_conventions() -> None:
    data = compute_metrics(random_walk(DAILY[:5], 1), None).to_json_dict()
    del data["conventions"]
    assert Metrics.from_json_dict(data).conventions == Conventions()


def test_groups_format_every_figure() -> None:
    index = pd.date_range("2024-01-02 14:30", periods=8 * 5, freq="30min", tz="UTC")
    equity = random_walk(index, 3)
    trades = trades_on(index, [25.0, -10.0, 12_345.678])
    m = compute_metrics(equity, trades, equity / 100)
    groups = m.groups()
    assert list(groups) == ["Returns", "Risk", "Trades"]
    for rows in groups.values():
        for label, text in rows:
            assert isinstance(label, str)
            assert isinstance(text, str)
            assert text
    returns = dict(groups["Returns"])
    assert returns["Start"] == "2024-01-02 14:30 UTC"
    assert returns["Total return"] == f"{m.total_return * 100:.2f}%"
    assert returns["Starting equity"] == f"{equity.iloc[0]:,.2f}"
    trades_group = dict(groups["Trades"])
    assert trades_group["Best trade"] == "12,345.68"
    # Each trade spans two 30-minute bars.
    assert trades_group["Avg trade duration"] == "1h 00m"
    assert trades_group["Profit factor"] == f"{m.profit_factor:.2f}"


@pytest.mark.parametrize(
    ("days", "text"),
    [(None, "–"), (0.0, "0m"), (25 / 1440, "25m"), (0.5, "12h 00m"), (1.0, "1.0 days")],
)
def test_duration_format(days: float | None, text: str) -> None:
    from ntrader.metrics.summary import _days

    assert _days(days) == text


def test_ratio_format_of_negative_infinity() -> None:
    from ntrader.metrics.summary import _ratio

    assert _ratio(-math.inf) == "-∞"
    assert _ratio(1.234) == "1.23"


def test_public_api_is_exported() -> None:
    for name in metrics_package.__all__:
        assert hasattr(metrics_package, name)
    exported = set(metrics_package.__all__)
    assert {"compute_metrics", "Metrics", "sharpe_ratio", "max_drawdown"} <= exported
