"""Reading OHLCV bars from CSV into a bar frame, with vectorized checks that name file, row and column."""

from __future__ import annotations

import contextlib
import csv as stdlib_csv
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ntrader.data.bars import BAR_COLUMNS, BarSize, parse_bar_size
from ntrader.data.csv_events import EVENT_ALIASES, event_frame, event_values
from ntrader.errors import InputError

REQUIRED_COLUMNS = ("timestamp", *BAR_COLUMNS)
HEADER_HINT = "timestamp,open,high,low,close,volume"
# Exports from Yahoo, Stooq and spreadsheets call the time column one of these.
TIMESTAMP_ALIASES = ("timestamp", "date", "datetime", "time")
PRICE_COLUMNS = ("open", "high", "low", "close")
OTHER_DELIMITERS = (";", "\t", "|")
# A zone offset counts only after a time of day, so the day of "2023-01-03" is not read as "-03".
_TIME = r"(\d:\d{2}(?::\d{2}(?:\.\d+)?)?)"
_OFFSET = _TIME + r"\s*(?:Z|z|[+-]\d{2}(?::?\d{2})?)$"

__all__ = ["CsvBars", "read_csv_bars"]


@dataclass(frozen=True)
class CsvBars:
    """A validated CSV file: its bars (bar-frame convention) and notes worth telling the user."""

    path: Path
    frame: pd.DataFrame
    notes: tuple[str, ...] = field(default=())
    was_sorted: bool = False
    #: Splits and dividends (ex_date, kind, value) from the file's optional columns, or None.
    events: pd.DataFrame | None = None
    #: Where the events came from: "csv" (split/dividend columns) or "inferred" (from adj_close).
    event_source: str = "csv"

    @property
    def rows(self) -> int:
        return len(self.frame)


@dataclass
class _Problem:
    index: int  # position among data rows (0-based), turned into a line number only when reported
    order: int  # column order, so two problems on one row are reported left to right
    column: str | None
    message: str


def _check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"unknown time zone {name!r}; use an IANA name such as UTC or America/New_York"
        ) from None
    return name


def _header(path: Path, label: str) -> tuple[int, list[str]]:
    """The header's line number and its raw fields; rejects empty files and other delimiters."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for number, line in enumerate(handle, start=1):  # noqa: B007 (used after the loop)
                if line.strip():
                    break
            else:
                raise InputError(f"file is empty; expected the header {HEADER_HINT}", file=label, row=1)
    except UnicodeDecodeError:
        raise InputError("file is not UTF-8 text", file=label, row=1) from None
    fields = next(stdlib_csv.reader([line]))
    if len(fields) == 1:
        for delimiter in OTHER_DELIMITERS:
            if delimiter in line:
                raise InputError(
                    f"columns are separated by {delimiter!r}; ntrader reads comma-separated files "
                    f"(header {HEADER_HINT})",
                    file=label,
                    row=number,
                )
    return number, fields


def _map_columns(fields: list[str], label: str, header_row: int) -> dict[str, str]:
    """Required column -> the header's own spelling of it (names are case-insensitive)."""
    names = [f.strip().lower() for f in fields]
    found: dict[str, str] = {}
    for required in REQUIRED_COLUMNS:
        spellings = TIMESTAMP_ALIASES if required == "timestamp" else (required,)
        hits = [i for i, name in enumerate(names) if name in spellings]
        if not hits:
            raise InputError(
                f"missing column; the header needs {HEADER_HINT} (found: {','.join(fields)})",
                file=label,
                row=header_row,
                column=required,
            )
        if len(hits) > 1:
            raise InputError(
                f"column appears {len(hits)} times ({', '.join(repr(fields[i]) for i in hits)})",
                file=label,
                row=header_row,
                column=required,
            )
        found[required] = fields[hits[0]]
    for optional, aliases in EVENT_ALIASES.items():
        hits = [i for i, name in enumerate(names) if name in aliases]
        if len(hits) > 1:
            raise InputError(
                f"column appears {len(hits)} times ({', '.join(repr(fields[i]) for i in hits)})",
                file=label,
                row=header_row,
                column=optional,
            )
        if hits:
            found[optional] = fields[hits[0]]
    return found


def _line_numbers(path: Path) -> np.ndarray:
    """Line numbers (1-based) of the non-blank lines, the way arrow counts rows; read only on errors."""
    data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    ends = np.flatnonzero(data == ord("\n"))
    if len(data) and data[-1] != ord("\n"):
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts
    carriage = (lengths > 0) & (data[np.maximum(ends - 1, 0)] == ord("\r"))
    lengths = lengths - carriage
    return np.flatnonzero(lengths > 0) + 1


class _Reader:
    """One file's read: arrow does the parsing; every check below is a mask over whole columns."""

    def __init__(self, path: Path, label: str, size: BarSize, timezone: str) -> None:
        self.path, self.label, self.size, self.timezone = path, label, size, timezone
        self._lines: np.ndarray | None = None
        self._stamp_column = ""

    def line(self, index: int) -> int:
        """The editor line of data row `index` (0-based); the header is the first non-blank line."""
        if self._lines is None:
            self._lines = _line_numbers(self.path)
        return int(self._lines[index + 1])

    def fail(self, index: int, column: str | None, message: str) -> InputError:
        return InputError(message, file=self.label, row=self.line(index), column=column)

    def read(self, columns: dict[str, str], *, numbers_as_text: bool) -> pa.Table:
        if not numbers_as_text:
            # Arrow parses ISO 8601 stamps while it reads, in parallel, with the same parser as a
            # cast (1 M one-minute bars: 0.15 s read, against 0.19 s as text plus 0.08 s to join
            # the chunks and cast). A zone offset or a bad stamp makes it refuse the whole column:
            # then the stamps are read as text and checked one kind at a time below.
            with contextlib.suppress(_NotAStamp):
                return self._read(columns, numbers_as_text=False, stamps=pa.timestamp("ns"))
        return self._read(columns, numbers_as_text=numbers_as_text, stamps=pa.string())

    def _read(self, columns: dict[str, str], *, numbers_as_text: bool, stamps: pa.DataType) -> pa.Table:
        bad_rows: list[pacsv.InvalidRow] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            bad_rows.append(row)
            return "skip"

        self._stamp_column = columns["timestamp"]
        types = {self._stamp_column: stamps}
        for name in BAR_COLUMNS:
            types[columns[name]] = pa.string() if numbers_as_text else pa.float64()
        for name in EVENT_ALIASES:
            if name in columns:
                types[columns[name]] = pa.string()  # "4:1" splits; checked in csv_events
        convert = pacsv.ConvertOptions(
            include_columns=list(types), column_types=types, strings_can_be_null=True
        )
        try:
            table = pacsv.read_csv(
                self.path,
                parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
                convert_options=convert,
            )
        except pa.ArrowInvalid as exc:
            if pa.types.is_timestamp(stamps) and "conversion error to timestamp" in str(exc):
                raise _NotAStamp from None
            if not numbers_as_text and "conversion error" in str(exc):
                raise _NotANumber from None
            raise InputError(f"cannot read as CSV: {str(exc).splitlines()[0]}", file=self.label) from None
        if bad_rows:
            self._ragged(bad_rows[0], columns, convert)
        return table

    def _text(self, raw: pa.Array, index: int) -> str | None:
        """Data row `index`'s timestamp as written (read again if Arrow parsed it; errors only)."""
        if not pa.types.is_timestamp(raw.type):
            return raw[index].as_py()  # type: ignore[no-any-return]
        column = self._stamp_column
        convert = pacsv.ConvertOptions(
            include_columns=[column], column_types={column: pa.string()}, strings_can_be_null=True
        )
        return pacsv.read_csv(self.path, convert_options=convert)[column][index].as_py()  # type: ignore[no-any-return]

    def _ragged(
        self, first: pacsv.InvalidRow, columns: dict[str, str], convert: pacsv.ConvertOptions
    ) -> None:
        if first.number is None:
            # Arrow knows row numbers only when reading on one thread; only bad files pay for it.
            found: list[pacsv.InvalidRow] = []

            def stop(row: pacsv.InvalidRow) -> str:
                found.append(row)
                return "error"

            with contextlib.suppress(pa.ArrowInvalid):
                pacsv.read_csv(
                    self.path,
                    read_options=pacsv.ReadOptions(use_threads=False),
                    parse_options=pacsv.ParseOptions(invalid_row_handler=stop),
                    convert_options=convert,
                )
            first = found[0] if found else first
        row = self.line(first.number - 2) if first.number is not None else None
        text = first.text or ""
        if first.actual_columns == 1 and any(d in text for d in OTHER_DELIMITERS):
            delimiter = next(d for d in OTHER_DELIMITERS if d in text)
            message = f"columns are separated by {delimiter!r}; ntrader reads comma-separated files"
        else:
            message = (
                f"expected {first.expected_columns} comma-separated fields like the header, "
                f"found {first.actual_columns}"
            )
        raise InputError(message, file=self.label, row=row)

    def timestamps(self, raw: pa.Array, problems: list[_Problem]) -> np.ndarray:
        """UTC nanoseconds as datetime64[ns]; NaT where a problem was recorded."""
        offsets = None
        if pa.types.is_timestamp(raw.type):  # parsed while reading: naive date-times only
            values = raw.to_numpy(zero_copy_only=False)
        else:
            if self.size.is_daily:
                # A daily bar is a trading date: keep the date as written, whatever the zone.
                raw = pc.replace_substring_regex(raw, pattern=_OFFSET, replacement=r"\1")
            try:
                values = raw.cast(pa.timestamp("ns")).to_numpy(zero_copy_only=False)
            except pa.ArrowInvalid:
                try:
                    aware = raw.cast(pa.timestamp("ns", tz="UTC"))
                    return self._nulls(
                        aware.cast(pa.timestamp("ns")).to_numpy(zero_copy_only=False), raw, problems
                    )
                except pa.ArrowInvalid:
                    values, offsets = self._mixed(raw, problems)
        if self.size.is_daily:
            return self._nulls(values.astype("datetime64[D]").astype("datetime64[ns]"), raw, problems)
        local = values if offsets is None else np.where(offsets, np.datetime64("NaT"), values)
        utc = self._localize(local, raw, problems)
        if offsets is not None:
            utc = np.where(offsets, values, utc)
        return self._nulls(utc, raw, problems)

    def _nulls(self, values: np.ndarray, raw: pa.Array, problems: list[_Problem]) -> np.ndarray:
        empty = raw.is_null().to_numpy(zero_copy_only=False)
        if empty.any():
            problems.append(_Problem(int(empty.argmax()), 0, "timestamp", "empty value"))
        return values

    def _mixed(self, raw: pa.Array, problems: list[_Problem]) -> tuple[np.ndarray, np.ndarray]:
        """Files mixing zone offsets and local times, or holding unreadable ones: pandas, per kind."""
        text = pd.Series(raw.to_numpy(zero_copy_only=False), dtype="object")
        offsets = pc.fill_null(pc.match_substring_regex(raw, pattern=_OFFSET), False)
        has_offset = offsets.to_numpy(zero_copy_only=False)
        values = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
        if has_offset.any():
            aware = pd.to_datetime(text[has_offset], format="ISO8601", utc=True, errors="coerce")
            values[has_offset] = aware.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
        if (~has_offset).any():
            naive = pd.to_datetime(text[~has_offset], format="ISO8601", errors="coerce")
            if getattr(naive.dt, "tz", None) is not None:
                naive = naive.dt.tz_localize(None)
            values[~has_offset] = naive.to_numpy(dtype="datetime64[ns]")
        bad = np.isnat(values) & text.notna().to_numpy()
        if bad.any():
            i = int(bad.argmax())
            problems.append(
                _Problem(
                    i,
                    0,
                    "timestamp",
                    f"cannot read {text.iloc[i]!r} as a date (YYYY-MM-DD) or ISO 8601 date-time",
                )
            )
        return values, has_offset

    def _localize(self, values: np.ndarray, raw: pa.Array, problems: list[_Problem]) -> np.ndarray:
        if self.timezone == "UTC":
            return values
        index = pd.DatetimeIndex(values).tz_localize(self.timezone, ambiguous="NaT", nonexistent="NaT")
        utc = index.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]")
        lost = np.isnat(utc) & ~np.isnat(values)
        if lost.any():
            i = int(lost.argmax())
            problems.append(
                _Problem(
                    i,
                    0,
                    "timestamp",
                    (
                        f"{self._text(raw, i)!r} does not exist or is ambiguous in {self.timezone} "
                        "(daylight-saving change); write it with a UTC offset"
                    ),
                )
            )
        return utc


class _NotANumber(Exception):
    """Arrow could not convert a number column; the slow path finds the row."""


class _NotAStamp(Exception):
    """Arrow could not read the timestamp column as naive date-times; it is read as text instead."""


def _numbers(reader: _Reader, columns: dict[str, str], problems: list[_Problem]) -> tuple[pa.Table, dict]:
    try:
        table = reader.read(columns, numbers_as_text=False)
        return table, {name: table[columns[name]].to_numpy() for name in BAR_COLUMNS}
    except _NotANumber:
        table = reader.read(columns, numbers_as_text=True)
    values = {}
    for order, name in enumerate(BAR_COLUMNS, start=1):
        text = pd.Series(table[columns[name]].to_numpy(zero_copy_only=False), dtype="object")
        parsed = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
        bad = np.isnan(parsed) & text.notna().to_numpy()
        if bad.any():
            i = int(bad.argmax())
            problems.append(_Problem(i, order, name, f"cannot read {text.iloc[i]!r} as a number"))
        values[name] = parsed
    return table, values


#: The largest price and quantity the engine represents (Nautilus PRICE_MAX / QUANTITY_MAX; a test
#: checks they match). A bar beyond them would import fine and crash every backtest on the symbol.
PRICE_MAX = 17_014_118_346_046.0
VOLUME_MAX = 34_028_236_692_093.0


def _in_time_order(stamps: np.ndarray) -> bool:
    """Whether the stamps never go back (NaT, the smallest int64, only leading)."""
    ns = stamps.view("int64")
    return bool(np.all(ns[1:] >= ns[:-1]))


def _duplicated(stamps: np.ndarray, ordered: bool) -> np.ndarray | None:
    """Rows whose (valid) stamp an earlier row has, or None when there are none."""
    ns = stamps.view("int64")
    if ordered:
        # In time order a repeat follows its first: one comparison with the previous row
        # (1 M bars: 1 ms, against 0.1 s for pandas' hashing `duplicated`).
        duplicated = np.concatenate(([False], ns[1:] == ns[:-1]))
    else:
        duplicated = pd.Series(stamps).duplicated().to_numpy()
    if not duplicated.any():
        return None
    duplicated = duplicated & ~np.isnat(stamps)
    return duplicated if duplicated.any() else None


def _value_checks(
    values: dict[str, np.ndarray],
    stamps: np.ndarray,
    ordered: bool,
    problems: list[_Problem],
    line: Callable[[int], int],
) -> None:
    def first(mask: np.ndarray, order: int, column: str, template: str, *shown: np.ndarray) -> None:
        if mask.any():
            i = int(mask.argmax())
            problems.append(_Problem(i, order, column, template.format(*(a[i] for a in shown))))

    for order, name in enumerate(BAR_COLUMNS, start=1):
        v = values[name]
        # Two reductions clear a good column (NaN propagates through min and max, so it fails
        # them too); the masks below only run to find the first bad row (1 M bars: 2 ms, not 25).
        smallest, largest = v.min(), v.max()
        if name in PRICE_COLUMNS and smallest > 0 and largest <= PRICE_MAX:
            continue
        if name not in PRICE_COLUMNS and smallest >= 0 and largest <= VOLUME_MAX:
            continue
        first(np.isnan(v), order, name, "empty or NaN value")
        first(np.isinf(v), order, name, "value {} is not a finite number", v)
        if name in PRICE_COLUMNS:
            first(v <= 0, order, name, "price {:g} must be greater than 0", v)
            first(v > PRICE_MAX, order, name, f"price {{:g}} is beyond the engine's ≤ {PRICE_MAX:g}", v)
        else:
            first(v < 0, order, name, "volume {:g} must not be negative", v)
            first(v > VOLUME_MAX, order, name, f"volume {{:g}} is beyond the engine's ≤ {VOLUME_MAX:g}", v)
    o, h, lo, c = (values[n] for n in PRICE_COLUMNS)
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    first(h < top, 2, "high", "high {:g} is below max(open, close) = {:g}", h, top)
    first(lo > bottom, 3, "low", "low {:g} is above min(open, close) = {:g}", lo, bottom)
    duplicated = _duplicated(stamps, ordered)
    if duplicated is not None:
        i = int(duplicated.argmax())
        earlier = int(np.flatnonzero(stamps == stamps[i])[0])
        problems.append(
            _Problem(
                i,
                0,
                "timestamp",
                f"duplicate timestamp {_show(stamps[i])} (first on row {line(earlier)})",
            )
        )


def _show(value: np.datetime64) -> str:
    stamp = pd.Timestamp(value, tz="UTC")
    return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else stamp.isoformat()


def read_csv_bars(
    path: str | Path,
    *,
    bar_size: BarSize | str = "1-DAY",
    timezone: str = "UTC",
) -> CsvBars:
    """Read and check a CSV of bars; any bad value raises InputError naming file, line and column.

    Header `timestamp,open,high,low,close,volume` (any case, extra columns ignored). Timestamps are
    dates or ISO 8601 date-times; those without a UTC offset are in `timezone`. Daily bars keep the
    date as written and are stamped at midnight UTC. Rows out of time order are sorted (and noted).
    """
    label = str(path)
    path = Path(path).expanduser()
    size = parse_bar_size(bar_size) if isinstance(bar_size, str) else bar_size
    timezone = _check_timezone(timezone)
    if not path.is_file():
        raise InputError("no such file" if not path.exists() else "not a file", file=label)
    header_row, fields = _header(path, label)
    columns = _map_columns(fields, label, header_row)
    reader = _Reader(path, label, size, timezone)
    problems: list[_Problem] = []
    table, values = _numbers(reader, columns, problems)
    if table.num_rows == 0:
        raise InputError("no bars below the header", file=label, row=header_row + 1)
    stamps = reader.timestamps(table[columns["timestamp"]].combine_chunks(), problems)
    ordered = _in_time_order(stamps)
    _value_checks(values, stamps, ordered, problems, reader.line)
    optional = event_values(table, columns, lambda *p: problems.append(_Problem(*p)))
    if problems:
        worst = min(problems, key=lambda p: (p.index, p.order))
        raise reader.fail(worst.index, worst.column, worst.message)

    notes = []
    extra = [f for f in fields if f not in columns.values()]
    if extra:
        notes.append(f"ignored column(s): {', '.join(extra)}")
    index = pd.DatetimeIndex(stamps).tz_localize("UTC")
    frame = pd.DataFrame(
        {**{name: values[name] for name in BAR_COLUMNS}, **optional}, index=index, copy=False
    )
    was_sorted = not ordered
    if was_sorted:
        frame = frame.iloc[np.argsort(stamps, kind="stable")]
        notes.append("rows were not in time order; sorted them by timestamp")
    frame.index.name = "timestamp"
    events, event_source, event_notes = event_frame(frame)
    notes += event_notes
    return CsvBars(
        path=path,
        frame=frame[list(BAR_COLUMNS)] if optional else frame,
        notes=tuple(notes),
        was_sorted=was_sorted,
        events=events,
        event_source=event_source,
    )
