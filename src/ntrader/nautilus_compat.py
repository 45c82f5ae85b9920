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


def available_at_close(volume: float, close_takes_rest: bool | None = None) -> int:
    """Shares of a whole-share instrument that Nautilus's bar execution offers at a bar's close.

    The volume is first rounded to whole shares (half up, as `Quantity` rounds). 1.221: a quarter of it,
    rounded half up. 1.231 (`compute_bar_quarter_sizes`): the open, high and low get a quarter
    rounded down (at least one share); the close gets the rest, at least one share. So 397 shares
    offer 99 at the close on 1.221 and 100 on 1.231.
    """
    rest = bar_close_takes_rest() if close_takes_rest is None else close_takes_rest
    if not rest:
        return math.floor(volume / 4.0 + 0.5)
    whole = math.floor(volume + 0.5)
    quarter = max(whole // 4, 1)
    return whole - 3 * quarter if 3 * quarter < whole else 1


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


__all__ = ["at_least", "available_at_close", "bar_close_takes_rest", "nautilus_version", "wrangle_bars"]
