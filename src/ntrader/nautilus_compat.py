"""What differs between the Nautilus Trader releases ntrader runs on (1.221 on Python 3.11, 1.231 on 3.12+).

Every version check lives here, so the switch to one release (and later to 2.0, see docs/nautilus-2.md)
touches one file. Nautilus is imported only inside the functions that need it.
"""

from __future__ import annotations

import math
from functools import cache
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd


@cache
def nautilus_version() -> tuple[int, int]:
    """(major, minor) of the installed nautilus_trader, e.g. (1, 231), read without importing it."""
    major, minor = version("nautilus_trader").split(".")[:2]
    return int(major), int(minor)


def at_least(major: int, minor: int) -> bool:
    return nautilus_version() >= (major, minor)


def bar_close_takes_rest() -> bool:
    """Whether bar execution gives a bar's close what its three quarter-sized points left (1.231),
    rather than a quarter of the volume like the others (1.221). ntrader supports 1.221 and 1.231
    only; the change lies in between."""
    return nautilus_version() > (1, 221)


def _offer_sizes(volume: float, close_takes_rest: bool) -> tuple[int, int]:
    """(open/high/low size, close size) in shares of one bar's trade ticks under bar execution."""
    # The bar's volume is a whole-share Quantity already (rounded half up) before it is split.
    whole = math.floor(volume + 0.5)
    if not close_takes_rest:
        quarter = math.floor(max(whole / 4.0, 1.0) + 0.5)  # max(volume / 4, lot) as a Quantity
        return quarter, quarter
    quarter = max(whole // 4, 1)
    return quarter, (whole - 3 * quarter if 3 * quarter < whole else 1)


def available_at_close(volume: float, close_takes_rest: bool | None = None) -> int:
    """Shares of a whole-share instrument that Nautilus's bar execution offers at a bar's close,
    when the close is a new price in the bar (it differs from the bar's low; see `CloseOffer`).

    The volume is first rounded to whole shares (half up, as `Quantity` rounds). 1.221: a quarter of it
    (at least one share). 1.231 (`compute_bar_quarter_sizes`): the open, high and low get a quarter rounded
    down (at least one share); the close gets the rest, at least one share. So 397 shares offer 99 at the
    close on 1.221 and 100 on 1.231.
    """
    rest = bar_close_takes_rest() if close_takes_rest is None else close_takes_rest
    return _offer_sizes(volume, rest)[1]


class CloseOffer:
    """What the simulated book offers after each bar, followed bar by bar as the matching engine does.

    Bar execution turns a bar into trade ticks O, H, L, C (high before low), each sent only when its
    price differs from the last one (the high when above it, the low when below). The book then holds
    the last tick's size: the close's share when the close was sent, a quarter when the close equals
    the low, and, for a flat bar that sent nothing, what it held before. An opening trade tick
    (next-open fills) sets the book to its own price and size.
    """

    def __init__(self, close_takes_rest: bool | None = None) -> None:
        self.rest = bar_close_takes_rest() if close_takes_rest is None else close_takes_rest
        self.last: int | None = None  # raw price of the last tick
        self.size = 0

    def on_tick(self, price_raw: int, size: float) -> None:
        self.last, self.size = price_raw, math.floor(size + 0.5)

    def on_bar(self, o: int, h: int, lo: int, c: int, volume: float) -> int:
        """The bar's raw prices and its volume; returns the shares offered at its close."""
        quarter, close = _offer_sizes(volume, self.rest)
        if self.last is None or o != self.last:
            self.last, self.size = o, quarter
        if h > self.last:
            self.last, self.size = h, quarter
        if lo < self.last:
            self.last, self.size = lo, quarter
        if c != self.last:
            self.last, self.size = c, close
        return self.size


def close_offers(
    prices_c: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    volume: np.ndarray,
    open_ticks: bool,
    close_takes_rest: bool | None = None,
) -> np.ndarray:
    """`CloseOffer` over whole arrays (open, high, low, close in cents): shares offered at each close.

    After the open and the high the last price is the high, after the low it is the low (equal to the
    high in a flat bar). So: the close's share when close != low; a quarter when the bar sent any tick
    (high > low, or an open that differs from the previous close); otherwise the previous bar's figure.
    `open_ticks`: an opening trade tick at the bar's open price and volume precedes each bar.
    """
    o, h, lo, c = prices_c
    rest = bar_close_takes_rest() if close_takes_rest is None else close_takes_rest
    whole = np.floor(volume + 0.5)
    if rest:
        quarter = np.maximum(np.floor(whole / 4.0), 1.0)
        close = np.where(3 * quarter < whole, whole - 3 * quarter, 1.0)
    else:
        quarter = np.floor(np.maximum(whole / 4.0, 1.0) + 0.5)
        close = quarter
    if open_ticks:
        # The opening tick set the book to (open, the volume): the bar's open sends nothing.
        sent, carried = h > lo, np.maximum(whole, 1.0)
    else:
        previous = np.concatenate(([-1], c[:-1]))
        sent, carried = (h > lo) | (o != previous), np.full(len(c), np.nan)
    offer = np.where(c != lo, close, np.where(sent, quarter, carried))
    return pd.Series(offer).ffill().fillna(0.0).to_numpy()


def subscribe_fills(actor: Any, instrument_id: Any, handler: Any = None) -> None:
    """Every fill of `instrument_id` to `handler` (default: the actor's `on_order_filled`).

    1.221's `Actor.subscribe_order_fills` is gone in 1.231; the execution engine still publishes each
    fill on the message bus topic `events.fills.{instrument_id}`, which this subscribes to directly.
    """
    handler = handler if handler is not None else actor.on_order_filled
    actor.msgbus.subscribe(topic=f"events.fills.{instrument_id}", handler=handler)


def skip_trade_records(engine: Any) -> None:
    """Stop the portfolio's analyzer recording each closed position during the run.

    In 1.231 (not in 1.221) `Portfolio.update_position` calls `PortfolioAnalyzer.record_trade`
    for every closed position, whatever `run_analysis` says, and each call `pd.concat`s the new P&L
    onto all earlier ones: the run slows with the square of its trades (at 40 000 one-minute SMA bars,
    60 % of the engine's time; measured in benchmarks/bench_backtest.py). No config turns it off.
    ntrader computes its own figures and never reads the analyzer, so its recorder is a no-op.
    """
    analyzer = getattr(engine.portfolio, "analyzer", None)
    if analyzer is not None and hasattr(analyzer, "record_trade"):
        analyzer.record_trade = _ignore


def _ignore(*args: Any, **kwargs: Any) -> None:
    return None


def _own_float64(values: Any) -> np.ndarray:
    # A writable, contiguous copy: pandas 3 hands out read-only views, which Nautilus's typed
    # memoryviews (`double[:]`) reject with "buffer source array is read-only".
    return np.array(values, dtype="float64", order="C")


def wrangle_bars(frame: pd.DataFrame, bar_type: Any, instrument: Any, ts_init_delta: int = 0) -> list[Any]:
    """Nautilus `Bar`s from a frame indexed by time, as `BarDataWrangler(bar_type, instrument).process(frame,
    ts_init_delta=...)` builds them (same prices, sizes and stamps; the same OHLC checks), in bulk.

    `BarDataWrangler.process` fails under pandas 3 (also in Nautilus 1.231: it passes `frame.values`, a
    read-only view, to a `double[:]` parameter), so ntrader builds bars through `Bar.from_raw_arrays_to_list`,
    present and identical in 1.221 and 1.231, from its own copies of the columns.
    """
    from nautilus_trader.model.data import Bar

    if frame.empty:
        raise ValueError("data.empty was True")
    index = pd.DatetimeIndex(frame.index)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    ts_events = index.as_unit("ns").to_numpy(dtype="datetime64[ns]").astype("uint64")
    ts_inits = ts_events + np.uint64(ts_init_delta)
    opens, highs, lows, closes = (_own_float64(frame[c]) for c in ("open", "high", "low", "close"))
    volumes = _own_float64(frame["volume"]) if "volume" in frame else np.full(len(frame), 1_000_000.0)
    _check_ohlc(opens, highs, lows, closes, instrument.price_precision)
    return Bar.from_raw_arrays_to_list(
        bar_type,
        instrument.price_precision,
        instrument.size_precision,
        opens,
        highs,
        lows,
        closes,
        volumes,
        ts_events,
        ts_inits,
    )


class BarWrangler:
    """`BarDataWrangler`'s interface over `wrangle_bars` (works with pandas 3)."""

    def __init__(self, bar_type: Any, instrument: Any) -> None:
        self.bar_type, self.instrument = bar_type, instrument

    def process(self, data: pd.DataFrame, ts_init_delta: int = 0) -> list[Any]:
        return wrangle_bars(data, self.bar_type, self.instrument, ts_init_delta)


def _check_ohlc(
    opens: np.ndarray, highs: np.ndarray, lows: np.ndarray, closes: np.ndarray, precision: int
) -> None:
    """The checks `Bar(...)` makes (the raw constructor skips them), on prices rounded to the tick grid."""
    o, h, lo, c = (np.round(a, precision) for a in (opens, highs, lows, closes))
    for bad, what in (
        (h < o, "high was < open"),
        (h < lo, "high was < low"),
        (h < c, "high was < close"),
        (lo > c, "low was > close"),
        (lo > o, "low was > open"),
    ):
        if bad.any():
            raise ValueError(f"{what} (bar {int(np.argmax(bad))})")


__all__ = [
    "BarWrangler",
    "CloseOffer",
    "at_least",
    "available_at_close",
    "bar_close_takes_rest",
    "close_offers",
    "nautilus_version",
    "skip_trade_records",
    "subscribe_fills",
    "wrangle_bars",
]
