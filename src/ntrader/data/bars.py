"""Bar sizes and the bar-frame convention every data source returns.

A bar frame is a pandas DataFrame indexed by `timestamp` (the bar's *open* time, tz-aware UTC,
sorted, unique) with float columns open, high, low, close, volume. Daily bars are stamped at
midnight UTC of their trading date.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ntrader.errors import InputError

BAR_COLUMNS = ["open", "high", "low", "close", "volume"]
MARKET_TZ = "America/New_York"
_PANDAS_UNITS = {"SECOND": "s", "MINUTE": "min", "HOUR": "h", "DAY": "D"}


@dataclass(frozen=True)
class BarSize:
    """A bar size by ntrader's name ("1-DAY", "1-MINUTE", …) and what it means to pandas/Nautilus."""

    name: str
    step: int
    unit: str  # Nautilus aggregation: SECOND, MINUTE, HOUR, DAY

    @property
    def duration(self) -> pd.Timedelta:
        return pd.Timedelta(f"{self.step}{_PANDAS_UNITS[self.unit]}")

    @property
    def is_daily(self) -> bool:
        return self.unit == "DAY"

    @property
    def nautilus_spec(self) -> str:
        return f"{self.step}-{self.unit}-LAST"

    def bar_type(
        self,
        instrument_id: object | None = None,
        *,
        symbol: str | None = None,
        venue: str | None = None,
        price_type: str = "LAST",
    ) -> str:
        """Nautilus's bar-type string for these bars, e.g. "AAPL.NASDAQ-1-DAY-LAST-EXTERNAL".

        Give the instrument id (an ``InstrumentId`` or its text) or ``symbol`` and ``venue``.
        """
        if instrument_id is None:
            if not symbol or not venue:
                raise ValueError("bar_type() needs an instrument id, or a symbol and a venue")
            instrument_id = f"{symbol}.{venue}"
        return f"{instrument_id}-{self.step}-{self.unit}-{price_type}-EXTERNAL"

    def close_times(self, index: pd.DatetimeIndex) -> pd.DatetimeIndex:
        """When each bar closes: intraday bars after their duration, daily bars at 16:00 New York."""
        if self.is_daily:
            local = index.tz_convert(None).tz_localize(MARKET_TZ) + pd.Timedelta(hours=16)
            return local.tz_convert("UTC")
        return index + self.duration

    def open_times(self, index: pd.DatetimeIndex) -> pd.DatetimeIndex:
        """When each bar opens: intraday bars at their stamp, daily bars at 09:30 New York."""
        if self.is_daily:
            local = index.tz_convert(None).tz_localize(MARKET_TZ) + pd.Timedelta(hours=9, minutes=30)
            return local.tz_convert("UTC")
        return index


# The one table of bar sizes: name -> (step, unit, other accepted spellings; the first is the
# seed plan's, e.g. `--timeframe 1MIN`).
_TABLE: dict[str, tuple[int, str, tuple[str, ...]]] = {
    "1-DAY": (1, "DAY", ("DAILY", "1D", "1DAY", "D")),
    "1-HOUR": (1, "HOUR", ("1HOUR", "1H", "H")),
    "5-MINUTE": (5, "MINUTE", ("5MIN", "5M", "5MINUTES")),
    "1-MINUTE": (1, "MINUTE", ("1MIN", "1M", "MINUTE")),
}
_SIZES = {name: BarSize(name, step, unit) for name, (step, unit, _) in _TABLE.items()}
_ALIASES = {name: (name, *spellings) for name, (_, _, spellings) in _TABLE.items()}
BAR_SIZE_NAMES = tuple(_SIZES)
#: Every spelling a command-line choice offers: the seed plan's first, then ntrader's names.
BAR_SIZE_CHOICES = (*(spellings[0] for _, _, spellings in _TABLE.values()), *BAR_SIZE_NAMES)


def parse_bar_size(text: str) -> BarSize:
    """`1-DAY`, `DAILY`, `1MIN`, … into a BarSize; a clear error names the accepted spellings."""
    key = text.strip().upper()
    for name, spellings in _ALIASES.items():
        if key in spellings:
            return _SIZES[name]
    raise InputError(
        f"unknown bar size {text!r}; use one of {', '.join(BAR_SIZE_NAMES)} (or DAILY, 1HOUR, 5MIN, 1MIN)"
    )


def empty_bars() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in BAR_COLUMNS})
    frame.index = pd.DatetimeIndex([], tz="UTC", name="timestamp")
    return frame


def utc_nanos(index: pd.Index) -> np.ndarray:
    """A tz-aware DatetimeIndex as UTC nanoseconds: the index's own int64 data when it is in ns, not
    a copy (a million stamps are 8 MB). Read it, never write to it. Naive stamps raise (no zone)."""
    stamps = pd.DatetimeIndex(index)
    if stamps.tz is None:
        stamps = stamps.tz_convert("UTC")  # raises TypeError: naive stamps have no UTC reading
    if stamps.unit != "ns":
        stamps = stamps.as_unit("ns")
    return stamps.asi8
