"""CSV split/dividend/adj_close columns: checked like bar columns, stored as events, once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ntrader.data.adjust import adjust_bars
from ntrader.data.csv import read_csv_bars
from ntrader.data.store import import_csv, read_bars, read_events
from ntrader.errors import InputError
from tests.conftest import count_rows
from tests.data.test_adjust import DIVIDEND_DAYS, SPLIT_DAY, raw_series, vendor_adj_close
from tests.data.test_csv import GOOD, rows, write


def event_csv(tmp_path: Path, split_text: str = "4:1", style: str = "columns") -> Path:
    """The 4:1-split, quarterly-dividend series as a vendor file."""
    bars, splits, dividends = raw_series()
    out = bars.copy()
    out.index = out.index.strftime("%Y-%m-%d")
    if style == "columns":
        out["dividend"] = dividends.reindex(bars.index).to_numpy()
        out["split"] = np.where(bars.index == SPLIT_DAY, split_text, "")
    elif style == "yfinance":  # zeros on every other row, capitalised names
        out["Dividends"] = dividends.reindex(bars.index).fillna(0.0).to_numpy()
        out["Stock Splits"] = splits.reindex(bars.index).fillna(0.0).to_numpy()
    else:
        out["Adj Close"] = [repr(v) for v in vendor_adj_close(bars["close"], splits, dividends)]
    path = tmp_path / f"{style}.csv"
    out.to_csv(path, index_label="Date")
    return path


def stored(symbol: str = "ADJ") -> list[tuple[str, str, float, str]]:
    events = read_events(symbol, "1-DAY", "csv")
    return [(d.date().isoformat(), k, round(v, 9), s) for d, k, v, s in events.itertuples(index=False)]


EXPECTED = [
    ("2024-02-09", "dividend", 0.8), ("2024-05-10", "dividend", 0.8), ("2024-06-10", "split", 4.0),
    ("2024-08-09", "dividend", 0.2), ("2024-11-08", "dividend", 0.2),
]  # fmt: skip


@pytest.mark.parametrize(("style", "split_text"), [("columns", "4:1"), ("columns", "4/1"), ("columns", "4"),
                                                   ("yfinance", "")])  # fmt: skip
def test_split_and_dividend_columns_are_stored_once(tmp_path, database_url, style, split_text):
    path = event_csv(tmp_path, split_text, style)
    result = import_csv(path, symbol="ADJ")
    assert (result.inserted, result.events, result.events_inserted, result.event_source) == (252, 5, 5, "csv")
    assert not result.notes  # the event columns are read, not ignored
    assert stored() == [(*e, "csv") for e in EXPECTED]
    again = import_csv(path, symbol="ADJ")
    assert (again.inserted, again.events, again.events_inserted) == (0, 5, 0)
    assert count_rows(database_url, "bar_events") == 5
    bars, _, _ = raw_series()
    pd.testing.assert_frame_equal(read_bars("ADJ", "1-DAY", "csv"), bars, check_freq=False)


def test_events_are_inferred_from_an_adj_close_column(tmp_path, database_url):
    result = import_csv(event_csv(tmp_path, style="adj_close"), symbol="ADJ")
    assert (result.events, result.events_inserted, result.event_source) == (5, 5, "inferred")
    got = stored()
    assert [(d, k) for d, k, _, _ in got] == [(d, k) for d, k, _ in EXPECTED]
    np.testing.assert_allclose([v for *_, v, _ in got], [v for *_, v in EXPECTED], rtol=1e-9)
    assert {s for *_, s in got} == {"inferred"}
    assert read_csv_bars(event_csv(tmp_path, style="adj_close")).events is not None


POSITIVE = "must be greater than 0 (4 or 4:1 for a 4:1 split)"
BAD = {
    "negative dividend": ("dividend", "-0.5", 3, "dividend", "dividend -0.5 must not be negative (cash per share)"),  # noqa: E501
    "dividend text": ("dividend", "0.2x", 3, "dividend", "cannot read '0.2x' as a number"),
    "zero split ratio": ("split", "0:1", 3, "split", f"split ratio '0:1' {POSITIVE}"),
    "negative split": ("split", "-2", 3, "split", f"split ratio '-2' {POSITIVE}"),
    "split over zero": ("split", "4:0", 3, "split", f"split ratio '4:0' {POSITIVE}"),
    "split text": ("split", "four", 3, "split", "cannot read 'four' as a split ratio (4, 4:1 or 4/1)"),
    "empty adj_close": ("adj_close", "", 3, "adj_close", "empty value"),
    "zero adj_close": ("adj_close", "0", 3, "adj_close", "price 0 must be greater than 0"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_bad_event_cells_name_row_and_column_and_store_nothing(case, tmp_path, database_url):
    column, cell, row, name, message = BAD[case]
    good = "1" if column != "dividend" else ""
    lines = [f"{GOOD[0]},{good}", f"{GOOD[1]},{cell}", f"{GOOD[2]},{good}"]
    path = write(tmp_path, rows(*lines, header=f"timestamp,open,high,low,close,volume,{column}"))
    with pytest.raises(InputError) as caught:
        import_csv(path, symbol="AAPL")
    assert str(caught.value) == f"{path}, row {row}, column {name!r}: {message}"
    assert count_rows(database_url, "bars") == count_rows(database_url, "bar_events") == 0


def test_a_file_without_event_columns_has_no_events(tmp_path, database_url):
    result = import_csv(write(tmp_path, rows(*GOOD)), symbol="AAPL")
    assert (result.events, result.event_source) == (0, None)
    assert result.to_json_dict()["events"] == 0 and count_rows(database_url, "bar_events") == 0
    assert DIVIDEND_DAYS.size == 4


def test_a_split_the_prices_do_not_show_is_noted_and_not_stored(tmp_path, database_url):
    # Yahoo-style: Close already split-adjusted, the split still listed in "Stock Splits".
    bars, splits, dividends = raw_series()
    adjusted = adjust_bars(bars, splits, None, "splits")
    out = adjusted.set_axis(adjusted.index.strftime("%Y-%m-%d"))
    out["Dividends"] = (
        dividends.reindex(bars.index).fillna(0.0) / np.where(bars.index < SPLIT_DAY, 4, 1)
    ).to_numpy()
    out["Stock Splits"] = splits.reindex(bars.index).fillna(0.0).to_numpy()
    path = tmp_path / "yahoo.csv"
    out.to_csv(path, index_label="Date")
    result = import_csv(path, symbol="ADJ")
    assert result.notes == (
        "the 4:1 split on 2024-06-10 is not in the prices (no jump at its ex-date: they are already "
        "split-adjusted), so it is not stored",
    )
    assert [k for _, k, _, _ in stored()] == ["dividend"] * 4
    assert (result.events, result.events_inserted) == (4, 4)
