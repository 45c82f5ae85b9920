"""Basket mode in the vector engine against the Nautilus portfolio engine: the same fills, exactly.

Three symbols with different histories (one listed later, one missing days) on one cash account;
every built-in with a vector implementation, both fill modes, ample, thin and unlimited volume,
fixed and tiered commissions (the tiers counted on the account's month volume). A mismatch is a
bug in one of the engines, never a tolerance to loosen.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from ntrader.backtest.costs import parse_commission
from ntrader.backtest.portfolio_engine import PortfolioSetup, run_portfolio
from ntrader.backtest.result import RunResult
from ntrader.backtest.vector import FoldRules, VectorSettings, run_vector
from ntrader.backtest.vector.basket_run import prepare_basket, run_basket, screen_basket
from ntrader.data.bars import parse_bar_size
from ntrader.data.mock import generate_bars
from ntrader.strategies import get_strategy

PARAMS = {
    "sma": {"fast_period": 5, "slow_period": 20},
    "mean_reversion": {"lookback": 10, "num_std": 1.0},
    "momentum": {"rsi_period": 7, "oversold": 30.0, "overbought": 70.0},
}
FILLS = ("close", "next-open")


def histories(bar_size: str = "1-DAY", start: str = "2021-01-01", end: str = "2023-12-31") -> dict:
    """AAPL throughout, MSFT listed a third of the way in, SPY missing three sessions."""
    aapl = generate_bars("AAPL", start, end, bar_size)
    msft = generate_bars("MSFT", start, end, bar_size)
    spy = generate_bars("SPY", start, end, bar_size)
    return {"AAPL": aapl, "MSFT": msft.iloc[len(msft) // 3 :], "SPY": spy.drop(spy.index[[40, 41, 100]])}


def thin(bars: dict) -> dict:
    """Whole-share volumes small enough that many orders fill in two parts."""
    out = {}
    for symbol, frame in bars.items():
        frame = frame.copy()
        frame["volume"] = np.where(np.arange(len(frame)) % 3 == 0, 150.0, np.round(frame["volume"] / 5000))
        out[symbol] = frame
    return out


def nautilus(bars: dict, name: str, params: dict[str, Any], **options: Any) -> RunResult:
    spec = get_strategy(name)
    typed = {**spec.defaults(), **params}
    setup = PortfolioSetup(
        symbols=tuple(bars),
        bar_size=parse_bar_size(options.get("bar_size", "1-DAY")),
        strategy_class=spec.strategy_class,
        config_factory=lambda i, b, slot: spec.build_config(
            typed, instrument_id=i, bar_type=b, order_id_tag=f"{slot:03d}"
        ),
        capital=options.get("capital", 100_000.0),
        fee_model=parse_commission(options.get("commission", "ibkr-fixed")).fee_model(),
        fill_at=options.get("fill_at", "close"),
        liquidity=options.get("liquidity", "bar-volume"),
        allocation=options.get("allocation", "equal"),
    )
    return run_portfolio(bars, setup)


def vector(bars: dict, name: str, params: dict[str, Any], **options: Any) -> RunResult:
    spec = get_strategy(name)
    settings = VectorSettings.of(
        options.get("capital", 100_000.0),
        options.get("commission", "ibkr-fixed"),
        options.get("fill_at", "close"),
        options.get("liquidity", "bar-volume"),
    )
    return run_basket(
        bars,
        spec,
        {**spec.defaults(), **params},
        settings,
        bar_size=parse_bar_size(options.get("bar_size", "1-DAY")),
        allocation=options.get("allocation", "equal"),
    )


def rows(result: RunResult) -> list[tuple]:
    return [(f.timestamp, f.symbol, f.side, f.quantity, f.price, f.commission) for f in result.fills]


def assert_same(expected: RunResult, actual: RunResult, min_fills: int = 20) -> None:
    assert expected.status == "completed", expected.halt_reason
    assert len(expected.fills) >= min_fills, "pick data and parameters that trade"
    assert len({f.symbol for f in expected.fills}) == 3
    assert rows(actual) == rows(expected)
    assert actual.final_balance == expected.final_balance
    assert actual.final_equity == expected.final_equity
    pd.testing.assert_series_equal(actual.equity, expected.equity)
    pd.testing.assert_frame_equal(actual.trades, expected.trades)
    assert (actual.skipped_on_last_bar, actual.unfilled_at_end) == (
        expected.skipped_on_last_bar,
        expected.unfilled_at_end,
    )


@pytest.mark.parametrize("commission", ["ibkr-fixed", "ibkr-tiered"])
@pytest.mark.parametrize("liquidity", ["ample", "thin", "unlimited"])
@pytest.mark.parametrize("fill_at", FILLS)
@pytest.mark.parametrize("name", list(PARAMS))
def test_basket_fills_match_the_portfolio_engine(name, fill_at, liquidity, commission):
    bars = thin(histories()) if liquidity == "thin" else histories()
    options = {
        "fill_at": fill_at,
        "commission": commission,
        "liquidity": "unlimited" if liquidity == "unlimited" else "bar-volume",
    }
    expected = nautilus(bars, name, PARAMS[name], **options)
    if liquidity == "thin":
        assert expected.split_fills >= 5, "the volume really is thin"
    assert_same(expected, vector(bars, name, PARAMS[name], **options))


@pytest.mark.parametrize("fill_at", FILLS)
def test_the_shared_cash_goes_to_the_symbols_in_the_runs_order(fill_at):
    # All the equity per symbol: same-time entries compete for the cash, and the engine hands the
    # bars of one time to the strategies in the run's symbol order (then fills each one's order).
    params = {**PARAMS["sma"], "position_pct": 1.0}
    bars = histories()
    backwards = dict(reversed(list(bars.items())))
    forward_run = nautilus(bars, "sma", params, fill_at=fill_at)
    backward_run = nautilus(backwards, "sma", params, fill_at=fill_at)
    assert sorted(rows(forward_run)) != sorted(rows(backward_run)), "the order must matter here"
    assert_same(forward_run, vector(bars, "sma", params, fill_at=fill_at))
    assert_same(backward_run, vector(backwards, "sma", params, fill_at=fill_at))


@pytest.mark.parametrize("fill_at", FILLS)
@pytest.mark.parametrize("name", list(PARAMS))
def test_minute_bars_thin_volume(name, fill_at):
    bars = thin(histories("1-MINUTE", "2024-05-01", "2024-05-03"))
    options = {"fill_at": fill_at, "commission": "ibkr-tiered", "bar_size": "1-MINUTE"}
    params = {**PARAMS[name], "position_pct": 1.0}
    assert_same(nautilus(bars, name, params, **options), vector(bars, name, params, **options))


@pytest.mark.parametrize("fill_at", FILLS)
def test_tiers_count_the_whole_accounts_month_volume(fill_at):
    # About a million shares an order at about USD 1.50: the month's volume, summed over the three
    # symbols, crosses into cheaper tiers.
    bars = histories("1-DAY", "2022-01-01", "2023-12-31")
    for frame in bars.values():
        prices = ["open", "high", "low", "close"]
        frame[prices] = (frame[prices] * (1.50 / float(frame["close"].iloc[0]))).round(2)
        frame["volume"] = 1e12
    options = {"fill_at": fill_at, "commission": "ibkr-tiered", "capital": 1e7}
    expected = nautilus(bars, "sma", PARAMS["sma"], **options)
    assert len({round(f.commission / f.quantity, 6) for f in expected.fills if f.side == "BUY"}) > 1
    assert_same(expected, vector(bars, "sma", PARAMS["sma"], **options))


@pytest.mark.parametrize("fill_at", FILLS)
@pytest.mark.parametrize("name", list(PARAMS))
def test_inverse_vol_allocation(name, fill_at):
    bars = thin(histories())
    options = {"fill_at": fill_at, "allocation": "inverse-vol"}
    assert_same(nautilus(bars, name, PARAMS[name], **options), vector(bars, name, PARAMS[name], **options))


@pytest.mark.parametrize("fill_at", FILLS)
def test_a_basket_of_one_is_the_single_symbol_vector_run(fill_at):
    frame = generate_bars("AAPL", "2021-01-01", "2023-12-31")
    spec = get_strategy("sma")
    params = {**spec.defaults(), **PARAMS["sma"]}
    single = run_vector(frame, spec, params, bar_size=parse_bar_size("1-DAY"), fill_at=fill_at, symbol="AAPL")
    basket = vector({"AAPL": frame}, "sma", PARAMS["sma"], fill_at=fill_at)
    assert len(single.fills) > 10
    assert [(f.timestamp, f.side, f.quantity, f.price, f.commission) for f in basket.fills] == [
        (f.timestamp, f.side, f.quantity, f.price, f.commission) for f in single.fills
    ]
    assert basket.final_equity == single.final_equity


def test_the_screen_ranks_on_the_accounts_curve():
    bars = histories()
    spec = get_strategy("sma")
    settings = VectorSettings.of(100_000.0, "ibkr-fixed", "close")
    basket = prepare_basket(bars, parse_bar_size("1-DAY"), next_open=False)
    grid = [{**spec.defaults(), "fast_period": f, "slow_period": 20} for f in (3, 5, 10)]
    screened = screen_basket(basket, spec, grid, settings)
    for params, figures in zip(grid, screened, strict=True):
        full = nautilus(bars, "sma", params)
        # The screen keeps the cash in exact cents; the engine's curve sums floats.
        assert figures.final_equity == pytest.approx(full.final_equity, rel=1e-12)
        curve = full.equity
        # Independent figures from the engine's own curve: total return and max drawdown.
        assert figures.total_return == pytest.approx(float(curve.iloc[-1]) / 100_000.0 - 1.0, rel=1e-12)
        drawdown = float((curve / curve.cummax() - 1.0).min())
        assert figures.max_drawdown == pytest.approx(drawdown, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("fill_at", FILLS)
def test_a_window_of_one_symbol_trades_as_the_single_symbol_window(fill_at):
    # Walk-forward windows: warm-up bars place no order, the last close sells what is held.
    from ntrader.backtest.vector import simulate
    from ntrader.backtest.vector.basket_run import _masks, basket_fills, run_basket_once
    from ntrader.backtest.vector.commission import commission_terms
    from ntrader.backtest.vector.run import fills_of
    from ntrader.strategies.signals import SignalCache

    frame = generate_bars("AAPL", "2021-01-01", "2021-12-31")
    spec = get_strategy("sma")
    params = {**spec.defaults(), **PARAMS["sma"]}
    settings = VectorSettings.of(50_000.0, "ibkr-tiered", fill_at)
    basket = prepare_basket({"AAPL": frame}, parse_bar_size("1-DAY"), next_open=fill_at == "next-open")
    (vb,) = basket.bars.values()
    for trade_from in (0, 60, 200):
        single = simulate(vb, spec, params, settings, trade_from=trade_from, liquidate=True)
        masks = _masks(basket, spec, params, [SignalCache(vb)])
        rules = FoldRules(trade_from=trade_from, liquidate=True)
        run = run_basket_once(basket, masks, params, settings, commission_terms(settings.commission),
                              detail=True, rules=rules)  # fmt: skip
        assert single.position == 0 and run.run.position == 0
        assert len(single.fills) >= 4
        assert [
            (f.timestamp, f.side, f.quantity, f.price, f.commission) for f in basket_fills(basket, run)
        ] == [
            (f.timestamp, f.side, f.quantity, f.price, f.commission) for f in fills_of(vb, single, settings)
        ]
        assert run.run.cash_c == single.cash_c
