"""`--adjust`: the stored splits and dividends of a request's series applied to its bars.

- ``splits`` (the default) and ``total-return`` back-adjust the bars (`ntrader.data.adjust`).
- ``raw`` leaves the bars as traded and hands the dividends to the engine, which credits each one
  as cash (dividend × shares held at the previous close) at the ex-date's bar
  (`bars.attrs["dividends"]`, see `ntrader.backtest.dividends`). A split inside the period is
  refused: Nautilus has no way to change an open position's share count.

Events are the request's series' own, else (intraday bars) those stored with the symbol's daily
series from the same source. An event belongs to the first bar at or after its ex-date; events on
or before the period's first bar, or after its last, change nothing in it and are left out.
"""

from __future__ import annotations

import pandas as pd

from ntrader.backtest.request import BacktestRequest
from ntrader.data.adjust import adjust_bars
from ntrader.errors import InputError

__all__ = ["adjusted", "events_on_bars"]


def events_on_bars(bars: pd.DataFrame, events: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(splits, dividends) indexed by the bar each event belongs to, events off the frame dropped."""
    index = pd.DatetimeIndex(bars.index)
    at = index.searchsorted(pd.DatetimeIndex(events["ex_date"]), side="left")
    inside = (at > 0) & (at < len(index))
    picked = events[inside].assign(bar=index[at[inside]])
    out = []
    for kind in ("split", "dividend"):
        rows = picked[picked["kind"] == kind]
        if kind == "split":
            series = rows.groupby("bar")["value"].prod()
        else:
            series = rows.groupby("bar")["value"].sum()
        out.append(
            pd.Series(series.to_numpy(dtype="float64"), index=pd.DatetimeIndex(series.index), name=kind)
        )
    return out[0], out[1]


def _stored_events(request: BacktestRequest) -> pd.DataFrame | None:
    if request.data_source not in ("csv", "ibkr"):
        return None
    if request.csv_file is not None:  # a file run without import: the file's own event columns
        from ntrader.data.csv import read_csv_bars

        return read_csv_bars(request.csv_file, bar_size=request.bar_size).events
    from ntrader.data.store import read_events

    events = read_events(request.symbol, request.bar_size, request.data_source, url=request.database_url)
    if events.empty and request.bar_size.name != "1-DAY":
        # Corporate actions are per symbol, not per bar size: IB's come with the daily series.
        events = read_events(request.symbol, "1-DAY", request.data_source, url=request.database_url)
    return events


def adjusted(bars: pd.DataFrame, request: BacktestRequest) -> pd.DataFrame:
    """The request's bars in its `adjust` mode (attrs kept; raw: dividends in attrs["dividends"])."""
    events = _stored_events(request)
    if events is None or events.empty:
        return bars
    splits, dividends = events_on_bars(bars, events)
    if request.adjust == "raw":
        if len(splits):
            day, ratio = splits.index[0].date(), float(splits.iloc[0])
            raise InputError(
                f"--adjust raw: {request.symbol} has a {ratio:g}:1 split on {day} inside the period, and "
                "Nautilus cannot change an open position's share count; use --adjust splits or "
                "total-return, or a period without the split"
            )
        out = bars.copy()
        out.attrs = {**bars.attrs, "dividends": dividends[dividends > 0]}
        return out
    out = adjust_bars(bars, splits, dividends, request.adjust)
    out.attrs = dict(bars.attrs)
    return out
