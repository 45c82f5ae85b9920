"""CSV import checks: every bad file is rejected with file, row and column, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ntrader.data.csv import read_csv_bars
from ntrader.data.store import import_csv, read_bars
from ntrader.errors import InputError
from tests.conftest import count_rows

HEADER = "timestamp,open,high,low,close,volume"
GOOD = [
    "2024-01-02,100,101,99,100.5,1000",
    "2024-01-03,100.5,102,100,101.5,1200",
    "2024-01-04,101.5,103,101,102,900",
]


def write(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def rows(*lines: str, header: str = HEADER) -> str:
    return "\n".join((header, *lines)) + "\n"


BAD_CASES = {
    "missing column": (
        rows("2024-01-02,100,101,99,100.5", header="timestamp,open,high,low,close"),
        1,
        "volume",
        "missing column; the header needs timestamp,open,high,low,close,volume "
        "(found: timestamp,open,high,low,close)",
    ),
    "bad timestamp": (
        rows(GOOD[0], "2024-13-45,100,101,99,100.5,1000"),
        3,
        "timestamp",
        "cannot read '2024-13-45' as a date (YYYY-MM-DD) or ISO 8601 date-time",
    ),
    "bad number": (
        rows(GOOD[0], GOOD[1], "2024-01-04,101.5,10x3,101,102,900"),
        4,
        "high",
        "cannot read '10x3' as a number",
    ),
    "NaN value": (rows(GOOD[0], "2024-01-03,100.5,102,100,NaN,1200"), 3, "close", "empty or NaN value"),
    "empty value": (rows("2024-01-02,,101,99,100.5,1000"), 2, "open", "empty or NaN value"),
    "empty timestamp": (rows(GOOD[0], ",100.5,102,100,101.5,1200"), 3, "timestamp", "empty value"),
    "zero price": (
        rows(GOOD[0], "2024-01-03,0,102,100,101.5,1200"),
        3,
        "open",
        "price 0 must be greater than 0",
    ),
    "negative price": (
        rows("2024-01-02,100,101,-99,100.5,1000"),
        2,
        "low",
        "price -99 must be greater than 0",
    ),
    "negative volume": (
        rows(GOOD[0], GOOD[1], "2024-01-04,101.5,103,101,102,-5"),
        4,
        "volume",
        "volume -5 must not be negative",
    ),
    "high below open/close": (
        rows(GOOD[0], "2024-01-03,100.5,101,100,101.5,1200"),
        3,
        "high",
        "high 101 is below max(open, close) = 101.5",
    ),
    "low above open/close": (
        rows("2024-01-02,100,101,100.2,100.5,1000"),
        2,
        "low",
        "low 100.2 is above min(open, close) = 100",
    ),
    "duplicate timestamp": (
        rows(GOOD[0], GOOD[1], GOOD[2], "2024-01-03,100.5,102,100,101.5,1200"),
        5,
        "timestamp",
        "duplicate timestamp 2024-01-03 (first on row 3)",
    ),
    # Out of time order, duplicates are found by hashing instead of comparing neighbours.
    "duplicate timestamp in an unsorted file": (
        rows(GOOD[2], GOOD[0], GOOD[1], "2024-01-02,100.5,102,100,101.5,1200"),
        5,
        "timestamp",
        "duplicate timestamp 2024-01-02 (first on row 3)",
    ),
    "empty file": ("", 1, None, "file is empty; expected the header timestamp,open,high,low,close,volume"),
    "header only": (rows(), 2, None, "no bars below the header"),
    "semicolons": (
        rows("2024-01-02;100;101;99;100.5;1000", header=HEADER.replace(",", ";")),
        1,
        None,
        "columns are separated by ';'; ntrader reads comma-separated files "
        "(header timestamp,open,high,low,close,volume)",
    ),
    "semicolon rows under a comma header": (
        rows(GOOD[0], "2024-01-03;100.5;102;100;101.5;1200"),
        3,
        None,
        "columns are separated by ';'; ntrader reads comma-separated files",
    ),
    "extra field": (
        rows(GOOD[0], GOOD[1] + ",7"),
        3,
        None,
        "expected 6 comma-separated fields like the header, found 7",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_file_names_file_row_column_and_writes_nothing(case, tmp_path, database_url):
    text, row, column, message = BAD_CASES[case]
    import_csv(write(tmp_path, rows(*GOOD), "seed.csv"), symbol="AAPL")  # the database is not empty
    before = count_rows(database_url, "market_data")
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        import_csv(path, symbol="AAPL")
    where = [str(path), f"row {row}"] + ([f"column {column!r}"] if column else [])
    assert str(caught.value) == f"{', '.join(where)}: {message}"
    assert (caught.value.row, caught.value.column) == (row, column)
    assert count_rows(database_url, "market_data") == before == 3


def test_row_numbers_count_blank_lines_like_an_editor(tmp_path):
    path = write(tmp_path, f"{HEADER}\n{GOOD[0]}\n\n\n{GOOD[1]}\r\n2024-01-05,1,0.5,0.9,1,1\n")
    with pytest.raises(InputError, match=r"row 6, column 'high'"):
        read_csv_bars(path)


def test_earliest_bad_row_wins_over_column_order(tmp_path):
    path = write(tmp_path, rows(GOOD[0], "2024-01-03,100.5,102,100,101.5,-1", "2024-01-04,x,1,1,1,1"))
    with pytest.raises(InputError, match=r"row 3, column 'volume'"):
        read_csv_bars(path)


def test_missing_file_and_bad_timezone(tmp_path):
    with pytest.raises(InputError, match="nope.csv: no such file"):
        read_csv_bars(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="unknown time zone 'Mars/Olympus'"):
        read_csv_bars(write(tmp_path, rows(*GOOD)), timezone="Mars/Olympus")


def test_header_is_case_insensitive_and_extra_columns_are_ignored(tmp_path):
    header = "Date,Open,HIGH,Low,Close,Adj Close,Volume,Note"
    text = rows(*(line.replace(",1000", ",99,1000,x") for line in GOOD[:1]), header=header)
    bars = read_csv_bars(write(tmp_path, text))
    assert list(bars.frame.columns) == ["open", "high", "low", "close", "volume"]
    assert bars.frame.iloc[0].tolist() == [100.0, 101.0, 99.0, 100.5, 1000.0]
    # Adj Close is read (events are inferred from it: none in one row); other columns are ignored.
    assert bars.notes == ("ignored column(s): Note",)
    assert bars.event_source == "inferred" and bars.events is not None and bars.events.empty


def test_unsorted_rows_are_sorted_with_a_note(tmp_path, database_url):
    result = import_csv(write(tmp_path, rows(GOOD[2], GOOD[0], GOOD[1])), symbol="AAPL")
    assert "rows were not in time order; sorted them by timestamp" in result.notes
    stored = read_bars("AAPL", "1-DAY", "csv")
    assert stored.index.is_monotonic_increasing and len(stored) == 3
    assert stored["close"].tolist() == [100.5, 101.5, 102.0]


def test_naive_times_use_the_timezone_and_offsets_win(tmp_path):
    text = rows(
        "2024-03-08 09:30:00,1,1,1,1,1",
        "2024-03-11T09:30:00,1,1,1,1,1",  # after the US switch to daylight time
        "2024-03-11T14:31:00Z,1,1,1,1,1",
        "2024-03-11 10:32:00+01:00,1,1,1,1,1",
    )
    bars = read_csv_bars(write(tmp_path, text), bar_size="1-MINUTE", timezone="America/New_York")
    assert [t.isoformat() for t in bars.frame.index] == [
        "2024-03-08T14:30:00+00:00",
        "2024-03-11T09:32:00+00:00",
        "2024-03-11T13:30:00+00:00",
        "2024-03-11T14:31:00+00:00",
    ]
    assert bars.was_sorted
    utc = read_csv_bars(write(tmp_path, rows("2024-03-08 09:30:00,1,1,1,1,1"), "u.csv"), bar_size="1MIN")
    assert utc.frame.index[0] == pd.Timestamp("2024-03-08 09:30", tz="UTC")


def test_time_that_does_not_exist_in_the_zone_is_rejected(tmp_path):
    path = write(tmp_path, rows("2024-03-10 02:30:00,1,1,1,1,1"))
    with pytest.raises(InputError, match=r"row 2, column 'timestamp': '2024-03-10 02:30:00' does not exist"):
        read_csv_bars(path, bar_size="1-MINUTE", timezone="America/New_York")
    # Arrow parses such stamps while reading; the message still quotes the row as written.
    path = write(tmp_path, rows("2024-03-08 09:30,1,1,1,1,1", "2024-03-10T02:30,1,1,1,1,1"))
    with pytest.raises(InputError, match=r"row 3, column 'timestamp': '2024-03-10T02:30' does not exist"):
        read_csv_bars(path, bar_size="1-MINUTE", timezone="America/New_York")


def test_daily_bars_keep_their_date_at_midnight_utc(tmp_path):
    text = rows("2024-01-02T00:00:00-05:00,1,1,1,1,1", "2024-01-03,1,1,1,1,1")
    bars = read_csv_bars(write(tmp_path, text), timezone="Asia/Tokyo")
    assert list(bars.frame.index) == [
        pd.Timestamp("2024-01-02", tz="UTC"),
        pd.Timestamp("2024-01-03", tz="UTC"),
    ]


def test_reimport_inserts_nothing_and_overlap_inserts_only_new_bars(tmp_path, database_url):
    first = import_csv(write(tmp_path, rows(*GOOD)), symbol="aapl")
    assert (first.rows, first.inserted, first.symbol) == (3, 3, "AAPL")
    again = import_csv(write(tmp_path, rows(*GOOD)), symbol="AAPL")
    assert (again.inserted, again.already_stored) == (0, 3)
    overlap = import_csv(
        write(tmp_path, rows(GOOD[2], "2024-01-05,102,104,101,103,800", "2024-01-08,103,104,102,103.5,700")),
        symbol="AAPL",
    )
    assert (overlap.inserted, overlap.already_stored) == (2, 1)
    assert count_rows(database_url, "market_data") == 5
    # The same bars under another source or bar size are a separate series.
    assert import_csv(write(tmp_path, rows(*GOOD)), symbol="AAPL", source="yahoo").inserted == 3
    assert count_rows(database_url, "market_data") == 8
