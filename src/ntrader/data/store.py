"""Bars in the database: bulk import (executemany on SQLite, COPY on PostgreSQL), listing and reading back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, String, func, select, type_coerce

from ntrader.data.bars import BAR_COLUMNS, BarSize, empty_bars, parse_bar_size
from ntrader.data.check import QualityReport, check_bars
from ntrader.data.csv import read_csv_bars
from ntrader.data.period import Period, parse_period
from ntrader.data.symbol import parse_symbol
from ntrader.db.bulk import PG_EPOCH_US, PG_HEADER, sqlite_times, utc_nanos
from ntrader.db.engine import get_engine
from ntrader.db.models import MarketData
from ntrader.errors import InputError, NotFoundError, NtraderError

__all__ = [
    "EXAMPLE_IMPORT",
    "ImportResult",
    "StoredSeries",
    "import_csv",
    "list_stored",
    "load_stored_bars",
    "read_bars",
    "resolve_period",
    "stored_range",
    "write_bars",
]

EXAMPLE_IMPORT = "ntrader data import-csv examples/data/AAPL.csv --symbol AAPL"
CHUNK_ROWS = 100_000
_PG_ROW = np.dtype(
    [("fields", ">i2"), ("ts_len", ">i4"), ("ts", ">i8")]
    + [item for name in BAR_COLUMNS for item in ((f"{name}_len", ">i4"), (name, ">f8"))]
)
_COLUMNS = "symbol, bar_type, timestamp, open, high, low, close, volume, data_source"
_CONFLICT = "(symbol, bar_type, timestamp, data_source)"
_IMPORT_LOCK = 0x6E74  # advisory-lock namespace of bar imports ("nt"); the second key is the series
#: How long an import waits for another process's import into the same SQLite file (ms).
SQLITE_BUSY_MS = 600_000

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


def _chunks(total: int, progress: Progress | None) -> Iterator[slice]:
    for start in range(0, total, CHUNK_ROWS):
        yield slice(start, min(start + CHUNK_ROWS, total))
        if progress is not None:
            progress(min(start + CHUNK_ROWS, total), total)


def _write_sqlite(
    engine: Engine, frame: pd.DataFrame, key: tuple[str, str, str], progress: Progress | None
) -> int:
    symbol, bar_type, source = key
    times = sqlite_times(utc_nanos(frame.index))
    columns = [frame[name].to_numpy(dtype="float64").tolist() for name in BAR_COLUMNS]
    sql = f"INSERT OR IGNORE INTO market_data ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    raw = engine.raw_connection()
    inserted = 0
    try:
        cursor: Any = raw.cursor()  # sqlite3's executemany takes any iterable of rows, not only lists
        # One transaction for the whole file, taking the write lock at once: a concurrent import
        # into the same file waits for it (up to SQLITE_BUSY_MS) instead of failing.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
        cursor.execute("BEGIN IMMEDIATE")
        for part in _chunks(len(times), progress):
            cursor.executemany(
                sql,
                zip(
                    repeat(symbol),
                    repeat(bar_type),
                    times[part],
                    *(c[part] for c in columns),
                    repeat(source),
                    strict=False,
                ),
            )
            inserted += max(cursor.rowcount, 0)
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    return inserted


def _pg_binary(ns: np.ndarray, frame: pd.DataFrame, part: slice) -> bytes:
    rows = np.empty(part.stop - part.start, dtype=_PG_ROW)
    rows["fields"] = 1 + len(BAR_COLUMNS)
    rows["ts_len"] = 8
    rows["ts"] = ns[part] // 1000 - PG_EPOCH_US
    for name in BAR_COLUMNS:
        rows[f"{name}_len"] = 8
        rows[name] = frame[name].to_numpy(dtype="float64")[part]
    return rows.tobytes()


def pg_market_rows(ns: np.ndarray, frame: pd.DataFrame, part: slice, key: tuple[str, str, str]) -> bytes:
    """Binary COPY rows for every market_data column, built in bulk (the key is constant per series)."""
    symbol, bar_type, source = (text.encode() for text in key)
    layout: list[tuple[str, str]] = [("fields", ">i2")]
    layout += [("symbol_len", ">i4"), ("symbol", f"S{len(symbol)}")]
    layout += [("bar_type_len", ">i4"), ("bar_type", f"S{len(bar_type)}")]
    layout += [("ts_len", ">i4"), ("ts", ">i8")]
    layout += [item for name in BAR_COLUMNS for item in ((f"{name}_len", ">i4"), (name, ">f8"))]
    layout += [("source_len", ">i4"), ("source", f"S{len(source)}")]
    rows = np.empty(part.stop - part.start, dtype=np.dtype(layout))
    rows["fields"] = 4 + len(BAR_COLUMNS)
    rows["symbol_len"], rows["symbol"] = len(symbol), symbol
    rows["bar_type_len"], rows["bar_type"] = len(bar_type), bar_type
    rows["ts_len"], rows["ts"] = 8, ns[part] // 1000 - PG_EPOCH_US
    for name in BAR_COLUMNS:
        rows[f"{name}_len"] = 8
        rows[name] = frame[name].to_numpy(dtype="float64")[part]
    rows["source_len"], rows["source"] = len(source), source
    return rows.tobytes()


def _write_postgres(
    engine: Engine, frame: pd.DataFrame, key: tuple[str, str, str], progress: Progress | None
) -> int:
    ns = utc_nanos(frame.index)
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        assert connection is not None
        with connection.cursor() as cursor:
            # Imports of one series take turns (held until commit): otherwise two overlapping imports
            # both see an empty range, both COPY, and the later one fails on the unique key.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_IMPORT_LOCK, "|".join(key)))
            first, last = (pd.Timestamp(int(v), tz="UTC").to_pydatetime() for v in (ns.min(), ns.max()))
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM market_data WHERE symbol = %s AND bar_type = %s "
                "AND data_source = %s AND timestamp BETWEEN %s AND %s)",
                (*key, first, last),
            )
            row = cursor.fetchone()
            if row is not None and not row[0] and frame.index.is_unique:
                # Nothing stored in this range and no stamp twice in the frame: COPY straight
                # into the table, twice as fast as staging. The unique key still guards against a
                # concurrent import of the same bars, which then fails whole.
                with cursor.copy(f"COPY market_data ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(PG_HEADER)
                    for part in _chunks(len(ns), progress):
                        copy.write(pg_market_rows(ns, frame, part, key))
                    copy.write(b"\xff\xff")
                raw.commit()
                return len(ns)
            cursor.execute(
                "CREATE TEMP TABLE ntrader_import (timestamp timestamptz, open float8, high float8, "
                "low float8, close float8, volume float8) ON COMMIT DROP"
            )
            with cursor.copy("COPY ntrader_import FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(PG_HEADER)
                for part in _chunks(len(ns), progress):
                    copy.write(_pg_binary(ns, frame, part))
                copy.write(b"\xff\xff")
            cursor.execute(
                f"INSERT INTO market_data ({_COLUMNS}) SELECT %s, %s, timestamp, open, high, low, close, "
                f"volume, %s FROM ntrader_import ON CONFLICT {_CONFLICT} DO NOTHING",
                key,
            )
            inserted = max(cursor.rowcount, 0)
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    return inserted


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
    write = _write_postgres if engine.dialect.name == "postgresql" else _write_sqlite
    dbapi_error = getattr(engine.dialect.dbapi, "Error", Exception)
    try:
        return write(engine, frame, key, progress)
    except dbapi_error as exc:
        lines = str(exc).strip().splitlines()
        raise NtraderError(f"database error while importing bars: {lines[0] if lines else exc}") from exc


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
    inserted = write_bars(bars.frame, symbol=symbol, bar_size=size, source=source, url=url, progress=progress)
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
        quality=check_bars(bars.frame, size, symbol=symbol, source=source),
    )


def _utc(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def list_stored(symbol: str | None = None, *, url: str | None = None) -> list[StoredSeries]:
    """Every stored series (symbol, bar size, source) with its first/last bar and row count."""
    query = (
        select(
            MarketData.symbol,
            MarketData.bar_type,
            MarketData.data_source,
            func.min(MarketData.timestamp),
            func.max(MarketData.timestamp),
            func.count(),
        )
        .group_by(MarketData.symbol, MarketData.bar_type, MarketData.data_source)
        .order_by(MarketData.symbol, MarketData.bar_type, MarketData.data_source)
    )
    if symbol:
        query = query.where(MarketData.symbol == _symbol(symbol))
    with get_engine(url).connect() as connection:
        rows = connection.execute(query).all()
    return [StoredSeries(s, b, d, _utc(first), _utc(last), int(n)) for s, b, d, first, last, n in rows]


def stored_range(
    symbol: str, bar_size: BarSize | str, source: str, *, url: str | None = None
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last stored bar of one series, or None when nothing is stored."""
    query = select(func.min(MarketData.timestamp), func.max(MarketData.timestamp)).where(
        MarketData.symbol == _symbol(symbol),
        MarketData.bar_type == _size(bar_size).name,
        MarketData.data_source == _source(source),
    )
    with get_engine(url).connect() as connection:
        first, last = connection.execute(query).one()
    return None if first is None else (_utc(first), _utc(last))


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
    engine = get_engine(url)
    stamp = MarketData.timestamp
    # SQLite keeps text: read it raw and parse the column at once instead of row by row.
    selected = type_coerce(stamp, String) if engine.dialect.name == "sqlite" else stamp
    query = (
        select(selected, *(getattr(MarketData, name) for name in BAR_COLUMNS))
        .where(
            MarketData.symbol == _symbol(symbol),
            MarketData.bar_type == _size(bar_size).name,
            MarketData.data_source == _source(source),
        )
        .order_by(stamp)
    )
    if start is not None:
        query = query.where(stamp >= _utc(start).to_pydatetime())
    if end is not None:
        query = query.where(stamp < _utc(end).to_pydatetime())
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    if not rows:
        return empty_bars()
    frame = pd.DataFrame(rows, columns=["timestamp", *BAR_COLUMNS])
    index = pd.DatetimeIndex(
        pd.to_datetime(frame.pop("timestamp"), format="ISO8601", utc=True), name="timestamp"
    )
    frame.index = index.as_unit("ns")
    return frame.astype("float64")


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
