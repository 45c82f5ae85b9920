"""Bars in the database: bulk import (multi-row INSERTs on SQLite, COPY on PostgreSQL), listing, reading."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ntrader.data.bars import BAR_COLUMNS, BarSize, empty_bars, parse_bar_size, utc_nanos
from ntrader.data.check import QualityReport, check_bars
from ntrader.data.csv import read_csv_bars
from ntrader.data.period import Period, parse_period
from ntrader.data.symbol import parse_symbol
from ntrader.db import barstore
from ntrader.db.engine import get_engine
from ntrader.errors import InputError, NotFoundError, NtraderError

__all__ = [
    "EXAMPLE_IMPORT",
    "ImportResult",
    "StoredSeries",
    "import_csv",
    "list_stored",
    "load_stored_bars",
    "read_bars",
    "read_events",
    "replace_bars",
    "resolve_period",
    "save_events",
    "stored_range",
    "write_bars",
]

EVENT_KINDS = ("split", "dividend")
EVENT_SOURCES = ("csv", "ibkr", "inferred")
EVENT_COLUMNS = ["ex_date", "kind", "value", "source"]
EXAMPLE_IMPORT = "ntrader data import-csv examples/data/AAPL.csv --symbol AAPL"
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ImportResult:
    """What an import did: rows read from the file, rows new to the database, and notes."""

    file: str
    symbol: str
    bar_size: str
    source: str
    rows: int
    inserted: int
    first: pd.Timestamp
    last: pd.Timestamp
    notes: tuple[str, ...]
    quality: QualityReport | None = None
    #: Splits and dividends the file held (its split/dividend columns, or inferred from adj_close),
    #: how many were new to the database, and where they came from.
    events: int = 0
    events_inserted: int = 0
    event_source: str | None = None

    @property
    def already_stored(self) -> int:
        return self.rows - self.inserted

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "symbol": self.symbol,
            "bar_size": self.bar_size,
            "source": self.source,
            "rows": self.rows,
            "inserted": self.inserted,
            "already_stored": self.already_stored,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "notes": list(self.notes),
            "quality": self.quality.to_json_dict() if self.quality is not None else None,
            "events": self.events,
            "events_inserted": self.events_inserted,
            "event_source": self.event_source,
        }


@dataclass(frozen=True)
class StoredSeries:
    """One stored series: a symbol's bars of one size from one source."""

    symbol: str
    bar_size: str
    source: str
    first: pd.Timestamp
    last: pd.Timestamp
    rows: int

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "bar_size": self.bar_size,
            "source": self.source,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "rows": self.rows,
        }


def _symbol(symbol: str) -> str:
    return parse_symbol(symbol)


def _source(source: str) -> str:
    name = source.strip().lower()
    if not name or len(name) > 32 or not all(ch.isalnum() or ch in "-_." for ch in name):
        raise InputError(f"source name must be 1 to 32 letters, digits, '-', '_' or '.', got {source!r}")
    return name


def _size(bar_size: BarSize | str) -> BarSize:
    return parse_bar_size(bar_size) if isinstance(bar_size, str) else bar_size


def write_bars(
    frame: pd.DataFrame,
    *,
    symbol: str,
    bar_size: BarSize | str,
    source: str,
    url: str | None = None,
    progress: Progress | None = None,
) -> int:
    """Store a bar frame in one transaction; bars already stored are left alone. Returns rows inserted."""
    key = (_symbol(symbol), _size(bar_size).name, _source(source))
    if frame.empty:
        return 0
    engine = get_engine(url)
    index = pd.DatetimeIndex(frame.index)
    if not index.is_monotonic_increasing or not index.is_unique:
        frame = frame[~index.duplicated(keep="first")].sort_index()  # the first of a stamp wins
    ns = utc_nanos(frame.index)
    values = np.vstack([frame[name].to_numpy(dtype="float64") for name in BAR_COLUMNS])
    dbapi_error = getattr(engine.dialect.dbapi, "Error", Exception)
    try:
        return barstore.insert_bars(engine, key, ns, values, progress)
    except dbapi_error as exc:
        lines = str(exc).strip().splitlines()
        raise NtraderError(f"database error while importing bars: {lines[0] if lines else exc}") from exc


def replace_bars(
    frame: pd.DataFrame,
    *,
    symbol: str,
    bar_size: BarSize | str,
    source: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    url: str | None = None,
) -> int:
    """Replace the stored bars with start <= timestamp < end (UTC) by ``frame``, in one transaction.

    For a series whose prices changed basis (a split adjustment since it was stored): the old
    bars of the span go and the new ones come in one commit, so the series never mixes bases.
    Bars of ``frame`` outside the span are stored too. Returns the rows inserted.
    """
    key = (_symbol(symbol), _size(bar_size).name, _source(source))
    engine = get_engine(url)
    frame = frame.sort_index()
    frame = frame[~pd.DatetimeIndex(frame.index).duplicated(keep="last")]
    ns = utc_nanos(frame.index) if len(frame) else np.empty(0, dtype=np.int64)
    values = np.vstack([frame[name].to_numpy(dtype="float64") for name in BAR_COLUMNS])
    span = (int(_utc(start).as_unit("ns").value), int(_utc(end).as_unit("ns").value))
    dbapi_error = getattr(engine.dialect.dbapi, "Error", Exception)
    try:
        return barstore.replace_bars(engine, key, ns, values, span)
    except dbapi_error as exc:
        lines = str(exc).strip().splitlines()
        raise NtraderError(f"database error while replacing bars: {lines[0] if lines else exc}") from exc


def import_csv(
    path: str | Path,
    *,
    symbol: str,
    bar_size: BarSize | str = "1-DAY",
    timezone: str = "UTC",
    source: str = "csv",
    url: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Check a whole CSV file, then store its bars in one transaction (all or nothing)."""
    symbol, source, size = _symbol(symbol), _source(source), _size(bar_size)
    bars = read_csv_bars(path, bar_size=size, timezone=timezone)
    # The quality summary only reports, so it runs on a second core while the bars are written
    # (the write spends most of its time in SQLite or PostgreSQL, outside the GIL).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ntrader-check") as pool:
        quality = pool.submit(
            check_bars, splits_applied(bars.frame, bars.events), size, symbol=symbol, source=source
        )
        inserted = write_bars(
            bars.frame, symbol=symbol, bar_size=size, source=source, url=url, progress=progress
        )
        summary = quality.result()
    events, events_inserted = 0, 0
    if bars.events is not None:
        # After the bars: their transaction is done; the events' is its own (idempotent, so a
        # re-import completes whatever an interrupted one left out).
        events = len(bars.events)
        events_inserted = save_events(symbol, size, source, bars.events, source=bars.event_source, url=url)
    return ImportResult(
        file=str(path),
        symbol=symbol,
        bar_size=size.name,
        source=source,
        rows=bars.rows,
        inserted=inserted,
        first=bars.frame.index[0],
        last=bars.frame.index[-1],
        notes=bars.notes,
        quality=summary,
        events=events,
        events_inserted=events_inserted,
        event_source=bars.event_source if bars.events is not None else None,
    )


def splits_applied(frame: pd.DataFrame, events: pd.DataFrame | None) -> pd.DataFrame:
    """The bars a quality check judges: with the declared or stored splits among `events` applied
    (a known split is not an unadjusted jump)."""
    if events is None or not (events["kind"] == "split").any():
        return frame
    from ntrader.data.adjust import adjust_bars

    splits = events[events["kind"] == "split"]
    return adjust_bars(
        frame, pd.Series(splits["value"].to_numpy(), index=pd.DatetimeIndex(splits["ex_date"]))
    )


def _utc(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _stamp(ns: int) -> pd.Timestamp:
    return pd.Timestamp(int(ns), tz="UTC")


def list_stored(symbol: str | None = None, *, url: str | None = None) -> list[StoredSeries]:
    """Every stored series (symbol, bar size, source) with its first/last bar and row count."""
    rows = barstore.series_summaries(get_engine(url), (_symbol(symbol) if symbol else None, None, None))
    return [StoredSeries(s, b, d, _stamp(first), _stamp(last), int(n)) for s, b, d, first, last, n in rows]


def stored_range(
    symbol: str, bar_size: BarSize | str, source: str, *, url: str | None = None
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last stored bar of one series, or None when nothing is stored."""
    key = (_symbol(symbol), _size(bar_size).name, _source(source))
    rows = barstore.series_summaries(get_engine(url), key)
    return None if not rows else (_stamp(rows[0][3]), _stamp(rows[0][4]))


def read_bars(
    symbol: str,
    bar_size: BarSize | str,
    source: str,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    *,
    url: str | None = None,
) -> pd.DataFrame:
    """Stored bars with start <= timestamp < end (UTC) as a bar frame; empty when there are none."""
    key = (_symbol(symbol), _size(bar_size).name, _source(source))
    bounds = [None if t is None else int(_utc(t).as_unit("ns").value) for t in (start, end)]
    ns, values = barstore.read_series(get_engine(url), key, bounds[0], bounds[1])
    if not len(ns):
        return empty_bars()
    index = pd.DatetimeIndex(ns.view("datetime64[ns]"), name="timestamp").tz_localize("UTC")
    return pd.DataFrame(values, index=index, columns=BAR_COLUMNS, copy=False)


def _nothing_stored(symbol: str, size: BarSize, source: str, url: str | None) -> NotFoundError:
    others = [s for s in list_stored(symbol, url=url) if (s.bar_size, s.source) != (size.name, source)]
    have = "; stored instead: " + ", ".join(f"{s.bar_size} from {s.source}" for s in others) if others else ""
    if source == "csv":
        hint = f"import a CSV first, e.g. `{EXAMPLE_IMPORT}`"
    else:
        hint = "fetch or import them first (see `ntrader data --help`)"
    return NotFoundError(f"no {size.name} bars stored for {symbol} from {source}{have}; {hint}")


def resolve_period(
    symbol: str,
    start: str | date | None,
    end: str | date | None,
    *,
    data_source: str,
    bar_size: BarSize | str,
    csv_file: str | Path | None = None,
    timezone: str = "UTC",
    url: str | None = None,
) -> Period:
    """The backtest period: the dates given, else the file's or the stored range (mock: the last year)."""
    source = data_source.lower()
    if (start is not None and end is not None) or (source == "mock" and csv_file is None):
        return parse_period(start, end)
    size = _size(bar_size)
    if csv_file is not None:
        index = read_csv_bars(csv_file, bar_size=size, timezone=timezone).frame.index
        span = (index[0], index[-1])
    else:
        found = stored_range(symbol, size, source, url=url)
        if found is None:
            if source == "csv":
                raise _nothing_stored(_symbol(symbol), size, source, url)
            return parse_period(start, end)  # IBKR can still fetch the default year
        span = found
    first, last = span[0].date(), span[1].date()
    return parse_period(start if start is not None else first, end if end is not None else last)


def load_stored_bars(
    symbol: str, period: Period, *, bar_size: BarSize | str, source: str, url: str | None = None
) -> pd.DataFrame:
    """Stored bars in `period`; NotFoundError says what is stored instead and how to import."""
    size, source = _size(bar_size), _source(source)
    bars = read_bars(symbol, size, source, period.start_ts, period.end_ts, url=url)
    if bars.empty:
        span = stored_range(symbol, size, source, url=url)
        if span is None:
            raise _nothing_stored(_symbol(symbol), size, source, url)
        raise NotFoundError(
            f"no {size.name} bars for {_symbol(symbol)} from {source} between {period.start} and "
            f"{period.end}; stored: {span[0].date()} → {span[1].date()}"
        )
    return bars


def _event_rows(events: pd.DataFrame) -> list[dict[str, Any]]:
    """Checked, de-duplicated event rows (ts ns, kind, value); InputError names the first bad event."""
    missing = [c for c in ("ex_date", "kind", "value") if c not in events.columns]
    if missing:
        raise InputError(f"events need the columns ex_date, kind, value; missing: {', '.join(missing)}")
    ex_date = pd.DatetimeIndex(events["ex_date"])
    ex_date = ex_date.tz_localize("UTC") if ex_date.tz is None else ex_date.tz_convert("UTC")
    kind = events["kind"].astype(str).str.strip().str.lower().to_numpy()
    value = pd.to_numeric(events["value"], errors="coerce").to_numpy(dtype="float64")
    problems = [
        (~np.isin(kind, EVENT_KINDS), "event kind must be 'split' or 'dividend', got {kind!r}"),
        (~np.isfinite(value), "{kind} must be a number, got {value}"),
        ((kind == "split") & ~(value > 0), "split ratio must be positive (4 for a 4:1 split), got {value:g}"),
        ((kind == "dividend") & (value < 0), "dividend must not be negative, got {value:g}"),
    ]
    for bad, message in problems:
        if bad.any():
            at = int(np.flatnonzero(bad)[0])
            text = message.format(kind=kind[at], value=value[at])
            raise InputError(f"event on {ex_date[at].date()}: {text}")
    frame = pd.DataFrame({"ts": utc_nanos(ex_date), "kind": kind, "value": value}).drop_duplicates()
    clash = frame.duplicated(["ts", "kind"], keep=False)
    if clash.any():
        first = frame[clash].iloc[0]
        values = frame[clash & (frame.ts == first.ts) & (frame.kind == first.kind)]["value"].tolist()
        day = _stamp(int(first.ts)).date()
        raise InputError(f"{first.kind} on {day} given twice ({' and '.join(f'{v:g}' for v in values)})")
    return [
        {"ts": int(t), "kind": str(k), "value": float(v)}
        for t, k, v in zip(frame.ts, frame.kind, frame.value, strict=True)
    ]


def save_events(
    symbol: str,
    bar_size: BarSize | str,
    data_source: str,
    events: pd.DataFrame,
    *,
    source: str,
    url: str | None = None,
) -> int:
    """Store splits and dividends of a series (columns ex_date (UTC), kind 'split'|'dividend', value:
    split ratio, 4.0 for 4:1, or cash per share) in one transaction. An event already stored (same
    ex-date and kind) keeps its stored value, so re-saving adds nothing. Returns events inserted."""
    key = (_symbol(symbol), _size(bar_size).name, _source(data_source))
    if source not in EVENT_SOURCES:
        raise InputError(f"event source must be one of {', '.join(EVENT_SOURCES)}, got {source!r}")
    rows = _event_rows(events)
    return barstore.insert_events(get_engine(url), key, rows, source) if rows else 0


def read_events(
    symbol: str, bar_size: BarSize | str, data_source: str, *, url: str | None = None
) -> pd.DataFrame:
    """A series' stored events (ex_date UTC, kind, value, source) in time order; empty when none."""
    key = (_symbol(symbol), _size(bar_size).name, _source(data_source))
    rows = barstore.read_events(get_engine(url), key)
    frame = pd.DataFrame(rows, columns=["ts", "kind", "value", "source"])
    ex_date = pd.to_datetime(frame.pop("ts").to_numpy(dtype="int64"), utc=True)
    frame.insert(0, "ex_date", ex_date)
    return frame.astype({"value": "float64"})[EVENT_COLUMNS]
