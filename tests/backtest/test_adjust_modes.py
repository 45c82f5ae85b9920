"""`--adjust raw|splits|total-return` on stored bars with a 4:1 split and quarterly dividends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ntrader.backtest.pipeline import prepare
from ntrader.backtest.request import BacktestRequest
from ntrader.data.adjust import adjust_bars
from ntrader.data.store import save_events, write_bars
from ntrader.errors import InputError
from tests.data.test_adjust import DIVIDEND_DAYS, SPLIT_DAY, raw_series


def test_the_cli_choices_are_the_adjustment_modes():
    from ntrader.backtest import choices
    from ntrader.data import adjust

    assert choices.ADJUST_MODES == adjust.ADJUSTMENTS
    assert choices.DEFAULT_ADJUST == adjust.DEFAULT_ADJUST == BacktestRequest.adjust


def store_adj(url: str) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    bars, splits, dividends = raw_series()
    write_bars(bars, symbol="ADJ", bar_size="1-DAY", source="csv", url=url)
    events = pd.DataFrame(
        {
            "ex_date": [*splits.index, *dividends.index],
            "kind": ["split"] * len(splits) + ["dividend"] * len(dividends),
            "value": [*splits, *dividends],
        }
    )
    assert save_events("ADJ", "1-DAY", "csv", events, source="csv", url=url) == 5
    return bars, splits, dividends


def request(adjust: str | None = None, start: str = "2024-01-01", end: str = "2024-12-31") -> BacktestRequest:
    options = {} if adjust is None else {"adjust": adjust}
    return BacktestRequest.build("sma_crossover", "ADJ", start, end, data_source="csv", **options)


def test_the_default_is_splits_and_each_mode_adjusts_the_stored_bars(database_url):
    bars, splits, dividends = store_adj(database_url)
    assert request().adjust == "splits"
    pd.testing.assert_frame_equal(
        prepare(request()).bars, adjust_bars(bars, splits, dividends, "splits"), check_freq=False
    )
    total = prepare(request("total-return")).bars
    pd.testing.assert_frame_equal(
        total, adjust_bars(bars, splits, dividends, "total-return"), check_freq=False
    )
    # A period after the split: the split is outside it, the two later dividends remain.
    late = prepare(request("total-return", "2024-07-01")).bars
    inside = bars.loc["2024-07-01":]
    pd.testing.assert_frame_equal(
        late,
        adjust_bars(inside, None, dividends[dividends.index > SPLIT_DAY], "total-return"),
        check_freq=False,
    )
    with pytest.raises(
        InputError, match="unknown adjustment 'dividends'; use one of raw, splits, total-return"
    ):
        request("dividends")


def test_raw_refuses_a_split_inside_the_period_and_hands_the_dividends_to_the_engine(database_url):
    bars, _, _ = store_adj(database_url)
    with pytest.raises(InputError) as caught:
        prepare(request("raw"))
    assert str(caught.value) == (
        "--adjust raw: ADJ has a 4:1 split on 2024-06-10 inside the period, and Nautilus cannot change an "
        "open position's share count; use --adjust splits or total-return, or a period without the split"
    )
    late = prepare(request("raw", "2024-07-01")).bars
    pd.testing.assert_frame_equal(late, bars.loc["2024-07-01":], check_freq=False)
    np.testing.assert_array_equal(late.attrs["dividends"].index, DIVIDEND_DAYS[2:])
    np.testing.assert_allclose(late.attrs["dividends"].to_numpy(), [0.2, 0.2])


def test_intraday_bars_use_the_daily_series_events(database_url):
    from ntrader.data.mock import generate_bars

    minutes = generate_bars("ADJ", "2024-06-06", "2024-06-11", "1-HOUR")
    write_bars(minutes, symbol="ADJ", bar_size="1-HOUR", source="csv", url=database_url)
    split = pd.DataFrame({"ex_date": [SPLIT_DAY], "kind": ["split"], "value": [2.0]})
    save_events("ADJ", "1-DAY", "csv", split, source="csv", url=database_url)
    hourly = BacktestRequest.build(
        "sma_crossover", "ADJ", "2024-06-06", "2024-06-11", data_source="csv", bar_size="1-HOUR"
    )
    got = prepare(hourly).bars
    before = minutes.index < SPLIT_DAY  # the split belongs to the first bar of 10 June (13:30 UTC)
    np.testing.assert_allclose(got.loc[before, "close"], minutes.loc[before, "close"] / 2)
    np.testing.assert_allclose(got.loc[~before, "close"], minutes.loc[~before, "close"])
    assert before.sum() and (~before).sum()


def test_a_config_file_takes_the_adjust_key_and_names_its_line(tmp_path):
    from ntrader.backtest.config_file import load_run_config

    path = tmp_path / "run.yaml"
    path.write_text("strategy: sma\nsymbol: ADJ\ndata_source: csv\nadjust: total-return\n")
    assert load_run_config(path).to_request().adjust == "total-return"
    path.write_text("strategy: sma\nsymbol: ADJ\n")
    assert load_run_config(path).to_request().adjust == "splits"
    path.write_text("strategy: sma\nsymbol: ADJ\nadjust: dividends\n")
    with pytest.raises(InputError, match=r"line 3: field 'adjust'"):
        load_run_config(path)
