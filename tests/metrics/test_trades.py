"""Tests of ntrader.metrics.trades against figures computed straight from their definitions."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ntrader.errors import InputError
from ntrader.metrics import (
    TRADE_COLUMNS,
    TradeStats,
    closed_trades,
    expectancy,
    profit_factor,
    profit_factor_from_json,
    profit_factor_to_json,
    sqn,
    trade_stats,
    validate_trades,
    win_rate,
)

REL = 1e-9
T0 = pd.Timestamp("2024-03-01 14:30", tz="UTC")


def trades_from_pnl(
    pnl: list[float], *, open_trades: int = 0, hours: list[float] | None = None
) -> pd.DataFrame:
    n = len(pnl) + open_trades
    hours = hours or [1.0] * len(pnl)
    entries = [T0 + pd.Timedelta(days=i) for i in range(n)]
    exits: list[pd.Timestamp | None] = [
        entry + pd.Timedelta(hours=h) for entry, h in zip(entries, hours, strict=False)
    ]
    return pd.DataFrame(
        {
            "entry_time": entries,
            "exit_time": pd.to_datetime(pd.Series(exits + [None] * open_trades), utc=True),
            "entry_price": 100.0,
            "exit_price": [100.0] * len(pnl) + [np.nan] * open_trades,
            "quantity": 10.0,
            "side": ["LONG", "SHORT"] * (n // 2) + ["LONG"] * (n % 2),
            "pnl": list(pnl) + [np.nan] * open_trades,
            "commission": 1.25,
        }
    )


def random_trades(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pnl = np.round(rng.normal(20, 150, n), 2).tolist()
    hours = rng.exponential(30, n).tolist()
    return trades_from_pnl(pnl, open_trades=int(seed % 2), hours=hours)


@pytest.mark.parametrize(("seed", "n"), [(11, 40), (12, 250), (13, 3)])
def test_trade_stats_match_definitions(seed: int, n: int) -> None:
    trades = random_trades(seed, n)
    closed = trades[trades["exit_time"].notna()]
    pnl = closed["pnl"].to_numpy()
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    stats = trade_stats(trades)
    assert stats.trade_count == n
    assert stats.open_trade_count == seed % 2
    assert stats.winning_trades == len(wins)
    assert stats.losing_trades == len(losses)
    assert stats.win_rate == pytest.approx(len(wins) / n, rel=REL)
    assert stats.avg_win == pytest.approx(wins.sum() / len(wins), rel=REL)
    assert stats.avg_loss == pytest.approx(losses.sum() / len(losses), rel=REL)
    assert stats.best_trade == pytest.approx(max(pnl), rel=REL)
    assert stats.worst_trade == pytest.approx(min(pnl), rel=REL)
    durations = [
        (exit_ - entry).total_seconds() / 86400
        for entry, exit_ in zip(closed["entry_time"], closed["exit_time"], strict=True)
    ]
    assert stats.avg_trade_duration_days == pytest.approx(sum(durations) / n, rel=REL)
    assert stats.profit_factor == pytest.approx(wins.sum() / -losses.sum(), rel=REL)
    assert stats.expectancy == pytest.approx(pnl.sum() / n, rel=REL)
    mean = pnl.sum() / n
    std = math.sqrt(((pnl - mean) ** 2).sum() / (n - 1))
    assert stats.sqn == pytest.approx(math.sqrt(n) * mean / std, rel=REL)
    assert stats.total_pnl == pytest.approx(pnl.sum(), rel=REL)
    # Commission counts open trades too: it is already paid.
    assert stats.total_commission == pytest.approx(1.25 * len(trades), rel=REL)


def test_trade_stats_by_hand() -> None:
    trades = trades_from_pnl([100.0, -50.0, 0.0, 250.0, -25.0], hours=[1, 2, 3, 4, 5])
    stats = trade_stats(trades)
    assert stats == TradeStats(
        trade_count=5,
        open_trade_count=0,
        winning_trades=2,
        losing_trades=2,
        win_rate=0.4,  # the break-even trade counts as a trade but not a win
        avg_win=175.0,
        avg_loss=-37.5,
        best_trade=250.0,
        worst_trade=-50.0,
        avg_trade_duration_days=pytest.approx(3 / 24),  # type: ignore[arg-type]
        profit_factor=pytest.approx(350 / 75),  # type: ignore[arg-type]
        expectancy=55.0,
        sqn=pytest.approx(math.sqrt(5) * 55 / np.std([100, -50, 0, 250, -25], ddof=1)),  # type: ignore[arg-type]
        # Under 100 trades Van Tharp's cap changes nothing.
        sqn_van_tharp=pytest.approx(math.sqrt(5) * 55 / np.std([100, -50, 0, 250, -25], ddof=1)),  # type: ignore[arg-type]
        total_pnl=275.0,
        total_commission=6.25,
    )


@pytest.mark.parametrize(
    "no_trades",
    [None, pd.DataFrame(), trades_from_pnl([]), trades_from_pnl([], open_trades=2)],
    ids=["none", "bare-frame", "no-rows", "only-open"],
)
def test_no_closed_trades(no_trades: pd.DataFrame | None) -> None:
    stats = trade_stats(no_trades)
    assert (stats.trade_count, stats.winning_trades, stats.losing_trades) == (0, 0, 0)
    for ratio in (
        stats.win_rate,
        stats.avg_win,
        stats.avg_loss,
        stats.best_trade,
        stats.worst_trade,
        stats.avg_trade_duration_days,
        stats.profit_factor,
        stats.expectancy,
        stats.sqn,
    ):
        assert ratio is None
    assert stats.total_pnl == 0.0


def test_only_open_trades_still_count_commission() -> None:
    stats = trade_stats(trades_from_pnl([], open_trades=2))
    assert stats.open_trade_count == 2
    assert stats.total_commission == 2.5


def test_single_trade_has_no_sqn() -> None:
    stats = trade_stats(trades_from_pnl([42.0]))
    assert stats.trade_count == 1
    assert stats.sqn is None
    assert stats.expectancy == 42.0
    assert stats.profit_factor == math.inf


def test_all_wins_give_infinite_profit_factor() -> None:
    stats = trade_stats(trades_from_pnl([10.0, 20.0, 0.0]))
    assert stats.profit_factor == math.inf
    assert stats.avg_loss is None
    assert stats.win_rate == pytest.approx(2 / 3)


def test_all_losses_and_all_break_even() -> None:
    assert profit_factor([-1.0, -2.0]) == 0.0
    assert profit_factor([0.0, 0.0]) is None
    assert profit_factor([]) is None


def test_identical_pnl_has_no_sqn() -> None:
    assert sqn([5.0, 5.0, 5.0]) is None
    assert sqn([5.0, 6.0]) == pytest.approx(math.sqrt(2) * 5.5 / np.std([5, 6], ddof=1))


def test_pnl_functions_on_empty_input() -> None:
    assert win_rate([]) is None
    assert expectancy([]) is None
    assert sqn([]) is None


def test_profit_factor_json_round_trip() -> None:
    for value in (math.inf, 1.5, None, 0.0):
        stored = profit_factor_to_json(value)
        text = json.dumps(stored, allow_nan=False)
        assert profit_factor_from_json(json.loads(text)) == value
    assert profit_factor_to_json(math.inf) == {
        "profit_factor": None,
        "profit_factor_infinite": True,
    }
    assert profit_factor_to_json(2.0) == {"profit_factor": 2.0, "profit_factor_infinite": False}


def test_validate_trades_normalizes_types() -> None:
    trades = trades_from_pnl([1.0, -1.0])
    raw = trades.assign(
        entry_time=trades["entry_time"].dt.tz_localize(None).astype(str),
        pnl=["1", "-1"],
    )
    frame = validate_trades(raw)
    assert str(frame["entry_time"].dtype) == "datetime64[ns, UTC]"
    assert frame["pnl"].dtype == np.float64
    assert list(closed_trades(raw)["pnl"]) == [1.0, -1.0]
    assert list(validate_trades(None).columns) == list(TRADE_COLUMNS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns=["pnl", "side"]), "side, pnl"),
        (lambda t: t.assign(pnl=["x", "y"]), "malformed"),
        (lambda t: t.assign(entry_time=[T0, pd.NaT]), "entry_time"),
        (lambda t: t.assign(pnl=[1.0, np.nan]), "finite pnl"),
        (lambda t: t.assign(exit_time=t["entry_time"] - pd.Timedelta(hours=1)), "exits before"),
        (lambda t: t.to_dict(), "DataFrame"),
    ],
)
def test_validate_trades_rejects(change: object, message: str) -> None:
    trades = trades_from_pnl([1.0, -1.0])
    with pytest.raises(InputError, match=message):
        validate_trades(change(trades))  # type: ignore[operator]
