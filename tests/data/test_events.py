"""Stored splits and dividends (bar_events): saved once, read back, on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text

from ntrader.data.mock import generate_bars
from ntrader.data.store import read_events, save_events, write_bars
from ntrader.db import get_engine
from ntrader.errors import InputError
from tests.conftest import count_rows


def events_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ex_date": pd.DatetimeIndex(["2024-02-09", "2024-06-10", "2024-05-10", "2024-06-10"], tz="UTC"),
            "kind": ["dividend", "split", "dividend", "dividend"],
            "value": [0.80, 4.0, 0.80, 0.20],
        }
    )


def test_events_are_saved_once_and_read_back_in_time_order(database_url):
    write_bars(generate_bars("ADJ", "2024-01-01", "2024-12-31"), symbol="ADJ", bar_size="1-DAY", source="csv")
    assert save_events("adj", "1-DAY", "csv", events_frame(), source="csv") == 4
    assert save_events("ADJ", "1-DAY", "csv", events_frame(), source="csv") == 0  # idempotent
    more = pd.DataFrame(
        {"ex_date": [pd.Timestamp("2024-08-09", tz="UTC")], "kind": ["dividend"], "value": [0.2]}
    )
    assert save_events("ADJ", "1-DAY", "csv", pd.concat([events_frame(), more]), source="csv") == 1
    assert count_rows(database_url, "bar_events") == 5
    back = read_events("ADJ", "1-DAY", "csv")
    assert list(back.columns) == ["ex_date", "kind", "value", "source"]
    days = [d.date().isoformat() for d in back.ex_date]
    assert list(zip(days, back.kind, back.value, strict=True)) == [
        ("2024-02-09", "dividend", 0.8), ("2024-05-10", "dividend", 0.8), ("2024-06-10", "dividend", 0.2),
        ("2024-06-10", "split", 4.0), ("2024-08-09", "dividend", 0.2),
    ]  # fmt: skip
    assert str(back.ex_date.dt.tz) == "UTC" and set(back.source) == {"csv"}
    with get_engine(database_url).connect() as conn:
        row = conn.execute(
            text(
                "SELECT s.symbol, s.bar_type, s.data_source, e.ts, e.kind, e.value, e.source "
                "FROM bar_events e JOIN bar_series s ON s.id = e.series_id WHERE e.kind = 'split'"
            )
        ).one()
    assert tuple(row) == (
        "ADJ",
        "1-DAY",
        "csv",
        pd.Timestamp("2024-06-10", tz="UTC").value,
        "split",
        4.0,
        "csv",
    )
    # Other series see none; events of a series without bars yet are kept (IBKR may store them first).
    assert read_events("ADJ", "1-DAY", "ibkr").empty
    assert save_events("NEW", "1-DAY", "ibkr", events_frame().iloc[:1], source="inferred") == 1
    assert read_events("NEW", "1-DAY", "ibkr").source.tolist() == ["inferred"]


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("split", 0.0, "split ratio must be positive"),
        ("dividend", -0.5, "dividend must not be negative"),
        ("bonus", 1.0, "event kind must be 'split' or 'dividend'"),
        ("dividend", float("nan"), "dividend must be a number"),
    ],
)
def test_bad_events_are_refused_and_nothing_is_stored(database_url, kind, value, message):
    bad = pd.concat(
        [
            events_frame(),
            pd.DataFrame(
                {"ex_date": [pd.Timestamp("2024-09-03", tz="UTC")], "kind": [kind], "value": [value]}
            ),
        ]
    )
    with pytest.raises(InputError, match=message) as caught:
        save_events("ADJ", "1-DAY", "csv", bad, source="csv")
    assert "2024-09-03" in str(caught.value)
    assert count_rows(database_url, "bar_events") == 0


def test_two_values_for_one_event_in_one_frame_are_refused(database_url):
    twice = pd.concat([events_frame(), events_frame().iloc[:1].assign(value=0.81)])
    with pytest.raises(InputError, match=r"dividend on 2024-02-09 given twice \(0.8 and 0.81\)"):
        save_events("ADJ", "1-DAY", "csv", twice, source="csv")
    with pytest.raises(InputError, match="event source must be one of csv, ibkr, inferred"):
        save_events("ADJ", "1-DAY", "csv", events_frame(), source="yahoo")
    assert count_rows(database_url, "bar_events") == 0
    # An exact duplicate row is one event.
    assert save_events("ADJ", "1-DAY", "csv", pd.concat([events_frame(), events_frame()]), source="csv") == 4
