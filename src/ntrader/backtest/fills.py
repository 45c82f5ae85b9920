"""When market orders fill (the signal bar's close or the next open) and how much liquidity a bar offers.

Nautilus fills a market order against the last price it has seen, which after a bar is that bar's
close. Next-bar-open fills are not built in; what makes them work (measured on 1.221.0, daily and
one-minute bars):

- a `TradeTick` at each bar's open time, price = the bar's open, size = the bar's volume (a tick
  of size 1 fills one share and slips the rest one tick), with venue `trade_execution=True`;
- the strategy takes its decision at the signal bar's close and submits the order when that tick
  arrives (see `ntrader.strategies.base`), so the order is sized from the open it fills at and the
  risk engine values it at that price; the venue fills it at once, at the open, stamped at the open;
- bars stamped 1 ns BEFORE their close time. Consecutive intraday bars open when the previous one
  closes (09:31:00 is both the 09:30 bar's close and the 09:31 bar's open): one nanosecond earlier,
  the bar always reaches the strategy before the next bar's opening tick.

A decision on the last bar has no next open and is reported as "unfilled at end".

Liquidity: `bar-volume` (the default) is Nautilus's bar execution: at the close a bar offers a
quarter of its volume (its O/H/L/C points share it), at the open the opening tick offers the bar's
volume; the rest of a larger order fills one tick worse. `unlimited` fills every order whole at the
fill price. The vector screen implements both identically.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from nautilus_trader.model.data import TradeTick
from nautilus_trader.model.enums import AggressorSide
from nautilus_trader.model.instruments import Instrument

from ntrader.backtest.choices import (
    DEFAULT_LIQUIDITY,
    FILL_CLOSE,
    FILL_MODES,
    FILL_NEXT_OPEN,
    LIQUIDITY_BAR_VOLUME,
    LIQUIDITY_MODES,
    LIQUIDITY_UNLIMITED,
)
from ntrader.data.bars import BarSize
from ntrader.errors import InputError

# The volume the engine's bars carry under unlimited liquidity: more shares than any order (a
# quarter of it is 2.5 billion) and still a valid Nautilus quantity.
UNLIMITED_VOLUME = 1e10
# How far before its close time a bar reaches the engine in next-open mode (see the module notes).
NEXT_OPEN_BAR_LEAD_NS = 1

_DESCRIPTIONS = {
    FILL_CLOSE: "market orders fill at the signal bar's close",
    FILL_NEXT_OPEN: (
        "market orders fill at the next bar's open, sized from that open "
        "(a decision on the last bar is unfilled at end)"
    ),
}


def parse_fill_at(text: str) -> str:
    """`close` or `next-open` (also spelled `next_open`), case-insensitive."""
    key = str(text).strip().lower().replace("_", "-")
    if key in FILL_MODES:
        return key
    raise InputError(f"unknown fill mode {text!r}; use one of {', '.join(FILL_MODES)}")


def describe_fill_at(mode: str) -> str:
    return _DESCRIPTIONS[parse_fill_at(mode)]


def parse_liquidity(text: str) -> str:
    """`bar-volume` or `unlimited` (also `bar_volume`), case-insensitive."""
    key = str(text).strip().lower().replace("_", "-")
    if key in LIQUIDITY_MODES:
        return key
    raise InputError(f"unknown liquidity {text!r}; use one of {', '.join(LIQUIDITY_MODES)}")


def describe_liquidity(mode: str) -> str:
    if parse_liquidity(mode) == LIQUIDITY_UNLIMITED:
        return "unlimited: every order fills whole at the fill price"
    return (
        "bar volume: 1/4 of a bar's volume at the close (the bar's volume at the open), the rest 1 tick worse"
    )


def venue_options(mode: str) -> dict[str, Any]:
    """Extra `add_venue` arguments the fill mode needs."""
    if parse_fill_at(mode) == FILL_NEXT_OPEN:
        return {"trade_execution": True}
    # Bars alone drive the fills. Nautilus 1.223+ defaults trade_execution to True, which makes the
    # portfolio revalue on each of a bar's four trade points: the same fills, about 1.5x slower (1.231).
    return {"trade_execution": False}


def bar_lead_ns(mode: str) -> int:
    """Nanoseconds before their close time that bars are stamped for the engine."""
    return NEXT_OPEN_BAR_LEAD_NS if parse_fill_at(mode) == FILL_NEXT_OPEN else 0


def open_ticks(bars: pd.DataFrame, bar_size: BarSize, instrument: Instrument) -> list[TradeTick]:
    """One trade tick per bar at its open time and price, sized at the bar's volume (built in bulk)."""
    if bars.empty:
        return []
    opens_at = bar_size.open_times(pd.DatetimeIndex(bars.index))
    # Own, writable copies: pandas 3 hands out read-only views, which Nautilus's memoryviews reject.
    ts = np.array(opens_at.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]")).view(
        "uint64"
    )
    prices = np.array(bars["open"], dtype="float64")
    # A tick needs a positive size: a bar without volume still gets a one-lot tick, so the order
    # fills (one lot at the open, the rest one tick worse, as bar execution does for thin bars).
    lot = float(instrument.size_increment)
    sizes = np.maximum(np.nan_to_num(np.array(bars["volume"], dtype="float64")), lot)
    count = len(bars)
    return TradeTick.from_raw_arrays_to_list(
        instrument.id,
        instrument.price_precision,
        instrument.size_precision,
        np.ascontiguousarray(prices),
        np.ascontiguousarray(sizes),
        np.full(count, AggressorSide.NO_AGGRESSOR, dtype=np.uint8),
        ts.astype(str).tolist(),
        np.ascontiguousarray(ts),
        np.ascontiguousarray(ts),
    )


__all__ = [
    "DEFAULT_LIQUIDITY",
    "FILL_CLOSE",
    "FILL_MODES",
    "FILL_NEXT_OPEN",
    "LIQUIDITY_BAR_VOLUME",
    "LIQUIDITY_MODES",
    "LIQUIDITY_UNLIMITED",
    "UNLIMITED_VOLUME",
    "bar_lead_ns",
    "describe_fill_at",
    "describe_liquidity",
    "open_ticks",
    "parse_fill_at",
    "parse_liquidity",
    "venue_options",
]
