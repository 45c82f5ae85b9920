"""Numbers that never lie: orders never overdraw, a run the engine stopped is never "completed",
denied orders and decisions left at the end are counted, and the equity invariant holds."""

from __future__ import annotations

import json
import math
import textwrap
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from nautilus_trader.model.enums import OrderSide, TimeInForce

import ntrader.backtest.order_history as order_history
from ntrader.backtest.costs import parse_commission
from ntrader.backtest.engine import (
    STATUS_COMPLETED,
    STATUS_HALTED,
    STATUS_INCONSISTENT,
    OwnedBars,
    run_engine,
)
from ntrader.cli import cli
from ntrader.data import parse_bar_size
from ntrader.data.mock import generate_bars
from ntrader.db.runs import get_run, list_runs
from ntrader.nautilus_compat import bar_close_takes_rest
from ntrader.strategies import SignalStrategy, SignalStrategyConfig, get_strategy
from ntrader.strategies.base import affordable_quantity, available_at_price

CAPITAL = 100_000.0


def run_sma(
    bars, fill_at="close", commission="ibkr-fixed", bar_size="1-DAY", liquidity="bar-volume", **params
):
    spec = get_strategy("sma")
    typed = {**spec.defaults(), **params}
    return run_engine(
        bars,
        symbol="AAPL",
        bar_size=parse_bar_size(bar_size),
        strategy_class=spec.strategy_class,
        config_factory=lambda iid, bt: spec.build_config(typed, instrument_id=iid, bar_type=bt),
        capital=CAPITAL,
        fee_model=parse_commission(commission).fee_model(),
        fill_at=fill_at,
        liquidity=liquidity,
    )


def with_gap(bars: pd.DataFrame, at: int, factor: float) -> pd.DataFrame:
    """Every price from bar `at` on scaled by `factor`: bar `at` opens with a gap."""
    out = bars.copy()
    out.iloc[at:, :4] = (out.iloc[at:, :4] * factor).round(2)
    return out


def first_entry_bar(bars: pd.DataFrame) -> int:
    result = run_sma(bars)
    buy = next(f for f in result.fills if f.side == "BUY")
    closes_at = parse_bar_size("1-DAY").close_times(pd.DatetimeIndex(bars.index))
    return int(np.flatnonzero(closes_at == buy.timestamp)[0])


def cash_path_never_negative(result) -> None:
    cash = CAPITAL
    for fill in result.fills:
        signed = fill.quantity if fill.side == "BUY" else -fill.quantity
        cash -= signed * fill.price + fill.commission
        assert cash >= -1e-6, f"cash {cash:.2f} after {fill}"


def test_next_open_entry_after_a_gap_up_is_sized_from_the_open_and_the_run_completes():
    bars = generate_bars("AAPL", "2023-01-01", "2024-12-31")
    signal = first_entry_bar(bars)
    gapped = with_gap(bars, signal + 1, 1.08)
    result = run_sma(gapped, fill_at="next-open")
    # Before the fix: the engine stopped on its first fill (AccountBalanceNegative) and the run
    # was saved as completed with figures for the whole period.
    assert result.status == STATUS_COMPLETED, result.halt_reason
    first = result.fills[0]
    open_price = float(gapped["open"].iloc[signal + 1])
    assert first.price == pytest.approx(open_price)
    assert first.quantity == math.floor(CAPITAL * 0.95 / open_price)
    assert len(result.fills) > 2
    cash_path_never_negative(result)
    assert result.orders_denied == 0 and result.orders_rejected == 0


def test_full_position_with_commissions_on_minute_bars_never_overdraws():
    bars = generate_bars("AAPL", "2024-03-04", "2024-03-15", bar_size="1-MINUTE")
    result = run_sma(bars, bar_size="1-MINUTE", position_pct=1.0)
    # Before the fix: the engine stopped on day 3 after 131 of 755 orders, reported as completed.
    assert result.status == STATUS_COMPLETED, result.halt_reason
    assert result.equity.index[-1] == parse_bar_size("1-MINUTE").close_times(pd.DatetimeIndex(bars.index))[-1]
    assert result.orders >= 50
    cash_path_never_negative(result)
    for fill in result.fills:
        assert fill.commission > 0


def test_next_open_entry_after_a_falling_bar_is_not_denied():
    bars = generate_bars("AAPL", "2023-01-01", "2024-12-31")
    signal = first_entry_bar(bars)
    falling = bars.copy()
    # The signal bar opens 7 % above its close (the risk engine used to value the buy there).
    close = falling["close"].iloc[signal]
    falling.iloc[signal, falling.columns.get_loc("open")] = round(close * 1.07, 2)
    falling.iloc[signal, falling.columns.get_loc("high")] = round(close * 1.07, 2)
    result = run_sma(falling, fill_at="next-open")
    assert result.orders_denied == 0
    assert (
        result.fills[0].timestamp
        == parse_bar_size("1-DAY").open_times(pd.DatetimeIndex(bars.index))[signal + 1]
    )


def test_affordable_quantity_includes_costs_and_slippage():
    def costs(qty, notional):
        return max(100, qty // 2)  # one dollar minimum, half a cent a share

    assert affordable_quantity(100, 1_000, 100_000 + 100, None, costs) == 100
    # 100 shares cost 100 000 + 100 cents: one cent short → cut to what is left after those costs.
    assert affordable_quantity(100, 1_000, 100_099, None, costs) == 99
    # Slippage: above 40 shares the rest costs one cent more.
    assert affordable_quantity(100, 1_000, 100_100, 40, costs) == 99
    # The close's share of the bar: a rounded quarter on Nautilus 1.221, the rest after three rounded-down
    # quarters on 1.231 (measured on the engine in test_bar_volume_split.py).
    assert available_at_price(397, next_open=False) == (100 if bar_close_takes_rest() else 99)
    assert available_at_price(398, next_open=False) == (101 if bar_close_takes_rest() else 100)
    assert available_at_price(0, next_open=True) == 1


class OverdrawConfig(SignalStrategyConfig, frozen=True):
    at_bar: int = 30


class Overdraw(SignalStrategy):
    """Buys twice what the cash can pay, bypassing the sizing helpers (a user strategy could)."""

    config: OverdrawConfig

    def setup(self):
        self.seen = 0

    def on_signal_bar(self, bar):
        self.seen += 1
        if self.seen == self.config.at_bar:
            assert self.instrument is not None
            qty = math.floor(2 * CAPITAL / bar.close.as_double())
            order = self.order_factory.market(
                instrument_id=self.instrument.id,
                order_side=OrderSide.BUY,
                quantity=self.instrument.make_qty(Decimal(qty)),
                time_in_force=TimeInForce.GTC,
            )
            self.submit_order(order)


def run_custom(strategy_class, config):
    bars = generate_bars("AAPL", "2023-01-01", "2023-12-31")
    return bars, run_engine(
        bars,
        symbol="AAPL",
        bar_size=parse_bar_size("1-DAY"),
        strategy_class=strategy_class,
        config_factory=lambda iid, bt: config(instrument_id=iid, bar_type=bt),
        capital=CAPITAL,
        fee_model=parse_commission("ibkr-fixed").fee_model(),
    )


def test_an_order_that_overdraws_halts_the_run_and_its_figures_stop_there():
    bars, result = run_custom(Overdraw, OverdrawConfig)
    # Nautilus raised AccountBalanceNegative and stopped; before, this was "completed" with the
    # position marked to the end of the year.
    assert result.status == STATUS_HALTED
    assert "AccountBalanceNegative" in result.halt_reason
    closes_at = parse_bar_size("1-DAY").close_times(pd.DatetimeIndex(bars.index))
    assert result.halted_at == closes_at[29]
    assert len(result.equity) == 29
    assert result.fills == []  # the overdrawing fill is not counted
    assert result.final_equity == CAPITAL


class Raises(SignalStrategy):
    def setup(self):
        self.seen = 0

    def on_signal_bar(self, bar):
        self.seen += 1
        if self.seen == 40:
            raise ZeroDivisionError("boom on bar 40")
        if self.seen == 5:
            self.go_long(bar)


def test_a_strategy_that_raises_halts_the_run_at_that_bar():
    bars, result = run_custom(Raises, SignalStrategyConfig)
    assert result.status == STATUS_HALTED
    # The reason names the exception, its message, and where the user's code raised it.
    for part in (
        "the strategy raised ZeroDivisionError",
        "boom on bar 40",
        "test_run_integrity.py:",
        "on_signal_bar",
    ):
        assert part in result.halt_reason
    closes_at = parse_bar_size("1-DAY").close_times(pd.DatetimeIndex(bars.index))
    assert result.halted_at == closes_at[39]
    # Metrics cover the 39 bars before the stop, not the whole year.
    assert len(result.equity) == 39
    assert result.equity.index[-1] == closes_at[38]


def test_an_equity_curve_that_disagrees_with_the_account_is_inconsistent(monkeypatch):
    real = order_history.OrderHistory.fills

    def drop_last(history):
        return real(history)[:-1]

    monkeypatch.setattr(order_history.OrderHistory, "fills", drop_last)
    result = run_sma(generate_bars("AAPL", "2023-01-01", "2023-12-31"))
    assert result.status == STATUS_INCONSISTENT
    assert "differs from the account" in result.halt_reason


def test_entry_on_the_last_bar_is_not_opened_and_is_counted():
    bars = generate_bars("AAPL", "2023-01-01", "2024-12-31")
    full = run_sma(bars, fill_at="close")
    closes_at = parse_bar_size("1-DAY").close_times(pd.DatetimeIndex(bars.index))
    third_entry = [f for f in full.fills if f.side == "BUY"][2]
    k = int(np.flatnonzero(closes_at == third_entry.timestamp)[0])
    ending_on_entry = bars.iloc[: k + 1]  # the SMA crosses up on the very last bar
    close = run_sma(ending_on_entry, fill_at="close")
    assert close.skipped_on_last_bar == 1
    assert close.fills == [f for f in full.fills if f.timestamp < third_entry.timestamp]
    assert close.fills[-1].side == "SELL"
    nxt = run_sma(ending_on_entry, fill_at="next-open")
    assert nxt.unfilled_at_end == 1
    assert nxt.fills[-1].side == "SELL"
    assert nxt.trades["exit_time"].notna().all()  # nothing is left open


USER_RAISES = """
from ntrader.strategies import SignalStrategy, SignalStrategyConfig

class Boom(SignalStrategy):
    def setup(self):
        self.seen = 0

    def on_signal_bar(self, bar):
        self.seen += 1
        if self.seen == 3:
            self.go_long(bar)
        if self.seen == 60:
            raise RuntimeError("user bug")
"""


def test_halted_run_is_saved_halted_and_the_cli_exits_5(database_url, tmp_path: Path):
    path = tmp_path / "boom.py"
    path.write_text(textwrap.dedent(USER_RAISES))
    runner = CliRunner()
    result = runner.invoke(
        cli, ["backtest", "run", "-s", f"{path}:Boom", "--symbol", "AAPL", "--start", "2023-01-01",
              "--end", "2023-12-31"],
    )  # fmt: skip
    assert result.exit_code == 5, result.output
    assert "halted" in result.output.lower()
    output = " ".join(result.output.split())
    assert "RuntimeError" in output and "user bug" in output and "boom.py:13" in output
    (run,) = list_runs(url=database_url)
    assert run.status == "halted"
    reason = run.settings["halt"]["reason"]
    assert "RuntimeError" in reason and "user bug" in reason and "boom.py:13" in reason
    assert run.bars == 59
    listed = runner.invoke(cli, ["backtest", "list-results"])
    assert "halted" in listed.output
    shown = runner.invoke(cli, ["backtest", "list-results", "--json"])
    assert json.loads(shown.output)[0]["status"] == "halted"


def test_completed_run_stores_order_counts(database_url):
    result = CliRunner().invoke(
        cli, ["backtest", "run", "--strategy", "sma", "--symbol", "AAPL", "--start", "2023-01-01",
              "--end", "2023-12-31", "--fill-at", "next-open", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = get_run(json.loads(result.output)["id"], url=database_url)
    assert run.status == "completed"
    for key in ("orders", "orders_denied", "orders_rejected", "unfilled_at_end", "split_fills"):
        assert isinstance(run.settings[key], int)
    assert run.settings["liquidity"].startswith("bar volume")
    summary = CliRunner().invoke(cli, ["report", "summary", str(run.id)])
    assert f"{run.settings['orders']} orders · 0 denied · 0 rejected" in " ".join(summary.output.split())


def test_average_fill_prices_keep_the_decimals_that_tell_them_apart():
    from ntrader.reports.model import _price

    # 99 shares at 99.69 and 1 at 99.70 (a split fill) average 99.6901: it must not read 99.69.
    assert _price((99 * 99.69 + 99.70) / 100) == "99.6901"
    assert _price(99.69) == "99.69"
    assert _price(1234.5) == "1,234.50"


def test_sma_ties_are_ties_in_exact_cents():
    """On a cent grid that often stands still SMA(10) == SMA(30) exactly on some bars; a tie is
    "not above", whatever floating-point sums of the same closes say."""
    rng = np.random.default_rng(0)
    close = np.round(100.0 + np.cumsum(rng.choice([-0.02, -0.01, 0.0, 0.0, 0.0, 0.01, 0.02], size=1500)), 2)
    index = pd.bdate_range("2015-01-01", periods=len(close), tz="UTC", name="timestamp")
    bars = pd.DataFrame(
        {"open": close, "high": close + 0.25, "low": close - 0.25, "close": close}, index=index
    )
    bars["volume"] = 5e6
    cents = pd.Series(np.round(close * 100).astype(np.int64), index=index)
    above = cents.rolling(10).sum() * 30 > cents.rolling(30).sum() * 10
    ties = (cents.rolling(10).sum() * 30 == cents.rolling(30).sum() * 10).sum()
    assert ties >= 5
    # Float means (left-to-right sums) call some of those ties "above": rounding noise, not a signal.

    def float_mean(stop: int, period: int) -> float:
        total = 0.0
        for value in close[stop - period : stop]:
            total += float(value)
        return total / period

    tie_bars = np.flatnonzero((cents.rolling(10).sum() * 30 == cents.rolling(30).sum() * 10).to_numpy())
    assert sum(float_mean(i + 1, 10) > float_mean(i + 1, 30) for i in tie_bars) >= 1
    defined = cents.rolling(30).count().eq(30) & cents.rolling(30).count().shift(1).eq(30)
    up = defined & above & ~above.shift(1, fill_value=False)
    down = defined & ~above & above.shift(1, fill_value=False)
    expected_entries, long = [], False
    for ts in index[up | down]:
        if up[ts] and not long:
            expected_entries.append(ts)
            long = True
        elif down[ts] and long:
            long = False
    result = run_sma(bars, commission="none", fast_period=10, slow_period=30)
    closes_at = parse_bar_size("1-DAY").close_times(index)
    by_close = dict(zip(closes_at, index, strict=True))
    entries = [by_close[f.timestamp] for f in result.fills if f.side == "BUY"]
    assert entries == [ts for ts in expected_entries if ts != index[-1]]
    assert "tie counts as not above" in get_strategy("sma").rule


def test_bars_handed_over_for_good_give_the_same_run_and_keep_only_the_closes():
    """`OwnedBars`: the engine frees the bars but their closes after Nautilus ran; the run is the one
    a caller-held frame gives, and its closes sit on the curve's own index for the metrics."""
    bars = generate_bars("AAPL", "2023-01-01", "2023-12-31")
    held = run_sma(bars)
    handed = OwnedBars(bars.copy())
    owned = run_sma(handed)
    assert owned.fills == held.fills and len(owned.fills) > 4
    pd.testing.assert_series_equal(owned.equity, held.equity)
    pd.testing.assert_frame_equal(owned.trades, held.trades)
    assert held.curve_closes is None
    assert owned.curve_closes.index is owned.equity.index
    assert owned.curve_closes.tolist() == bars["close"].tolist()
    assert handed.attrs == {}
    with pytest.raises(RuntimeError, match="handed to an engine already"):
        handed.take()


def test_a_halted_run_handed_its_bars_keeps_the_closes_up_to_the_halt():
    bars = generate_bars("AAPL", "2023-01-01", "2023-12-31")
    result = run_engine(
        OwnedBars(bars),
        symbol="AAPL",
        bar_size=parse_bar_size("1-DAY"),
        strategy_class=Raises,
        config_factory=lambda iid, bt: SignalStrategyConfig(instrument_id=iid, bar_type=bt),
        capital=CAPITAL,
    )
    assert result.status == STATUS_HALTED and len(result.equity) == 39
    assert result.curve_closes.index.equals(result.equity.index)
    assert result.curve_closes.tolist() == bars["close"].iloc[:39].tolist()
