"""Bar sizes: one table, one bar-type format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ntrader.data.bars import BAR_SIZE_CHOICES, BAR_SIZE_NAMES, parse_bar_size, utc_nanos


def test_bar_type_from_an_instrument_id_or_a_symbol_and_venue() -> None:
    size = parse_bar_size("5MIN")
    assert size.bar_type("AAPL.NASDAQ") == "AAPL.NASDAQ-5-MINUTE-LAST-EXTERNAL"
    assert size.bar_type(symbol="MSFT", venue="NYSE") == "MSFT.NYSE-5-MINUTE-LAST-EXTERNAL"
    assert parse_bar_size("1-DAY").bar_type("SPY.ARCA", price_type="MID") == "SPY.ARCA-1-DAY-MID-EXTERNAL"
    with pytest.raises(ValueError):
        size.bar_type(symbol="AAPL")


def test_bar_type_accepts_a_nautilus_instrument_id_and_nautilus_parses_it() -> None:
    from nautilus_trader.model.data import BarType
    from nautilus_trader.model.identifiers import InstrumentId

    text = parse_bar_size("1-MINUTE").bar_type(InstrumentId.from_str("AAPL.NASDAQ"))
    assert str(BarType.from_str(text)) == "AAPL.NASDAQ-1-MINUTE-LAST-EXTERNAL"


def test_every_choice_parses_to_a_known_size() -> None:
    assert BAR_SIZE_CHOICES[:4] == ("DAILY", "1HOUR", "5MIN", "1MIN")
    assert {parse_bar_size(c).name for c in BAR_SIZE_CHOICES} == set(BAR_SIZE_NAMES)


def test_utc_nanos_reads_the_index_without_copying_it() -> None:
    index = pd.date_range("2024-03-10 05:00", periods=5, freq="h", tz="America/New_York").as_unit("ns")
    nanos = utc_nanos(index)
    assert nanos.tolist() == [stamp.value for stamp in index]  # Timestamp.value: UTC nanoseconds
    assert np.shares_memory(nanos, index.asi8)  # a million stamps: 8 MB not copied
    seconds = utc_nanos(index.as_unit("s"))
    assert seconds.tolist() == nanos.tolist()
    with pytest.raises(TypeError):
        utc_nanos(index.tz_localize(None))  # naive: no UTC reading
