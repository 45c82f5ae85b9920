"""Bulk writes that bypass per-row ORM work: timestamp text for SQLite, COPY for PostgreSQL."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
from sqlalchemy import Connection

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


def utc_nanos(index: pd.Index) -> np.ndarray:
    stamps = pd.DatetimeIndex(index).tz_convert("UTC").as_unit("ns")
    return stamps.to_numpy(dtype="datetime64[ns]").view("int64")


def write_equity(connection: Connection, run_id: int, equity: pd.Series) -> None:
    """Insert a run's equity curve inside the caller's transaction, in bulk."""
    if not len(equity):
        return
    times = sqlite_times(utc_nanos(equity.index))
    values = np.round(equity.to_numpy(dtype="float64"), 8)
    dbapi = connection.connection.driver_connection
    assert dbapi is not None
    if connection.dialect.name == "postgresql":
        text = "".join(
            f"{run_id},{stamp}+00,{value}\n"
            for stamp, value in zip(times, np.char.mod("%.8f", values), strict=True)
        )
        with (
            dbapi.cursor() as cursor,
            cursor.copy(  # type: ignore[union-attr]
                "COPY equity_curve (run_id, timestamp, equity) FROM STDIN (FORMAT csv)"
            ) as copy,
        ):
            copy.write(text)
        return
    cursor = dbapi.cursor()
    try:
        cursor.executemany(
            "INSERT INTO equity_curve (run_id, timestamp, equity) VALUES (?, ?, ?)",
            zip([run_id] * len(times), times, values.tolist(), strict=True),
        )
    finally:
        cursor.close()
