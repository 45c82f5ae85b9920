"""Many symbols, one account: basket mode and portfolio strategies in one Nautilus engine.

Every figure is checked against an independent computation from the fills and the bars (plain
loops), never against the engine wrapper's own curves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from ntrader.backtest.costs import parse_commission
from ntrader.backtest.engine import run_engine
from ntrader.backtest.portfolio_engine import PortfolioSetup, run_portfolio
from ntrader.backtest.result import RunResult
from ntrader.data import load_bars, parse_period
from ntrader.data.bars import parse_bar_size
from ntrader.strategies import get_strategy
from ntrader.strategies.allocation import rotation_holdings
from ntrader.strategies.portfolio import calendar_due
from ntrader.strategies.spec import StrategySpec

DAY = parse_bar_size("1-DAY")
SYMBOLS = ("AAPL", "MSFT", "SPY")


def _bars(symbols: tuple[str, ...] = SYMBOLS, start: str = "2022-01-01", end: str = "2024-12-31") -> dict:
    period = parse_period(start, end)
    return {s: load_bars(s, period) for s in symbols}


def _basket(
    bars: dict, spec: StrategySpec, params: dict[str, Any] | None = None, **options: Any
) -> RunResult:
    typed = {**spec.defaults(), **(params or {})}
    setup = PortfolioSetup(
        symbols=tuple(bars),
        bar_size=DAY,
        strategy_class=spec.strategy_class,
        config_factory=lambda i, b, slot: spec.build_config(
            typed, instrument_id=i, bar_type=b, order_id_tag=f"{slot:03d}"
        ),
        capital=options.pop("capital", 100_000.0),
        fee_model=parse_commission(options.pop("commission", "ibkr-fixed")).fee_model(),
        **options,
    )
    return run_portfolio(bars, setup)


def _portfolio(bars: dict, name: str, params: dict[str, Any], **options: Any) -> RunResult:
    spec = get_strategy(name)
    typed = {**spec.defaults(), **params}
    setup = PortfolioSetup(
        symbols=tuple(bars),
        bar_size=DAY,
        strategy_class=spec.strategy_class,
        config_factory=lambda i, b, slot: spec.build_config(typed),
        capital=options.pop("capital", 100_000.0),
        fee_model=parse_commission(options.pop("commission", "ibkr-fixed")).fee_model(),
        **options,
    )
    return run_portfolio(bars, setup)


def _replay(bars: dict, result: RunResult) -> tuple[pd.Series, list[float]]:
    """Cash + Σ shares × last known close at every bar time, and the cash after every fill,
    walked fill by fill and time by time (no shared code with the engine wrapper)."""
    times = sorted({t for frame in bars.values() for t in DAY.close_times(pd.DatetimeIndex(frame.index))})
    closes = {
        s: dict(zip(DAY.close_times(pd.DatetimeIndex(f.index)), f["close"], strict=True))
        for s, f in bars.items()
    }
    fills = sorted(result.fills, key=lambda f: f.timestamp)
    cash, held, last = result.capital, dict.fromkeys(bars, 0.0), dict.fromkeys(bars, 0.0)
    cash_after_fills: list[float] = []
    out, k = [], 0
    for t in times:
        while k < len(fills) and fills[k].timestamp <= t:
            f = fills[k]
            sign = 1 if f.side == "BUY" else -1
            cash -= sign * f.quantity * f.price + f.commission
            held[f.symbol] += sign * f.quantity
            cash_after_fills.append(cash)
            k += 1
        for s in bars:
            if t in closes[s]:
                last[s] = closes[s][t]
        out.append(cash + sum(held[s] * last[s] for s in bars))
    return pd.Series(out, index=pd.DatetimeIndex(times)), cash_after_fills


@pytest.mark.parametrize("fill_at", ["close", "next-open"])
def test_basket_of_one_is_the_single_symbol_run(fill_at: str) -> None:
    bars = _bars(("AAPL",))
    spec = get_strategy("sma")
    single = run_engine(
        bars["AAPL"],
        symbol="AAPL",
        bar_size=DAY,
        strategy_class=spec.strategy_class,
        config_factory=lambda i, b: spec.build_config(spec.defaults(), instrument_id=i, bar_type=b),
        capital=100_000.0,
        fee_model=parse_commission("ibkr-fixed").fee_model(),
        fill_at=fill_at,
    )
    basket = _basket(bars, spec, fill_at=fill_at)
    assert len(single.fills) > 10
    assert [(f.timestamp, f.side, f.quantity, f.price, f.commission) for f in basket.fills] == [
        (f.timestamp, f.side, f.quantity, f.price, f.commission) for f in single.fills
    ]
    pd.testing.assert_series_equal(basket.equity, single.equity)
    pd.testing.assert_frame_equal(basket.trades.drop(columns="symbol"), single.trades)


@pytest.mark.parametrize("fill_at", ["close", "next-open"])
def test_basket_shares_one_account_and_never_overdraws(fill_at: str) -> None:
    bars = _bars()
    result = _basket(bars, get_strategy("sma"), {"fast_period": 5, "slow_period": 20}, fill_at=fill_at)
    assert result.status == "completed", result.halt_reason
    assert set(result.trades["symbol"]) == set(SYMBOLS)
    assert {f.symbol for f in result.fills} == set(SYMBOLS)
    expected, cash = _replay(bars, result)
    np.testing.assert_allclose(result.equity.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-6)
    assert min(cash) >= 0
    # Several symbols are held at once: the account is shared, each entry sized at 0.95/3 of equity.
    held = (result.positions != 0).sum(axis=1)
    assert held.max() >= 2
    entries = [f for f in result.fills if f.side == "BUY"]
    # The equity the entry was sized on: the account at the last bar close before the fill.
    equity_before = [expected[expected.index < f.timestamp].iloc[-1] for f in entries]
    for fill, equity in zip(entries, equity_before, strict=True):
        assert fill.quantity * fill.price <= equity * 0.95 / 3 + fill.price


def test_a_later_listing_keeps_every_other_bar() -> None:
    bars = _bars()
    bars["MSFT"] = bars["MSFT"].loc["2023-06-01":]  # listed later
    bars["SPY"] = bars["SPY"].drop(bars["SPY"].index[100:103])  # three missing days
    result = _basket(bars, get_strategy("sma"), {"fast_period": 5, "slow_period": 20})
    assert result.status == "completed", result.halt_reason
    first_msft = DAY.close_times(pd.DatetimeIndex(bars["MSFT"].index))[0]
    assert all(f.timestamp >= first_msft for f in result.fills if f.symbol == "MSFT")
    assert result.closes is not None and result.positions is not None
    assert len(result.equity) == len(bars["AAPL"])  # the union of the times: AAPL's
    assert result.closes["MSFT"].loc[: first_msft - pd.Timedelta(seconds=1)].isna().all()
    assert result.closes["AAPL"].notna().all()
    assert result.bars == sum(len(f) for f in bars.values())
    expected, cash = _replay(bars, result)
    np.testing.assert_allclose(result.equity.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-6)
    assert min(cash) >= 0
    # No SPY fill on a day SPY has no bar.
    spy_times = set(DAY.close_times(pd.DatetimeIndex(bars["SPY"].index)))
    assert all(f.timestamp in spy_times for f in result.fills if f.symbol == "SPY")


def test_rotation_holds_the_pandas_ranking() -> None:
    symbols = ("SPY", "QQQ", "IWM", "EFA", "TLT", "GLD")
    bars = _bars(symbols)
    result = _portfolio(bars, "rotation", {"top": 2, "lookback": 63, "rebalance": "monthly"})
    assert result.status == "completed", result.halt_reason
    panel = pd.DataFrame(
        {s: f["close"].set_axis(DAY.close_times(pd.DatetimeIndex(f.index))) for s, f in bars.items()}
    )
    trailing = panel / panel.shift(63) - 1.0
    months = panel.index.tz_convert("America/New_York").tz_localize(None).to_period("M")
    first_of_month = np.r_[True, months[1:] != months[:-1]]
    checked = 0
    for row in np.flatnonzero(first_of_month)[:-1]:
        ranked = trailing.iloc[row].dropna()
        if ranked.empty:
            assert (result.positions.iloc[row] == 0).all()
            continue
        top = set(ranked.sort_values(ascending=False, kind="stable").index[:2])
        held = set(result.positions.columns[result.positions.iloc[row] > 0])
        assert held == top, panel.index[row]
        checked += 1
    assert checked >= 30
    assert set(rotation_holdings(panel.iloc[:200], 63, 2)) == set(
        trailing.iloc[199].sort_values(ascending=False).index[:2]
    )


def test_rebalance_hits_its_weights_within_a_share() -> None:
    bars = _bars(("SPY", "TLT"))
    result = _portfolio(bars, "rebalance", {"weights": "SPY:0.6,TLT:0.4", "rebalance": "monthly"})
    assert result.status == "completed", result.halt_reason
    expected, cash = _replay(bars, result)
    np.testing.assert_allclose(result.equity.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-6)
    assert min(cash) >= 0
    due = calendar_due(pd.DatetimeIndex(result.closes.index), "monthly")
    positions, closes = result.positions, result.closes
    checked = 0
    for row in np.flatnonzero(due)[1:-1]:
        # The decision sees the account as it stood, marked at this bar's closes.
        before = positions.iloc[row - 1]
        cash_before = expected.iloc[row - 1] - (before * closes.iloc[row - 1]).sum()
        equity = cash_before + (before * closes.iloc[row]).sum()
        for symbol, weight in (("SPY", 0.6), ("TLT", 0.4)):
            target = int(weight * equity // closes.iloc[row][symbol])
            # Whole shares: the target, or one less when the cash after costs does not cover it.
            assert target - 1 <= positions.iloc[row][symbol] <= target, (closes.index[row], symbol)
        values = positions.iloc[row] * closes.iloc[row]
        assert abs(values["SPY"] / equity - 0.6) < 0.01
        checked += 1
    assert checked >= 30


def test_rebalance_all_in_one_symbol_is_buy_and_hold() -> None:
    bars = _bars(("SPY",))
    result = _portfolio(bars, "rebalance", {"weights": "SPY:1.0", "rebalance": "monthly"})
    assert result.status == "completed"
    buys = [f for f in result.fills if f.side == "BUY"]
    assert len(result.trades) == 1 and not [f for f in result.fills if f.side == "SELL"]
    first = bars["SPY"]["close"].iloc[0]
    shares = sum(f.quantity for f in buys)
    # All the cash a share and its commission can buy at the first close, held to the end.
    assert shares == (100_000 - 1.0) // first or shares == 100_000 // first - 1
    assert buys[0].timestamp == DAY.close_times(pd.DatetimeIndex(bars["SPY"].index))[0]
    cost = sum(f.quantity * f.price + f.commission for f in buys)
    hold = 100_000 - cost + shares * bars["SPY"]["close"].to_numpy()
    np.testing.assert_allclose(result.equity.to_numpy(), hold, rtol=0, atol=1e-6)


def test_next_open_is_refused_for_portfolio_strategies() -> None:
    from ntrader.errors import InputError

    with pytest.raises(InputError, match="portfolio strategies fill at the bar's close"):
        _portfolio(_bars(("SPY", "TLT")), "rotation", {"top": 1, "lookback": 20}, fill_at="next-open")


def test_trades_add_up_to_the_account_when_positions_are_trimmed() -> None:
    # A rebalance trims and tops up positions that stay open: their trades' P&L (realized on the
    # shares sold, marked at the last close on the rest) still adds up to the account's gain.
    bars = _bars(("SPY", "TLT"))
    result = _portfolio(bars, "rebalance", {"weights": "SPY:0.6,TLT:0.4", "rebalance": "monthly"})
    assert any(f.side == "SELL" for f in result.fills) and result.trades["exit_time"].isna().all()
    assert result.trades["pnl"].sum() == pytest.approx(result.final_equity - result.capital, abs=0.01)
    for symbol in ("SPY", "TLT"):
        mine = [f for f in result.fills if f.symbol == symbol]
        held = sum(f.quantity if f.side == "BUY" else -f.quantity for f in mine)
        cash = sum(-f.quantity * f.price if f.side == "BUY" else f.quantity * f.price for f in mine)
        paid = sum(f.commission for f in mine)
        last = bars[symbol]["close"].iloc[-1]
        (trade,) = result.trades[result.trades["symbol"] == symbol].itertuples()
        assert trade.pnl == pytest.approx(cash + held * last - paid, abs=1e-6)


def test_a_strategy_that_raises_halts_the_portfolio_run_at_that_time() -> None:
    from ntrader.strategies.sma import SMACrossover

    class Breaks(SMACrossover):
        def on_signal_bar(self, bar):  # type: ignore[no-untyped-def]
            if str(bar.bar_type.instrument_id).startswith("MSFT") and bar.ts_event >= STOP.value:
                raise RuntimeError("boom")
            super().on_signal_bar(bar)

    bars = _bars(start="2022-01-01", end="2022-12-31")
    STOP = DAY.close_times(pd.DatetimeIndex(bars["MSFT"].index))[120]
    spec = get_strategy("sma")
    broken = StrategySpec(
        name="breaks", strategy_class=Breaks, config_class=spec.config_class, description=""
    )
    result = _basket(bars, broken, {"fast_period": 5, "slow_period": 20})
    assert result.status == "halted"
    assert "boom" in (result.halt_reason or "")
    assert result.halted_at is not None and result.equity.index[-1] < result.halted_at
    assert all(f.timestamp < result.halted_at for f in result.fills)
    assert len(result.equity) == 120  # the bars that closed before the engine stopped


def test_inverse_vol_sizes_each_entry_by_the_pandas_weights() -> None:
    bars = _bars(("AAPL", "MSFT", "SPY", "TLT"))
    result = _basket(
        bars, get_strategy("sma"), {"fast_period": 5, "slow_period": 20}, allocation="inverse-vol"
    )
    assert result.status == "completed", result.halt_reason
    times = {s: DAY.close_times(pd.DatetimeIndex(f.index)) for s, f in bars.items()}
    sigma = pd.DataFrame(
        {
            s: f["close"].set_axis(times[s]).pct_change().rolling(63, min_periods=20).std()
            for s, f in bars.items()
        }
    )
    inverse = 1.0 / sigma
    known = inverse.notna().sum(axis=1)
    weights = inverse.div(inverse.sum(axis=1), axis=0).mul(known / 4, axis=0).where(inverse.notna(), 0.25)
    assert not np.allclose(weights.iloc[-1], 0.25)  # the weights differ: the symbols' volatility does
    expected, _ = _replay(bars, result)
    checked = 0
    cash_before = result.capital
    fills = sorted(result.fills, key=lambda f: f.timestamp)
    for fill in fills:
        row = expected.index.get_loc(fill.timestamp)
        if fill.side == "BUY" and row > 0:
            before = result.positions.iloc[row - 1]
            equity = (
                expected.iloc[row - 1]
                + (before * (result.closes.iloc[row] - result.closes.iloc[row - 1])).sum()
            )
            target = int(equity * 0.95 * weights.loc[fill.timestamp, fill.symbol] // fill.price)
            if cash_before > (target + 2) * fill.price + 10:  # not cut by the cash
                assert abs(fill.quantity - target) <= 1, (fill, target)
                checked += 1
        sign = 1 if fill.side == "BUY" else -1
        cash_before -= sign * fill.quantity * fill.price + fill.commission
    assert checked >= 20


def test_the_rebalance_calendar_follows_new_york_dates() -> None:
    assert calendar_due(pd.DatetimeIndex([], tz="UTC"), "daily").size == 0
    index = pd.DatetimeIndex(
        ["2024-03-28 19:59", "2024-03-28 20:00", "2024-04-01 13:31", "2024-04-01 14:00", "2024-04-08 14:00"],
        tz="UTC",
    )
    assert calendar_due(index, "bar").tolist() == [True] * 5
    assert calendar_due(index, "daily").tolist() == [True, False, True, False, True]
    assert calendar_due(index, "weekly").tolist() == [True, False, True, False, True]
    assert calendar_due(index, "monthly").tolist() == [True, False, True, False, False]
    assert calendar_due(index, "quarterly").tolist() == [True, False, True, False, False]
    assert calendar_due(index, "never").tolist() == [True, False, False, False, False]
    # 2024-03-29 01:00 UTC is still 28 March in New York.
    late = pd.DatetimeIndex(["2024-03-28 20:00", "2024-03-29 01:00"], tz="UTC")
    assert calendar_due(late, "daily").tolist() == [True, False]


def test_a_curve_that_disagrees_with_the_account_is_inconsistent(monkeypatch: pytest.MonkeyPatch) -> None:
    import ntrader.backtest.portfolio_engine as portfolio_engine

    real = portfolio_engine.portfolio_curves

    def off_by_a_dollar(*args: Any, **kwargs: Any) -> Any:
        equity, closes, positions = real(*args, **kwargs)
        return equity + 1.0, closes, positions

    monkeypatch.setattr(portfolio_engine, "portfolio_curves", off_by_a_dollar)
    result = _basket(_bars(end="2022-12-31"), get_strategy("sma"))
    assert result.status == "inconsistent"
    assert "differs from the account's balance plus the open positions" in (result.halt_reason or "")
