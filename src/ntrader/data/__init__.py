"""Market data: bar frames from mock, CSV and IBKR sources, and the bars stored in the database."""

from __future__ import annotations

import pandas as pd

from ntrader.data.bars import BAR_COLUMNS, BarSize, parse_bar_size
from ntrader.data.mock import generate_bars
from ntrader.data.period import Period, parse_period
from ntrader.errors import InputError, NotFoundError

DATA_SOURCES = ("mock", "csv", "ibkr")

__all__ = [
    "BAR_COLUMNS",
    "DATA_SOURCES",
    "BarSize",
    "Period",
    "generate_bars",
    "load_bars",
    "parse_bar_size",
    "parse_period",
]


def load_bars(
    symbol: str,
    period: Period,
    *,
    data_source: str = "mock",
    bar_size: BarSize | str = "1-DAY",
) -> pd.DataFrame:
    """The bars for `symbol` in `period` from `data_source`; an error when there are none."""
    size = parse_bar_size(bar_size) if isinstance(bar_size, str) else bar_size
    source = data_source.lower()
    if source == "mock":
        bars = generate_bars(symbol, period.start_ts, period.end_ts - pd.Timedelta(days=1), size)
    else:
        raise InputError(f"unknown data source {data_source!r}; use one of {', '.join(DATA_SOURCES)}")
    if bars.empty:
        raise NotFoundError(
            f"no {size.name} bars for {symbol} from {source} between {period.start} and "
            f"{period.end} (weekends and holidays have no bars)"
        )
    return bars
