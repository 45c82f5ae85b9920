"""Benchmark: saving and loading a 1 000 000-point equity curve (compact storage, issue target ≤ 0.1 s and
≤ 8 bytes per point), on SQLite and PostgreSQL.

    uv run --no-sync python benchmarks/bench_equity.py [--points 1000000] [--repeat 3] [--no-postgres]

The curve is mark-to-market equity of a position switched in and out every 5 000 one-minute mock bars.
"Save" times `write_equity` inside one transaction (encode + the equity_series row + the daily rows);
bytes per point are the compressed row's size over the number of points.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

from ntrader.data.mock import generate_bars
from ntrader.db import dispose_engines, get_engine
from ntrader.db.bulk import encode_curve, write_equity
from ntrader.db.runs import load_equity

PG_ADMIN = os.environ.get("NTRADER_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def curve(points: int) -> pd.Series:
    bars = generate_bars("EQ", "2010-01-01", "2024-12-31", "1-MINUTE").iloc[:points]
    shares = np.where(np.arange(len(bars)) // 5_000 % 2 == 0, 0.0, 317.0)
    cash = 100_000.0 - shares * bars["open"].to_numpy()
    return pd.Series(cash + shares * bars["close"].to_numpy(), index=bars.index, name="equity")


def bench(name: str, url: str, equity: pd.Series, repeats: int) -> None:
    engine = get_engine(url)
    saves, loads = [], []
    for i in range(repeats):
        with engine.begin() as conn:
            run_id = conn.execute(
                text(
                    "INSERT INTO backtest_runs (created_at, status, strategy, params, symbol, bar_type, "
                    'data_source, start, "end", bars, capital, final_equity, settings, metrics, '
                    "engine_version) "
                    "VALUES (CURRENT_TIMESTAMP, 'completed', 'bench', '{}', 'EQ', 'x', 'mock', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0, 0, 0, '{}', '{}', 'bench') RETURNING id"
                )
            ).scalar_one()
            started = time.perf_counter()
            write_equity(conn, run_id, equity)
        saves.append(time.perf_counter() - started)  # the commit included
        started = time.perf_counter()
        back = load_equity(run_id, url=url)
        loads.append(time.perf_counter() - started)
        assert len(back) == len(equity), i
    size = encode_curve(equity).size
    meets = min(saves) <= 0.1 and size <= 8 * len(equity)
    print(
        f"{name:<10} save {min(saves):.3f} s  load {min(loads):.3f} s  "
        f"{size / len(equity):.2f} bytes/point ({size / 1e6:.2f} MB)  "
        f"target ≤ 0.1 s and ≤ 8 bytes: {'meets' if meets else 'below'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    equity = curve(args.points)
    started = time.perf_counter()
    encode_curve(equity)
    print(
        f"{len(equity):,} points; encoding alone {time.perf_counter() - started:.3f} s; best of {args.repeat}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        bench("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", equity, args.repeat)
    if args.no_postgres:
        return
    import psycopg

    name = f"ntrader_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        server = PG_ADMIN.split("://", 1)[1].rsplit("/", 1)[0]
        bench("PostgreSQL", f"postgresql+psycopg://{server}/{name}", equity, args.repeat)
    finally:
        dispose_engines()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
