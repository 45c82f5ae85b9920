"""Benchmark: CSV import of one-minute bars into SQLite and PostgreSQL, re-import, and read-back.

    uv run --no-sync python benchmarks/bench_import.py [--rows 1000000] [--repeat 2] [--no-postgres]

For each database, in the same run:
- floor: pyarrow's `read_csv` and a plain write of the bars' blocks into `bar_blocks`, no checks and no
  merge with stored bars (SQLite: `sqlite_write_blocks`; PostgreSQL: binary `COPY` of `pg_block_rows`);
- import: ntrader's `import_csv` (read, validate, quality summary, store in one transaction);
- re-import: the same file again (0 new rows);
- read: `read_bars` of one year of the stored one-minute bars into a DataFrame.
Each run starts from an empty table; the best of `--repeat` runs is reported, with the issue's targets.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import text

from ntrader.data.bars import BAR_COLUMNS
from ntrader.data.store import import_csv, read_bars
from ntrader.db import dispose_engines, get_engine
from ntrader.db.barstore import block_window, encode_blocks, pg_block_rows, sqlite_write_blocks, stack_columns
from ntrader.db.bulk import PG_HEADER

PG_ADMIN = os.environ.get("NTRADER_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGETS = {"import": 1_000_000, "reimport": 2_000_000, "read": 5_000_000}


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


def _frame(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The file's stamps (UTC ns) and columns, read by pyarrow with no checks at all."""
    table = pacsv.read_csv(path)
    ns = pa.compute.cast(table["timestamp"], pa.timestamp("ns")).cast(pa.int64()).to_numpy()
    return ns, np.vstack([table[c].to_numpy().astype("float64", copy=False) for c in BAR_COLUMNS])


def _series(url: str) -> int:
    with get_engine(url).begin() as conn:
        conn.execute(text("INSERT INTO bar_series (symbol, bar_type, data_source, adjustment) "
                          "VALUES ('FLOOR', '1-MINUTE', 'csv', 'raw')"))  # fmt: skip
        return int(conn.execute(text("SELECT id FROM bar_series WHERE symbol = 'FLOOR'")).scalar_one())


def _blocks(path: Path):  # type: ignore[no-untyped-def]
    ns, values = _frame(path)
    return len(ns), encode_blocks(stack_columns(ns, values), block_window("1-MINUTE"))


def floor_sqlite(path: Path, url: str) -> int:
    rows, blocks = _blocks(path)
    series_id = _series(url)
    raw = get_engine(url).raw_connection()
    try:
        sqlite_write_blocks(raw.cursor(), series_id, blocks)
        raw.commit()
    finally:
        raw.close()
    return rows


def floor_postgres(path: Path, url: str) -> int:
    rows, blocks = _blocks(path)
    series_id = _series(url)
    raw = get_engine(url).raw_connection()
    try:
        connection: Any = raw.driver_connection
        copy_sql = "COPY bar_blocks (series_id, start_ts, end_ts, rows, data) FROM STDIN (FORMAT BINARY)"
        with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
            copy.write(PG_HEADER + pg_block_rows(series_id, blocks) + b"\xff\xff")
        raw.commit()
    finally:
        raw.close()
    return rows


def read_year(url: str) -> int:
    return len(read_bars("BENCH", "1-MINUTE", "csv", "2015-01-01", "2016-01-01", url=url))


def ours(path: Path, url: str) -> int:
    return import_csv(path, symbol="BENCH", bar_size="1-MINUTE", url=url).inserted


def timed(
    run: Callable[[], int | None], reset: Callable[[], None] | None, url: str
) -> tuple[float, int | None]:
    if reset is not None:
        reset()
    started = time.perf_counter()
    done = run()
    elapsed = time.perf_counter() - started
    return elapsed, done


def stored(url: str) -> int:
    with get_engine(url).connect() as conn:
        return int(conn.execute(text("SELECT COALESCE(SUM(rows), 0) FROM bar_blocks")).scalar_one())


def bench(name: str, path: Path, rows: int, url: str, reset: Callable[[], None], repeats: int) -> None:
    floor = floor_sqlite if name == "SQLite" else floor_postgres
    best: dict[str, float] = {}
    counted: dict[str, int] = {}

    def keep(label: str, elapsed: float, done: int | None) -> None:
        if done is not None:
            best[label] = min(best.get(label, float("inf")), elapsed)
            counted[label] = done

    for _ in range(repeats):
        keep("floor", *timed(lambda: floor(path, url), reset, url))
        assert stored(url) == rows
        keep("import", *timed(lambda: ours(path, url), reset, url))
        assert stored(url) == rows
        keep("reimport", *timed(lambda: rows if ours(path, url) == 0 else None, None, url))
        keep("read", *timed(lambda: read_year(url), None, url))
    rate = {label: counted[label] / seconds for label, seconds in best.items()}
    print(f"{name}:")
    print(f"  floor (no checks)  {rate['floor']:>12,.0f} rows/s  ({best['floor']:.2f} s)")
    ratio = rate["import"] / rate["floor"]
    for label, what in (("import", "import-csv"), ("reimport", "re-import (0 new)"), ("read", "read a year")):
        verdict = "meets" if rate[label] >= TARGETS[label] else "below"
        print(
            f"  {what:<18} {rate[label]:>12,.0f} rows/s  ({best[label]:.2f} s)  target {TARGETS[label]:,}: "
            f"{verdict}" + (f"; {ratio:.2f}x the floor (target 0.8x)" if label == "import" else "")
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
                    conn.execute(text("TRUNCATE bar_blocks, bar_events, bar_series RESTART IDENTITY CASCADE"))

            bench("PostgreSQL", path, args.rows, pg_url, reset_pg, args.repeat)
        finally:
            dispose_engines()
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
