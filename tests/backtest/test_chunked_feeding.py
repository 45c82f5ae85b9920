"""Feeding the engine its bars in chunks (Nautilus's streaming mode, for memory) changes nothing:
the same fills, trades, equity, account and metrics as one run over all the bars, with positions
held across chunk borders, in every fill and liquidity mode, and the same halts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ntrader.backtest.engine as engine_module
from ntrader.backtest.costs import parse_commission
from ntrader.backtest.engine import (
    CHUNK_BARS,
    STATUS_COMPLETED,
    STATUS_HALTED,
    RunResult,
    bars_to_nautilus,
    run_engine,
)
from ntrader.data import parse_bar_size
from ntrader.data.mock import generate_bars
from ntrader.metrics import compute_metrics
from ntrader.strategies import SignalStrategyConfig, get_strategy

from .test_run_integrity import Overdraw, OverdrawConfig, Raises

MINUTE = parse_bar_size("1-MINUTE")
DAY = parse_bar_size("1-DAY")
CHUNK = 997  # odd, so borders fall anywhere in a session


@pytest.fixture(scope="module")
def minute_bars() -> pd.DataFrame:
    return generate_bars("AAPL", "2023-01-03", "2023-03-31", "1-MINUTE")  # ~24 000 bars


def run(bars, chunk_bars, *, bar_size=MINUTE, strategy=None, config=None, **options) -> RunResult:
    spec = get_strategy("sma")
    typed = {**spec.defaults(), "fast_period": 10, "slow_period": 20}
    return run_engine(
        bars,
        symbol="AAPL",
        bar_size=bar_size,
        strategy_class=strategy or spec.strategy_class,
        config_factory=config or (lambda iid, bt: spec.build_config(typed, instrument_id=iid, bar_type=bt)),
        capital=100_000.0,
        chunk_bars=chunk_bars,
        **options,
    )


def metrics_of(result: RunResult, bars: pd.DataFrame, fills_at_open: bool) -> dict:
    closes = bars["close"].set_axis(MINUTE.close_times(pd.DatetimeIndex(bars.index)))
    return compute_metrics(
        result.equity,
        result.trades,
        closes.loc[result.equity.index],
        capital=result.capital,
        fills_at_open=fills_at_open,
    ).to_json_dict()


def borders_crossed(result: RunResult, bars: pd.DataFrame) -> int:
    """How many positions were opened in one chunk and closed in a later one."""
    closes_at = MINUTE.close_times(pd.DatetimeIndex(bars.index))
    chunk_of = {stamp: i // CHUNK for i, stamp in enumerate(closes_at)}
    # A next-open fill is stamped at the open: the bar it fills in is the one opening then.
    opens_at = MINUTE.open_times(pd.DatetimeIndex(bars.index))
    chunk_of.update({stamp: i // CHUNK for i, stamp in enumerate(opens_at) if stamp not in chunk_of})
    crossed, position, opened_in = 0, 0.0, None
    for fill in result.fills:
        before = position
        position += fill.quantity if fill.side == "BUY" else -fill.quantity
        if before == 0:
            opened_in = chunk_of[fill.timestamp]
        elif position == 0 and chunk_of[fill.timestamp] != opened_in:
            crossed += 1
    return crossed


@pytest.mark.parametrize(
    ("fill_at", "liquidity", "commission"),
    [
        ("close", "bar-volume", "ibkr-fixed"),
        ("next-open", "bar-volume", "ibkr-tiered"),  # tiers read the engine clock at each fill
        ("next-open", "unlimited", "none"),
    ],
)
def test_chunked_run_equals_the_run_over_all_bars(minute_bars, fill_at, liquidity, commission):
    fee = None if commission == "none" else parse_commission(commission).fee_model()
    whole = run(minute_bars, None, fill_at=fill_at, liquidity=liquidity, fee_model=fee)
    fee = None if commission == "none" else parse_commission(commission).fee_model()
    chunked = run(minute_bars, CHUNK, fill_at=fill_at, liquidity=liquidity, fee_model=fee)

    assert whole.status == chunked.status == STATUS_COMPLETED, chunked.halt_reason
    assert len(whole.fills) > 300
    assert borders_crossed(chunked, minute_bars) >= 10  # positions held while the next chunk came
    assert chunked.fills == whole.fills
    pd.testing.assert_frame_equal(chunked.trades, whole.trades)
    pd.testing.assert_series_equal(chunked.equity, whole.equity)
    assert chunked.final_equity == whole.final_equity
    assert chunked.final_balance == whole.final_balance
    assert chunked.order_summary() == whole.order_summary()
    next_open = fill_at == "next-open"
    assert metrics_of(chunked, minute_bars, next_open) == metrics_of(whole, minute_bars, next_open)


def test_by_default_the_engine_never_holds_more_than_a_chunk_of_bars(minute_bars, monkeypatch):
    fed: list[int] = []

    def counting(frame, *args, **kwargs):
        fed.append(len(frame))
        return bars_to_nautilus(frame, *args, **kwargs)

    monkeypatch.setattr(engine_module, "bars_to_nautilus", counting)
    spec = get_strategy("sma")
    result = run_engine(
        minute_bars,
        symbol="AAPL",
        bar_size=MINUTE,
        strategy_class=spec.strategy_class,
        config_factory=lambda iid, bt: spec.build_config(spec.defaults(), instrument_id=iid, bar_type=bt),
        capital=100_000.0,
    )
    assert result.status == STATUS_COMPLETED
    assert len(minute_bars) > CHUNK_BARS
    assert max(fed) == CHUNK_BARS
    assert sum(fed) - fed.count(1) == len(minute_bars)  # (one 1-bar call: the last bar's stamp)


@pytest.mark.parametrize(("strategy", "config"), [(Overdraw, OverdrawConfig), (Raises, SignalStrategyConfig)])
def test_a_halt_inside_a_later_chunk_halts_as_the_run_over_all_bars(strategy, config):
    bars = generate_bars("AAPL", "2023-01-01", "2023-12-31")
    options = {
        "bar_size": DAY,
        "strategy": strategy,
        "config": lambda iid, bt: config(instrument_id=iid, bar_type=bt),
        "fee_model": parse_commission("ibkr-fixed").fee_model(),
    }
    whole = run(bars, None, **options)
    chunked = run(bars, 7, **options)  # the halt (bar 30 or 40) falls in the 5th or 6th chunk
    assert whole.status == chunked.status == STATUS_HALTED
    assert chunked.halt_reason == whole.halt_reason
    assert chunked.halted_at == whole.halted_at
    assert chunked.fills == whole.fills
    pd.testing.assert_series_equal(chunked.equity, whole.equity)
    assert chunked.final_equity == whole.final_equity
    assert np.isfinite(chunked.final_equity)


def _cache_watcher(reads: bool) -> type:
    """The SMA strategy, noting how many closed orders and account states Nautilus holds."""
    base = get_strategy("sma").strategy_class

    class Watcher(base):  # type: ignore[misc, valid-type]
        reads_closed_orders = reads
        most_closed = 0
        most_states = 0

        def on_signal_bar(self, bar):
            cls = type(self)
            cls.most_closed = max(cls.most_closed, len(self.cache.orders_closed()))
            account = self.portfolio.account(self.config.instrument_id.venue)
            cls.most_states = max(cls.most_states, account.event_count)
            super().on_signal_bar(bar)

    return Watcher


def test_between_chunks_closed_orders_leave_the_cache_and_every_fill_is_kept(minute_bars):
    forgetting, keeping = _cache_watcher(False), _cache_watcher(True)
    forgot = run(minute_bars, CHUNK, strategy=forgetting)
    kept = run(minute_bars, CHUNK, strategy=keeping)
    whole = run(minute_bars, None)

    orders = forgot.order_summary()["orders"]
    assert orders > 300
    # Keeping: every closed order is in the cache by the end; forgetting: a chunk's at most.
    assert keeping.most_closed >= orders - 2
    assert forgetting.most_closed < orders / 10
    assert forgetting.most_states < orders / 10 < keeping.most_states
    # ... and nothing is lost: the same fills, trades, equity and order counts as one whole run.
    for result in (forgot, kept):
        assert result.fills == whole.fills
        pd.testing.assert_frame_equal(result.trades, whole.trades)
        pd.testing.assert_series_equal(result.equity, whole.equity)
        assert result.order_summary() == whole.order_summary()
        assert result.final_balance == whole.final_balance


def test_only_strategies_that_never_read_closed_orders_let_the_engine_forget_them():
    from nautilus_trader.trading.strategy import Strategy

    from ntrader.backtest.order_history import forgets_closed_orders

    assert forgets_closed_orders(get_strategy("sma").strategy_class)
    assert forgets_closed_orders(get_strategy("rsi").strategy_class)
    assert not forgets_closed_orders(_cache_watcher(True))
    assert not forgets_closed_orders(Strategy)  # a plain Nautilus strategy keeps everything
