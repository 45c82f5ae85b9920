"""Stored bars: bulk write, read back as a bar frame, ranges and listings, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from ntrader.data import Period, load_bars
from ntrader.data.mock import generate_bars
from ntrader.data.store import (
    import_csv,
    list_stored,
    read_bars,
    resolve_period,
    stored_range,
    write_bars,
)
from ntrader.db import get_engine
from ntrader.errors import NotFoundError
from tests.conftest import count_rows

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "data" / "AAPL.csv"


def test_written_bars_read_back_exactly_with_progress(database_url, monkeypatch):
    monkeypatch.setattr("ntrader.db.barstore.CHUNK_ROWS", 250)
    bars = generate_bars("MSFT", "2024-01-02", "2024-01-05", "1-MINUTE")
    seen: list[tuple[int, int]] = []
    inserted = write_bars(
        bars, symbol="msft", bar_size="1-MINUTE", source="csv", progress=lambda d, t: seen.append((d, t))
    )
    assert inserted == len(bars) == 1560
    # One step per run of >= 250 bars: here every block (a 2048-minute window holds 390-780 of them).
    done = [d for d, _ in seen]
    assert seen[-1] == (1560, 1560) and len(seen) >= 3 and done == sorted(done)
    assert all(b - a >= 250 for a, b in zip([0, *done[:-2]], done[:-1], strict=True))
    back = read_bars("MSFT", "1-MINUTE", "csv")
    pd.testing.assert_frame_equal(back, bars, check_freq=False)
    window = read_bars("MSFT", "1MIN", "csv", "2024-01-03", pd.Timestamp("2024-01-04", tz="UTC"))
    assert len(window) == 390 and window.index[0] == pd.Timestamp("2024-01-03 14:30", tz="UTC")


def test_a_write_fills_the_holes_between_stored_bars_and_keeps_the_stored_ones(database_url):
    bars = generate_bars("MSFT", "2024-01-02", "2024-01-05", "1-MINUTE")
    assert write_bars(bars.iloc[::2], symbol="MSFT", bar_size="1-MINUTE", source="csv") == 780
    changed = bars.copy()
    changed["close"] += 1.0  # the stored half must keep its own closes
    assert write_bars(changed.iloc[100:], symbol="MSFT", bar_size="1-MINUTE", source="csv") == 730
    back = read_bars("MSFT", "1-MINUTE", "csv")
    assert len(back) == 780 + 730 and back.index.is_unique and back.index.is_monotonic_increasing
    stored_half = back.index.isin(bars.index[::2])
    pd.testing.assert_series_equal(back["close"][stored_half], bars["close"].iloc[::2], check_freq=False)
    filled = back[~stored_half]
    pd.testing.assert_series_equal(
        filled["close"],
        changed["close"].iloc[100:][~changed.index[100:].isin(bars.index[::2])],
        check_freq=False,
    )


def test_market_data_view_keeps_the_seed_plans_columns(database_url):
    bars = generate_bars("IBM", "2024-01-02", "2024-01-03", "1-HOUR")
    write_bars(bars, symbol="IBM", bar_size="1-HOUR", source="csv")
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(
            text(
                "SELECT symbol, bar_type, timestamp, open, close, volume, data_source FROM market_data "
                "ORDER BY timestamp"
            )
        ).all()
    assert len(rows) == len(bars) == 14
    first = rows[0]
    assert (first.symbol, first.bar_type, first.data_source) == ("IBM", "1-HOUR", "csv")
    stamps = [pd.Timestamp(r.timestamp) for r in rows]
    stamps = [s.tz_convert("UTC") if s.tzinfo else s.tz_localize("UTC") for s in stamps]
    assert stamps == list(bars.index)
    assert [r.close for r in rows] == bars["close"].tolist()


def test_bars_are_keyed_by_series_and_integer_time(database_url):
    bars = generate_bars("KEY", "2024-01-02", "2024-01-03", "1-MINUTE")
    shuffled = pd.concat([bars.iloc[::-1], bars.iloc[:5]])  # out of order, and five stamps twice
    assert write_bars(shuffled, symbol="KEY", bar_size="1-MINUTE", source="csv") == len(bars)
    assert write_bars(bars.iloc[100:200], symbol="KEY", bar_size="1-MINUTE", source="csv") == 0
    with get_engine(database_url).connect() as conn:
        series = conn.execute(
            text("SELECT id, symbol, bar_type, data_source, adjustment FROM bar_series")
        ).all()
        assert [tuple(r)[1:] for r in series] == [("KEY", "1-MINUTE", "csv", "raw")]
        first = conn.execute(text("SELECT series_id, ts FROM bars ORDER BY ts LIMIT 1")).one()
    assert tuple(first) == (series[0].id, bars.index[0].value)
    pd.testing.assert_frame_equal(read_bars("KEY", "1-MINUTE", "csv"), bars, check_freq=False)


def test_list_stored_groups_series_side_by_side(database_url, tmp_path):
    import_csv(EXAMPLE, symbol="AAPL")
    bars = read_bars("AAPL", "1-DAY", "csv").iloc[:10]
    write_bars(bars, symbol="AAPL", bar_size="1-DAY", source="ibkr")
    write_bars(bars.iloc[:3], symbol="MSFT", bar_size="1-DAY", source="csv")
    listed = [s.to_json_dict() for s in list_stored()]
    assert [(s["symbol"], s["source"], s["rows"]) for s in listed] == [
        ("AAPL", "csv", 502), ("AAPL", "ibkr", 10), ("MSFT", "csv", 3)
    ]  # fmt: skip
    assert listed[0]["first"] == "2023-01-03T00:00:00+00:00"
    assert listed[0]["last"] == "2024-12-31T00:00:00+00:00"
    assert [s.source for s in list_stored("msft")] == ["csv"]
    assert stored_range("AAPL", "1-DAY", "ibkr") == (bars.index[0], bars.index[-1])
    assert stored_range("AAPL", "1-HOUR", "csv") is None


def test_period_defaults_to_the_stored_range_and_nothing_stored_says_how_to_import(database_url):
    with pytest.raises(NotFoundError) as caught:
        resolve_period("AAPL", None, None, data_source="csv", bar_size="1-DAY")
    assert str(caught.value) == (
        "no 1-DAY bars stored for AAPL from csv; import a CSV first, e.g. "
        "`ntrader data import-csv examples/data/AAPL.csv --symbol AAPL`"
    )
    import_csv(EXAMPLE, symbol="AAPL")
    period = resolve_period("AAPL", None, None, data_source="csv", bar_size="1-DAY")
    assert str(period) == "2023-01-03 → 2024-12-31"
    assert str(resolve_period("AAPL", "2024-06-01", None, data_source="csv", bar_size="1-DAY")) == (
        "2024-06-01 → 2024-12-31"
    )
    with pytest.raises(NotFoundError, match=r"stored instead: 1-DAY from csv"):
        load_bars("AAPL", period, data_source="csv", bar_size="1-HOUR")
    with pytest.raises(
        NotFoundError, match=r"between 2020-01-01 and 2020-12-31; stored: 2023-01-03 → 2024-12-31"
    ):
        load_bars("AAPL", Period(pd.Timestamp("2020-01-01").date(), pd.Timestamp("2020-12-31").date()),
                  data_source="csv")  # fmt: skip
    bars = load_bars("AAPL", period, data_source="csv")
    assert len(bars) == 502 and str(bars.index.tz) == "UTC"


def test_a_csv_file_gives_bars_and_period_without_touching_the_database(database_url):
    period = resolve_period(
        "AAPL", None, "2023-06-30", data_source="mock", bar_size="1-DAY", csv_file=EXAMPLE
    )
    assert str(period) == "2023-01-03 → 2023-06-30"
    bars = load_bars("AAPL", period, csv_file=EXAMPLE)
    assert bars.index[-1] == pd.Timestamp("2023-06-30", tz="UTC")
    assert count_rows(database_url, "market_data") == 0


def test_blocks_follow_the_time_windows_and_hold_at_most_block_bars(monkeypatch):
    from ntrader.db import barstore

    monkeypatch.setattr(barstore, "BLOCK_BARS", 4)
    ns = np.array([0, 1, 2, 9, 10, 11, 12, 13, 14, 15, 16, 30], dtype=np.int64)
    values = np.vstack([ns * 1.5 + k for k in range(5)])
    blocks = barstore.encode_blocks(barstore.stack_columns(ns, values), window=10)
    assert [(b.start, b.end, b.rows) for b in blocks] == [
        (0, 9, 4), (10, 13, 4), (14, 16, 3), (30, 30, 1)
    ]  # fmt: skip
    assert all(len(b.data) == 48 * b.rows for b in blocks)
    back = barstore.decode_blocks([(b.start, b.rows, b.data) for b in blocks])
    assert back[0].view(np.int64).tolist() == ns.tolist()
    np.testing.assert_array_equal(back[1:], values)
    # The layout is the documented one: bar after bar, ts then the five values, little-endian.
    first = np.frombuffer(blocks[0].data[:48], dtype="<f8")
    assert first[:1].view("<i8")[0] == 0 and first[1:].tolist() == values[:, 0].tolist()


#: Doubles the views must decode to the bit: zero, subnormals, the extremes, fractions, negatives.
AWKWARD = [0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 146.63999999999999,
           1 / 3, -2.5, 1e-300, 123456789.123456789, 2.0**52 + 1, 7.0]  # fmt: skip


def test_the_bars_view_decodes_every_stored_double_exactly(database_url):
    from ntrader.db import barstore

    rng = np.random.default_rng(3)
    count = 2 * 2048 + 10  # three blocks: the view walks every bar of each
    ns = np.sort(rng.choice(10**15, size=count, replace=False)).astype(np.int64) - 10**14  # < 1970 too
    values = rng.normal(0, 1e3, size=(5, count)) * 10.0 ** rng.integers(-300, 300, size=(5, count))
    values[:, : len(AWKWARD)] = np.array(AWKWARD)
    engine = get_engine(database_url)
    assert barstore.insert_bars(engine, ("ODD", "1-MINUTE", "csv"), ns, values) == count
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT ts, open, high, low, close, volume FROM bars ORDER BY ts")).all()
        blocks = conn.execute(text("SELECT COUNT(*) FROM bar_blocks")).scalar_one()
    assert len(rows) == count and blocks >= 3
    assert [r[0] for r in rows] == ns.tolist()
    viewed = np.array([r[1:] for r in rows], dtype=np.float64).T
    assert viewed.view(np.int64).tolist() == values.view(np.int64).tolist()  # bit for bit
