"""Market data: bar frames from mock, CSV and IBKR sources, and the bars stored in the database."""

from __future__ import annotations

from pathlib import Path

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
    csv_file: str | Path | None = None,
    database_url: str | None = None,
) -> pd.DataFrame:
    """The bars for `symbol` in `period` from `data_source`; an error when there are none.

    `csv_file` reads bars straight from a file (checked like an import, nothing stored); the "csv"
    source otherwise reads bars imported with `ntrader data import-csv`. The "ibkr" source reads the
    stored IB bars. Loading never fetches and never writes: fetching missing IB bars is the backtest
    pipeline's step (`ntrader.backtest.pipeline.prepare`) or `ntrader data fetch`'s.
    """
    size = parse_bar_size(bar_size) if isinstance(bar_size, str) else bar_size
    source = data_source.lower()
    # Imported here so mock runs never load the database layer (and no import cycle with store).
    if csv_file is not None:
        from ntrader.data.csv import read_csv_bars

        bars = read_csv_bars(csv_file, bar_size=size).frame
        bars = bars[(bars.index >= period.start_ts) & (bars.index < period.end_ts)]
    elif source == "mock":
        bars = generate_bars(symbol, period.start_ts, period.end_ts - pd.Timedelta(days=1), size)
    elif source in ("csv", "ibkr"):
        from ntrader.data.store import load_stored_bars

        return load_stored_bars(symbol, period, bar_size=size, source=source, url=database_url)
    else:
        raise InputError(f"unknown data source {data_source!r}; use one of {', '.join(DATA_SOURCES)}")
    if bars.empty:
        raise NotFoundError(
            f"no {size.name} bars for {symbol} from {source} between {period.start} and "
            f"{period.end} (weekends and holidays have no bars)"
        )
    return bars
