"""Bulk writes that bypass per-row ORM work: timestamp text for SQLite, COPY for PostgreSQL, and the
compact equity-curve encoding (one row per day plus the whole per-bar curve in one compressed row)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from ntrader.data.bars import utc_nanos

PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC, the zero of PostgreSQL's binary timestamps
PG_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)


def sqlite_times(ns: np.ndarray) -> list[str]:
    """UTC nanoseconds as `YYYY-MM-DD HH:MM:SS.ffffff`, digit by digit in numpy.

    That is what SQLAlchemy's DateTime writes on SQLite (tz dropped; we store UTC), so ORM reads parse
    these rows and text order is time order.

    Measured on 1M stamps: arrow's strftime 2.7 s, numpy's datetime_as_string 1.5 s, this 0.7 s.
    """
    days, micros = np.divmod(ns // 1000, 86_400_000_000)
    # Civil date from days since 1970-01-01 (H. Hinnant's algorithm), all in int64 arrays.
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    seconds, micro = np.divmod(micros, 1_000_000)
    text = np.empty((len(ns), 26), dtype=np.uint8)
    text[:] = np.frombuffer(b"0000-00-00 00:00:00.000000", dtype=np.uint8)
    for column, value, width in (
        (0, year, 4),
        (5, month, 2),
        (8, day, 2),
        (11, seconds // 3600, 2),
        (14, seconds // 60 % 60, 2),
        (17, seconds % 60, 2),
        (20, micro, 6),
    ):
        for k in range(width):
            text[:, column + width - 1 - k] += (value // 10**k % 10).astype(np.uint8)
    joined = text.tobytes().decode("ascii")
    return [joined[i : i + 26] for i in range(0, len(joined), 26)]


EQUITY_CODEC = "delta-lz4-1"
EQUITY_SCALE = 10**8  # equity is kept to 8 decimals, as the Numeric(20, 8) rows always did
_NS_PER_DAY = 86_400 * 10**9
_STEP = 65_536  # points worked on at a time, where a whole curve-long temporary is not needed


@dataclass(frozen=True)
class EncodedCurve:
    """A per-bar equity curve as two compressed byte strings (timestamps and equity, 8 decimals)."""

    points: int
    codec: str
    stamps: bytes
    values: bytes

    @property
    def size(self) -> int:
        return len(self.stamps) + len(self.values)


def _pack(deltas: np.ndarray) -> bytes:
    """int64 deltas, LZ4-compressed by pyarrow. Measured on a 1 M-point curve: LZ4 17 ms for 1.5 bytes a
    point, zstd 32 ms for 0.7, zlib level 1 on byte-shuffled deltas 170 ms for 1.7; speed is the bound."""
    import pyarrow as pa

    return bytes(pa.compress(np.ascontiguousarray(deltas, dtype="<i8"), codec="lz4", asbytes=True))


def _unpack(blob: bytes, points: int) -> np.ndarray:
    import pyarrow as pa

    raw = pa.decompress(blob, decompressed_size=8 * points, codec="lz4", asbytes=True)
    return np.cumsum(np.frombuffer(raw, dtype="<i8"))


def _deltas(values: np.ndarray, out: np.ndarray, step: int = _STEP) -> np.ndarray:
    """`values` minus the value before (the first minus 0) into `out`, which may be `values` itself
    (`np.diff` with a prepend builds two more arrays of the same length). From the end backwards, a
    slice at a time, so each slice still reads the values before it unchanged."""
    for end in range(len(values), 1, -step):
        start = max(end - step, 1)
        np.subtract(values[start:end], values[start - 1 : end - 1], out=out[start:end])
    out[:1] = values[:1]
    return out


def encode_curve(equity: pd.Series) -> EncodedCurve:
    """Timestamps (UTC ns) and equity (rounded to 8 decimals) as delta-encoded, LZ4-compressed int64."""
    # One column at a time, in one buffer (a million points: 8 MB an array).
    work = np.empty(len(equity), dtype=np.int64)
    stamps = _pack(_deltas(utc_nanos(equity.index), work))
    values = equity.to_numpy(dtype="float64")
    for start in range(0, len(work), _STEP):  # the stamps are packed: the buffer takes the units
        work[start : start + _STEP] = np.rint(values[start : start + _STEP] * EQUITY_SCALE)
    return EncodedCurve(len(work), EQUITY_CODEC, stamps, _pack(_deltas(work, work)))


def decode_curve(points: int, codec: str, stamps: bytes, values: bytes) -> pd.Series:
    if codec != EQUITY_CODEC:
        raise ValueError(f"unknown equity-curve codec {codec!r}")
    ns, units = _unpack(stamps, points), _unpack(values, points)
    index = pd.DatetimeIndex(ns.view("datetime64[ns]"), name="timestamp").tz_localize("UTC")
    return pd.Series(units / EQUITY_SCALE, index=index, name="equity", dtype="float64")


def daily_closes(equity: pd.Series) -> pd.Series:
    """The last point of each UTC day: the rows kept in equity_curve for SQL and daily metrics."""
    stamps = utc_nanos(equity.index)
    day_ends = np.empty(len(stamps), dtype=bool)
    day_ends[-1:] = True
    for start in range(0, len(stamps) - 1, _STEP):  # each slice's days with the stamp after it
        days = stamps[start : start + _STEP + 1] // _NS_PER_DAY
        np.not_equal(days[1:], days[:-1], out=day_ends[start : start + len(days) - 1])
    return equity.iloc[np.flatnonzero(day_ends)]


def write_equity(connection: Connection, run_id: int, equity: pd.Series) -> None:
    """Store a run's equity curve inside the caller's transaction: the whole per-bar curve compressed in
    one equity_series row, and its daily closes as equity_curve rows."""
    if not len(equity):
        return
    curve = encode_curve(equity)
    connection.execute(
        text(
            "INSERT INTO equity_series (run_id, points, codec, stamps, equity) "
            "VALUES (:run_id, :points, :codec, :stamps, :equity)"
        ),
        {"run_id": run_id, "points": curve.points, "codec": curve.codec, "stamps": curve.stamps,
         "equity": curve.values},
    )  # fmt: skip
    write_points(connection, run_id, daily_closes(equity))


def write_points(connection: Connection, run_id: int, equity: pd.Series) -> None:
    """Insert equity_curve rows (run, timestamp, equity) in bulk."""
    times = sqlite_times(utc_nanos(equity.index))
    values = np.round(equity.to_numpy(dtype="float64"), 8)
    dbapi = connection.connection.driver_connection
    assert dbapi is not None
    if connection.dialect.name == "postgresql":
        lines = "".join(
            f"{run_id},{stamp}+00,{value}\n"
            for stamp, value in zip(times, np.char.mod("%.8f", values), strict=True)
        )
        with (
            dbapi.cursor() as cursor,
            cursor.copy(  # type: ignore[union-attr]
                "COPY equity_curve (run_id, timestamp, equity) FROM STDIN (FORMAT csv)"
            ) as copy,
        ):
            copy.write(lines)
        return
    cursor = dbapi.cursor()
    try:
        cursor.executemany(
            "INSERT INTO equity_curve (run_id, timestamp, equity) VALUES (?, ?, ?)",
            zip([run_id] * len(times), times, values.tolist(), strict=True),
        )
    finally:
        cursor.close()
