"""Benchmark: CSV import of one-minute bars into SQLite and PostgreSQL against a no-validation floor.

    uv run --no-sync python benchmarks/bench_import.py [--rows 1000000] [--repeat 2] [--no-postgres]

For each database it times ntrader's `import_csv` (read, validate, store in one transaction) and, in
the same run, the raw floor: pandas `read_csv(engine="pyarrow")` and a plain bulk write with no checks
(SQLite: one `executemany` with the same timestamp text; PostgreSQL: binary `COPY` straight into
market_data). Each run starts from an empty table; the best of `--repeat` runs is reported.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import text

from ntrader.data.store import import_csv, pg_market_rows
from ntrader.db import dispose_engines, get_engine
from ntrader.db.bulk import PG_HEADER, sqlite_times

PG_ADMIN = os.environ.get("NTRADER_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
COLUMNS = "symbol, bar_type, timestamp, open, high, low, close, volume, data_source"


def make_csv(path: Path, rows: int) -> None:
    """Random-walk one-minute bars, 390 a day on weekdays, timestamps like `2020-01-02 14:30:00`."""
    rng = np.random.default_rng(7)
    days = pd.bdate_range("2015-01-02", periods=rows // 390 + 1)
    minutes = pd.to_timedelta(np.arange(390), unit="min") + pd.Timedelta("14h30min")
    stamps = (days.to_numpy()[:, None] + minutes.to_numpy()[None, :]).ravel()[:rows]
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.0008, rows)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0004, rows)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0004, rows)))
    table = pa.table(
        {
            "timestamp": pd.DatetimeIndex(stamps).strftime("%Y-%m-%d %H:%M:%S"),
            "open": open_.round(4),
            "high": high.round(4),
            "low": low.round(4),
            "close": close.round(4),
            "volume": rng.integers(100, 50_000, rows).astype("float64"),
        }
    )
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))


def floor_sqlite(path: Path, url: str) -> int:
    frame = pd.read_csv(path, engine="pyarrow")
    ns = pd.DatetimeIndex(frame["timestamp"]).as_unit("ns").to_numpy().view("int64")
    values = [frame[c].to_numpy(dtype="float64").tolist() for c in ("open", "high", "low", "close", "volume")]
    raw = get_engine(url).raw_connection()
    try:
        cursor: Any = raw.cursor()
        cursor.executemany(
            f"INSERT INTO market_data ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            zip(repeat("BENCH"), repeat("1-MINUTE"), sqlite_times(ns), *values, repeat("csv"), strict=False),
        )
        raw.commit()
    finally:
        raw.close()
    return len(frame)


def floor_postgres(path: Path, url: str) -> int:
    frame = pd.read_csv(path, engine="pyarrow")
    ns = pd.DatetimeIndex(frame["timestamp"]).as_unit("ns").to_numpy().view("int64")
    rows = pg_market_rows(ns, frame, slice(0, len(frame)), ("BENCH", "1-MINUTE", "csv"))
    raw = get_engine(url).raw_connection()
    try:
        connection: Any = raw.driver_connection
        copy_sql = f"COPY market_data ({COLUMNS}) FROM STDIN (FORMAT BINARY)"
        with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
            copy.write(PG_HEADER + rows + b"\xff\xff")
        raw.commit()
    finally:
        raw.close()
    return len(frame)


def ours(path: Path, url: str) -> int:
    return import_csv(path, symbol="BENCH", bar_size="1-MINUTE", url=url).inserted


def timed(run: Callable[[Path, str], int], path: Path, url: str, reset: Callable[[], None]) -> float:
    reset()
    started = time.perf_counter()
    stored = run(path, url)
    elapsed = time.perf_counter() - started
    with get_engine(url).connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM market_data")).scalar_one() == stored
    return elapsed


def bench(name: str, path: Path, rows: int, url: str, reset: Callable[[], None], repeats: int) -> None:
    best: dict[str, float] = {"ntrader": float("inf"), "floor": float("inf")}
    for _ in range(repeats):
        best["floor"] = min(
            best["floor"], timed(floor_sqlite if name == "SQLite" else floor_postgres, path, url, reset)
        )
        best["ntrader"] = min(best["ntrader"], timed(ours, path, url, reset))
    ours_rate, floor_rate = rows / best["ntrader"], rows / best["floor"]
    print(
        f"{name:<10} ntrader {ours_rate:>10,.0f} rows/s ({best['ntrader']:.2f} s)   "
        f"floor {floor_rate:>10,.0f} rows/s ({best['floor']:.2f} s)   ratio {ours_rate / floor_rate:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bars.csv"
        make_csv(path, args.rows)
        print(f"{args.rows:,} one-minute rows, {path.stat().st_size / 1e6:.0f} MB CSV; best of {args.repeat}")
        db_file = Path(tmp) / "bench.db"
        sqlite_url = f"sqlite:///{db_file}"

        def fresh_sqlite() -> None:
            dispose_engines()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db_file}{suffix}").unlink(missing_ok=True)
            get_engine(sqlite_url)

        bench("SQLite", path, args.rows, sqlite_url, fresh_sqlite, args.repeat)
        if args.no_postgres:
            return
        import psycopg

        name = f"ntrader_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        pg_url = "postgresql+psycopg://" + PG_ADMIN.split("://", 1)[1].rsplit("/", 1)[0] + f"/{name}"
        try:

            def reset_pg() -> None:
                with get_engine(pg_url).begin() as conn:
                    conn.execute(text("TRUNCATE market_data RESTART IDENTITY"))

            bench("PostgreSQL", path, args.rows, pg_url, reset_pg, args.repeat)
        finally:
            dispose_engines()
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
