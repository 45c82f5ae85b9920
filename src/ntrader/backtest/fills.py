"""When market orders fill: at the signal bar's close (Nautilus's default) or at the next bar's open.

Nautilus fills a market order against the last price it has seen, which after a bar is that bar's
close. Next-bar-open fills are not built in; what makes them work (measured on 1.221.0, daily and
one-minute bars):

- a `TradeTick` at each bar's open time, price = the bar's open, size = the bar's volume (a tick
  of size 1 fills one share and slips the rest one tick), with venue `trade_execution=True`;
- `LatencyModel(base_latency_nanos=1)`, so an order placed on a bar reaches the venue 1 ns later and
  waits there for the next price, the next bar's opening tick;
- bars stamped 1 ns BEFORE their close time. Consecutive intraday bars open when the previous one
  closes (09:31:00 is both the 09:30 bar's close and the 09:31 bar's open). Stamped at their close,
  the bar and the next opening tick share a timestamp: the order (due 1 ns later) misses that tick
  and fills on the next bar's close instead. One nanosecond earlier, the order is due exactly at the
  opening tick and fills at the open price, stamped at the open time.

Sizing is unchanged: a strategy sizes on the signal bar (its close), the order fills at the next
open, so a gap moves the cost. An order placed on the last bar has no next bar and never fills.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from nautilus_trader.backtest.models import LatencyModel
from nautilus_trader.model.data import TradeTick
from nautilus_trader.model.enums import AggressorSide
from nautilus_trader.model.instruments import Instrument

from ntrader.data.bars import BarSize
from ntrader.errors import InputError

FILL_CLOSE = "close"
FILL_NEXT_OPEN = "next-open"
FILL_MODES = (FILL_CLOSE, FILL_NEXT_OPEN)
# How far before its close time a bar reaches the engine in next-open mode (see the module notes).
NEXT_OPEN_BAR_LEAD_NS = 1

_DESCRIPTIONS = {
    FILL_CLOSE: "market orders fill at the signal bar's close",
    FILL_NEXT_OPEN: (
        "market orders fill at the next bar's open (sized at the signal bar's close; "
        "an order on the last bar never fills)"
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


def venue_options(mode: str) -> dict[str, Any]:
    """Extra `add_venue` arguments the fill mode needs."""
    if parse_fill_at(mode) == FILL_NEXT_OPEN:
        return {"trade_execution": True, "latency_model": LatencyModel(base_latency_nanos=1)}
    return {}


def bar_lead_ns(mode: str) -> int:
    """Nanoseconds before their close time that bars are stamped for the engine."""
    return NEXT_OPEN_BAR_LEAD_NS if parse_fill_at(mode) == FILL_NEXT_OPEN else 0


def open_ticks(bars: pd.DataFrame, bar_size: BarSize, instrument: Instrument) -> list[TradeTick]:
    """One trade tick per bar at its open time and price, sized at the bar's volume (built in bulk)."""
    if bars.empty:
        return []
    opens_at = bar_size.open_times(pd.DatetimeIndex(bars.index))
    ts = opens_at.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]").view("uint64")
    prices = bars["open"].to_numpy(dtype="float64")
    # A tick needs a positive size: a bar without volume still gets a one-lot tick, so the order
    # fills (one lot at the open, the rest one tick worse, as bar execution does for thin bars).
    lot = float(instrument.size_increment)
    sizes = np.maximum(np.nan_to_num(bars["volume"].to_numpy(dtype="float64")), lot)
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
    "FILL_CLOSE",
    "FILL_MODES",
    "FILL_NEXT_OPEN",
    "bar_lead_ns",
    "describe_fill_at",
    "open_ticks",
    "parse_fill_at",
    "venue_options",
]
