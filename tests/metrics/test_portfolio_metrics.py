"""portfolio_metrics against a hand-built three-symbol account simulated with explicit loops.

The reference figures are computed here a different way: bar-by-bar loops over a hand-made
book of fills (cash and shares per symbol), scipy's Pearson correlation, numpy's least squares
and empyrical's beta. Symbol C lists later (NaN closes on the first two days).
"""

from __future__ import annotations

import json
import math

import empyrical
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ntrader.errors import InputError
from ntrader.metrics.portfolio import portfolio_metrics

CAPITAL = 10_000.0
PERIODS = 252
NAN = math.nan

# Two bars a day (14:30 and 20:00 UTC) over five days; closes per symbol, C listed on day 3.
TIMES = [f"2024-03-0{day} {hm}" for day in range(4, 9) for hm in ("14:30", "20:00")]
CLOSES = {
    "A": [100.0, 102.0, 101.0, 104.0, 107.0, 110.0, 108.0, 111.0, 112.0, 109.0],
    "B": [50.0, 49.0, 48.0, 45.0, 46.0, 47.0, 48.0, 47.5, 46.0, 45.0],
    "C": [NAN, NAN, NAN, NAN, 30.0, 31.0, 30.0, 29.0, 32.0, 33.0],
}
# Fills: (bar, symbol, signed shares, price, commission); A and B round trips, B short and C open.
FILLS = [
    (0, "A", 10, 100.0, 1.0),
    (1, "B", 5, 49.0, 0.5),
    (3, "B", -5, 45.0, 0.5),
    (5, "A", -10, 110.0, 1.0),
    (6, "B", -4, 48.0, 0.5),
    (6, "C", 3, 30.0, 0.3),
    (8, "A", 2, 112.0, 0.2),
    (9, "A", -2, 109.0, 0.2),
]


def book() -> tuple[pd.DatetimeIndex, pd.DataFrame, pd.DataFrame, pd.Series, pd.DataFrame]:
    """Index, closes, positions, equity and trades of the hand-made account, by explicit loops."""
    index = pd.DatetimeIndex(pd.to_datetime(TIMES, utc=True))
    closes = pd.DataFrame(CLOSES, index=index)
    shares = {s: 0.0 for s in CLOSES}
    cash = CAPITAL
    position_rows, equity_values = [], []
    for bar in range(len(index)):
        for fill_bar, symbol, qty, price, commission in FILLS:
            if fill_bar == bar:
                shares[symbol] += qty
                cash -= qty * price + commission
        position_rows.append(dict(shares))
        value = cash
        for symbol in CLOSES:
            if shares[symbol] != 0:
                value += shares[symbol] * CLOSES[symbol][bar]
        equity_values.append(value)
    positions = pd.DataFrame(position_rows, index=index)
    equity = pd.Series(equity_values, index=index)
    t = index
    trades = pd.DataFrame(
        [
            ("A", "LONG", 10.0, t[0], 100.0, t[5], 110.0, 100.0 - 2.0, 2.0),
            ("B", "LONG", 5.0, t[1], 49.0, t[3], 45.0, -20.0 - 1.0, 1.0),
            ("A", "LONG", 2.0, t[8], 112.0, t[9], 109.0, -6.0 - 0.4, 0.4),
            ("B", "SHORT", 4.0, t[6], 48.0, None, None, NAN, 0.5),
            ("C", "LONG", 3.0, t[6], 30.0, None, None, NAN, 0.3),
        ],
        columns=[
            "symbol",
            "side",
            "quantity",
            "entry_time",
            "entry_price",
            "exit_time",
            "exit_price",
            "pnl",
            "commission",
        ],
    )
    return index, closes, positions, equity, trades


def run(benchmark: pd.Series | None = None) -> dict:
    _, closes, positions, equity, trades = book()
    return portfolio_metrics(
        trades=trades,
        equity=equity,
        closes=closes,
        positions=positions,
        capital=CAPITAL,
        periods_per_year=PERIODS,
        benchmark=benchmark,
    )


def daily_last(values: list[float], index: pd.DatetimeIndex) -> tuple[list[str], list[float]]:
    days: list[str] = []
    last: list[float] = []
    for time, value in zip(index, values, strict=True):
        day = time.strftime("%Y-%m-%d")
        if days and days[-1] == day:
            last[-1] = value
        else:
            days.append(day)
            last.append(value)
    return days, last


def test_result_is_plain_json() -> None:
    result = run()
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result
    assert result["symbols"] == ["A", "B", "C"]


def test_symbol_pnl_sums_to_the_account_gain_and_matches_hand_values() -> None:
    _, _, _, equity, _ = book()
    rows = {row["symbol"]: row for row in run()["per_symbol"]}
    # Hand values: A 98 - 6.4; B -21 plus the open short 4 × (48 - 45) - 0.5; C 3 × (33 - 30) - 0.3.
    expected = {"A": 91.6, "B": -21.0 + 11.5, "C": 8.7}
    for symbol, pnl in expected.items():
        assert rows[symbol]["pnl"] == pytest.approx(pnl, abs=1e-9)
        assert rows[symbol]["contribution"] == pytest.approx(pnl / CAPITAL, abs=1e-12)
    # Independent of the trades table: the simulated account's gain.
    assert sum(row["pnl"] for row in rows.values()) == pytest.approx(equity.iloc[-1] - CAPITAL, abs=1e-9)


def test_return_exposure_trades_and_win_rate_by_loops() -> None:
    index, _, _, _, _ = book()
    rows = {row["symbol"]: row for row in run()["per_symbol"]}
    shares = {s: 0.0 for s in CLOSES}
    held = {s: 0 for s in CLOSES}
    deployed = {s: 0.0 for s in CLOSES}
    for bar in range(len(index)):
        for fill_bar, symbol, qty, _, _ in FILLS:
            if fill_bar == bar:
                shares[symbol] += qty
        for symbol in CLOSES:
            if shares[symbol] != 0:
                held[symbol] += 1
                deployed[symbol] += abs(shares[symbol] * CLOSES[symbol][bar])
    for symbol in CLOSES:
        average = deployed[symbol] / held[symbol]
        assert rows[symbol]["avg_deployed"] == pytest.approx(average, rel=1e-12)
        assert rows[symbol]["return"] == pytest.approx(rows[symbol]["pnl"] / average, rel=1e-12)
        assert rows[symbol]["exposure"] == pytest.approx(held[symbol] / len(index), abs=1e-12)
    # A held bars 0-4 and 8 (6 of 10); B bars 1-2 and 6-9 (6); C bars 6-9 (4).
    assert [rows[s]["exposure"] for s in "ABC"] == [0.6, 0.6, 0.4]
    assert [(rows[s]["trades"], rows[s]["open_trades"]) for s in "ABC"] == [(2, 0), (1, 1), (0, 1)]
    assert [rows[s]["win_rate"] for s in "ABC"] == [0.5, 0.0, None]
    assert rows["C"]["first_bar"] == "2024-03-06T14:30:00+00:00"


def test_correlation_of_daily_returns_against_scipy_with_a_late_listing() -> None:
    index, _, _, _, _ = book()
    result = run()["correlation"]
    assert result["symbols"] == ["A", "B", "C"]
    daily = {}
    for symbol in CLOSES:
        _, last = daily_last(CLOSES[symbol], index)
        daily[symbol] = [last[i] / last[i - 1] - 1.0 for i in range(1, len(last))]
    for i, a in enumerate("ABC"):
        for j, b in enumerate("ABC"):
            pairs = [
                (x, y)
                for x, y in zip(daily[a], daily[b], strict=True)
                if not (math.isnan(x) or math.isnan(y))
            ]
            xs, ys = zip(*pairs, strict=True)
            expected = 1.0 if a == b else stats.pearsonr(xs, ys).statistic
            assert result["matrix"][i][j] == pytest.approx(expected, abs=1e-12)
    # C has daily returns on days 4 and 5 only: two points, so its correlations are ±1.
    assert abs(result["matrix"][0][2]) == pytest.approx(1.0)
    assert result["days"] == 4


def test_turnover_is_traded_notional_over_mean_equity() -> None:
    _, _, _, equity, _ = book()
    notional = 0.0
    for _, _, qty, price, _ in FILLS:
        notional += abs(qty) * price
    mean_equity = sum(equity.tolist()) / len(equity)
    turnover = run()["turnover"]
    assert turnover["traded_notional"] == pytest.approx(notional, rel=1e-12)
    assert turnover["total"] == pytest.approx(notional / mean_equity, rel=1e-12)
    assert turnover["days"] == 5
    assert turnover["annualized"] == pytest.approx(notional / mean_equity * PERIODS / 5, rel=1e-12)


def portfolio_daily_returns(index: pd.DatetimeIndex, equity: pd.Series) -> tuple[list[str], list[float]]:
    days, last = daily_last(equity.tolist(), index)
    values = [CAPITAL, *last]
    return days, [values[i] / values[i - 1] - 1.0 for i in range(1, len(values))]


def lstsq_alpha_beta(y: list[float], x: list[float]) -> tuple[float, float]:
    design = np.column_stack([np.ones(len(x)), np.asarray(x)])
    (alpha, beta), *_ = np.linalg.lstsq(design, np.asarray(y), rcond=None)
    return float(alpha) * PERIODS, float(beta)


def test_equal_weight_benchmark_and_alpha_beta() -> None:
    index, _, _, equity, _ = book()
    first = {s: next(v for v in CLOSES[s] if not math.isnan(v)) for s in CLOSES}
    curve = []
    for bar in range(len(index)):
        value = 0.0
        for symbol in CLOSES:
            close = CLOSES[symbol][bar]
            part = CAPITAL / 3
            value += part if math.isnan(close) else part * close / first[symbol]
        curve.append(value)
    result = run()["benchmark"]["equal_weight"]
    assert result["total_return"] == pytest.approx(curve[-1] / CAPITAL - 1.0, rel=1e-12)
    # Its value at each day's end rides along with the allocation (for the equity chart).
    assert run()["allocation"]["benchmark"] == pytest.approx(daily_last(curve, index)[1], abs=0.005)
    _, bench_last = daily_last(curve, index)
    bench_values = [CAPITAL, *bench_last]
    bench = [bench_values[i] / bench_values[i - 1] - 1.0 for i in range(1, len(bench_values))]
    _, mine = portfolio_daily_returns(index, equity)
    alpha, beta = lstsq_alpha_beta(mine, bench)
    assert result["beta"] == pytest.approx(beta, rel=1e-9)
    assert result["beta"] == pytest.approx(empyrical.beta(np.array(mine), np.array(bench)), rel=1e-9)
    assert result["alpha"] == pytest.approx(alpha, rel=1e-9)
    assert result["days"] == 5
    assert result["r_squared"] == pytest.approx(stats.pearsonr(mine, bench).statistic ** 2, rel=1e-9)


def test_outside_benchmark_aligns_on_the_runs_days() -> None:
    index, _, _, equity, _ = book()
    # SPY daily closes from the day before the run, missing 2024-03-06, one stamp per day.
    spy_days = ["2024-03-01", "2024-03-04", "2024-03-05", "2024-03-07", "2024-03-08"]
    spy_closes = [500.0, 505.0, 503.0, 510.0, 507.0]
    spy = pd.Series(spy_closes, index=pd.to_datetime([f"{d} 21:00" for d in spy_days], utc=True), name="SPY")
    result = run(spy)["benchmark"]["external"]
    days, mine = portfolio_daily_returns(index, equity)
    ys, xs = [], []
    for i, day in enumerate(days):
        if day in spy_days and spy_days.index(day) > 0:
            k = spy_days.index(day)
            ys.append(mine[i])
            xs.append(spy_closes[k] / spy_closes[k - 1] - 1.0)
    alpha, beta = lstsq_alpha_beta(ys, xs)
    assert result["name"] == "SPY"
    assert result["days"] == 4
    assert result["beta"] == pytest.approx(beta, rel=1e-9)
    assert result["alpha"] == pytest.approx(alpha, rel=1e-9)
    # Its own buy & hold over the run's span: first close within it (03-04) to the last.
    assert result["total_return"] == pytest.approx(507.0 / 505.0 - 1.0, rel=1e-12)


def test_allocation_is_the_last_bar_of_each_day() -> None:
    index, _, positions, equity, _ = book()
    allocation = run()["allocation"]
    assert allocation["dates"] == ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"]
    assert allocation["symbols"] == ["A", "B", "C"]
    for day_number, bar in enumerate(range(1, len(index), 2)):
        total = 0.0
        for symbol in CLOSES:
            shares = positions[symbol].iloc[bar]
            value = 0.0 if shares == 0 else shares * CLOSES[symbol][bar]
            total += value
            assert allocation["values"][symbol][day_number] == pytest.approx(value, abs=0.005)
        assert allocation["cash"][day_number] == pytest.approx(equity.iloc[bar] - total, abs=0.005)
    # The open short shows as a negative value.
    assert allocation["values"]["B"][-1] == pytest.approx(-4 * 45.0)


def test_conventions_state_each_definition() -> None:
    conventions = run()["conventions"]
    assert conventions["annualization_factor"] == "252"
    assert conventions["risk_free_rate"] == "0"
    for key in (
        "pnl",
        "return",
        "exposure",
        "correlation",
        "turnover",
        "benchmark",
        "alpha_beta",
        "allocation",
    ):
        assert conventions[key]


def test_no_trades_gives_none_returns_and_zero_turnover() -> None:
    index, closes, positions, _, trades = book()
    flat = positions * 0.0
    result = portfolio_metrics(
        trades=trades.iloc[0:0],
        equity=pd.Series(CAPITAL, index=index),
        closes=closes,
        positions=flat,
        capital=CAPITAL,
        periods_per_year=PERIODS,
    )
    assert [row["return"] for row in result["per_symbol"]] == [None, None, None]
    assert [row["pnl"] for row in result["per_symbol"]] == [0.0, 0.0, 0.0]
    assert result["turnover"]["total"] == 0.0
    # A flat account does not move with the benchmark (beta 0) and has no spread to explain (R² none).
    assert result["benchmark"]["equal_weight"]["beta"] == 0.0
    assert result["benchmark"]["equal_weight"]["r_squared"] is None


def test_bad_input_is_an_input_error() -> None:
    _, closes, positions, equity, trades = book()
    with pytest.raises(InputError, match="symbol column"):
        portfolio_metrics(
            trades=trades.drop(columns="symbol"),
            equity=equity,
            closes=closes,
            positions=positions,
            capital=CAPITAL,
            periods_per_year=PERIODS,
        )
    with pytest.raises(InputError, match="same symbol columns"):
        portfolio_metrics(
            trades=trades,
            equity=equity,
            closes=closes,
            positions=positions[["A", "B"]],
            capital=CAPITAL,
            periods_per_year=PERIODS,
        )
