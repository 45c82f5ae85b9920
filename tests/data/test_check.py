"""`data check`: every planted problem is found where it was planted; clean data reports nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.data.check import CHECKS, CheckOptions, check_bars
from ntrader.data.csv import read_csv_bars
from ntrader.data.mock import generate_bars

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "data" / "AAPL.csv"
UTC = "UTC"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


def counts(report) -> dict[str, int]:
    return {f.check: f.count for f in report.findings}


def windows(report, check: str) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    return [(a, b) for a, b, _ in next(f for f in report.findings if f.check == check).windows]


def planted_minutes() -> pd.DataFrame:
    """Six weeks of mock minute bars (Juneteenth, 3 July half day, 4 July) with one of each problem."""
    bars = generate_bars("PLNT", "2024-06-03", "2024-07-05", "1-MINUTE")
    # A hole of 30 minutes (11:00-11:30 New York = 15:00-15:30 UTC in summer) and a whole session.
    hole = (bars.index >= ts("2024-06-05 15:00")) & (bars.index < ts("2024-06-05 15:30"))
    day = bars.index.tz_convert("America/New_York").normalize().tz_localize(None)
    bars = bars[~hole & (day != pd.Timestamp("2024-06-10"))].copy()
    # A stale run: 19 identical closes from 14:00 UTC on 12 June.
    at = bars.index.get_indexer(pd.date_range(ts("2024-06-12 14:00"), periods=19, freq="min"))
    price = bars["close"].iloc[at[0]]
    bars.iloc[at, bars.columns.get_loc("close")] = price
    bars.iloc[at, bars.columns.get_loc("open")] = price
    bars.iloc[at, bars.columns.get_loc("high")] = np.maximum(bars["high"].iloc[at], price)
    bars.iloc[at, bars.columns.get_loc("low")] = np.minimum(bars["low"].iloc[at], price)
    # A one-bar spike of +30 % at 16:00 UTC on 14 June.
    spike = bars.index.get_loc(ts("2024-06-14 16:00"))
    bars.iloc[spike, bars.columns.get_loc("close")] *= 1.3
    bars.iloc[spike, bars.columns.get_loc("high")] = bars["close"].iloc[spike]
    # A bar that traded nothing.
    bars.iloc[bars.index.get_loc(ts("2024-06-18 17:00")), bars.columns.get_loc("volume")] = 0.0
    # An unadjusted 4:1 split from the 20 June open on.
    after = bars.index >= ts("2024-06-20 13:30")
    for name in ("open", "high", "low", "close"):
        bars.loc[after, name] = (bars.loc[after, name] / 4).round(2)
    bars.loc[after, "volume"] *= 4
    # Bars outside the session: a Saturday, and 17:00 New York on a weekday.
    extra = pd.DataFrame(
        {"open": 50.0, "high": 50.0, "low": 50.0, "close": 50.0, "volume": 100.0},
        index=pd.DatetimeIndex([ts("2024-06-15 15:00"), ts("2024-06-17 21:00")], name="timestamp"),
    )
    return pd.concat([bars, extra]).sort_index()


def test_every_planted_problem_is_found_where_it_was_planted():
    report = check_bars(planted_minutes(), "1-MINUTE", symbol="PLNT", source="csv")
    assert counts(report) == {
        "missing_sessions": 1,
        "missing_bars": 30,
        "duplicates": 0,
        "outside_session": 2,
        "stale": 1,
        "zero_volume": 1,
        "ohlc": 0,
        "outliers": 1,
        "splits": 1,
    }
    assert windows(report, "missing_sessions") == [(ts("2024-06-10"), ts("2024-06-11"))]
    assert windows(report, "missing_bars") == [(ts("2024-06-05 15:00"), ts("2024-06-05 15:30"))]
    assert windows(report, "outside_session") == [
        (ts("2024-06-15 15:00"), ts("2024-06-15 15:01")),
        (ts("2024-06-17 21:00"), ts("2024-06-17 21:01")),
    ]
    stale = next(f for f in report.findings if f.check == "stale").windows[0]
    assert (stale[0], stale[1]) == (ts("2024-06-12 14:00"), ts("2024-06-12 14:19"))
    assert "on 19 bars" in stale[2]
    assert windows(report, "outliers") == [(ts("2024-06-14 16:00"), ts("2024-06-14 16:01"))]
    split = next(f for f in report.findings if f.check == "splits").windows[0]
    assert split[0] == ts("2024-06-20 13:30") and split[2].startswith("4:1 split?")
    assert windows(report, "zero_volume") == [(ts("2024-06-18 17:00"), ts("2024-06-18 17:01"))]
    # The half day (3 July closes 13:00 New York) and the holidays are not holes.
    assert report.hours == "regular" and report.sessions == 23
    assert not report.clean


def test_clean_mock_and_real_data_report_nothing():
    real = read_csv_bars(EXAMPLE).frame
    assert check_bars(real, "1-DAY").clean
    for symbol in ("AAPL", "MSFT", "SPY", "QQQ", "IBM"):
        assert check_bars(generate_bars(symbol, "2000-01-01", "2024-12-31"), "1-DAY").clean, symbol
        for size in ("1-MINUTE", "5-MINUTE", "1-HOUR"):
            bars = generate_bars(symbol, "2024-01-01", "2024-12-31", size)
            report = check_bars(bars, size)
            assert report.clean, (symbol, size, [f.to_json_dict() for f in report.problems])
            assert report.sessions == 252 and report.rows == len(bars)


def test_duplicates_ohlc_and_daily_calendar():
    bars = generate_bars("DAY", "2024-11-01", "2024-12-31")
    bars = bars.drop(ts("2024-11-29"))  # the day after Thanksgiving (a half day) is missing
    christmas = bars.iloc[[-1]].set_axis(pd.DatetimeIndex([ts("2024-12-25")], name="timestamp"))
    bars = pd.concat([bars, christmas, bars.iloc[[3]]]).sort_index()  # a holiday bar and a duplicate
    bars.iloc[10, bars.columns.get_loc("high")] = bars["low"].iloc[10] - 1  # high below low
    report = check_bars(bars, "1-DAY", start="2024-11-01", end="2024-12-31")
    found = counts(report)
    planted = ("missing_sessions", "outside_session", "duplicates", "ohlc")
    assert [found[name] for name in planted] == [1, 1, 1, 1]
    assert windows(report, "missing_sessions") == [(ts("2024-11-29"), ts("2024-11-30"))]
    assert windows(report, "outside_session") == [(ts("2024-12-25"), ts("2024-12-26"))]
    assert windows(report, "duplicates")[0][0] == bars.index[3]
    # Sessions of the range asked for: 20 in November (Thanksgiving closed), 21 in December.
    assert report.sessions == 41 and report.rows == 42


def test_extended_hours_are_recognised_and_thresholds_apply():
    regular = generate_bars("EXT", "2024-03-04", "2024-03-08", "1-MINUTE")
    pre = pd.date_range(ts("2024-03-04 09:00"), ts("2024-03-04 14:29"), freq="min")  # 04:00-09:29 New York
    early = pd.DataFrame({c: 10.0 for c in regular.columns}, index=pre)
    early["close"] = np.linspace(10, 11, len(pre)).round(2)
    early["high"], early["open"], early["low"] = early["close"], early["close"], early["close"]
    night = early.iloc[[0]].set_axis(pd.DatetimeIndex([ts("2024-03-05 08:00")]))  # 03:00 New York
    frame = pd.concat([regular, early, night]).sort_index()
    frame.index.name = "timestamp"
    report = check_bars(frame, "1-MINUTE")
    assert report.hours == "extended"
    assert windows(report, "outside_session") == [(ts("2024-03-05 08:00"), ts("2024-03-05 08:01"))]
    assert (
        counts(check_bars(frame, "1-MINUTE", options=CheckOptions(hours="regular")))["outside_session"]
        == len(pre) + 1
    )
    # A stale run shorter than the threshold is only found with a lower one.
    flat = regular.copy()
    flat.iloc[100:105, flat.columns.get_loc("close")] = flat["close"].iloc[100]
    flat["high"] = flat[["high", "close"]].max(axis=1)
    flat["low"] = flat[["low", "close"]].min(axis=1)
    assert counts(check_bars(flat, "1-MINUTE"))["stale"] == 0
    assert counts(check_bars(flat, "1-MINUTE", options=CheckOptions(stale_bars=5)))["stale"] == 1


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_check_finds_planted_problems_exit_1_and_clean_exit_0(database_url, tmp_path):
    planted = tmp_path / "planted.csv"
    planted_minutes().to_csv(planted, index_label="timestamp", date_format="%Y-%m-%dT%H:%M:%SZ")
    imported = invoke("data", "import-csv", str(planted), "--symbol", "PLNT", "--bar-size", "1-MINUTE")
    assert imported.exit_code == 0, imported.output
    assert imported.output.splitlines()[-1] == (
        "Quality: 1 sessions without bars, 30 bars missing inside sessions, 2 bars outside the session, "
        "1 runs of the same close, 1 bars with zero volume, 1 outlier returns, "
        "1 jumps that look like an unadjusted split; details: "
        "`ntrader data check PLNT --bar-size 1-MINUTE --source csv`."
    )
    text = invoke("data", "check", "PLNT", "--bar-size", "1-MINUTE")
    assert text.exit_code == 1
    assert "2024-06-05 15:00 → 2024-06-05 15:30" in text.output
    assert "4:1 split?" in text.output
    as_json = invoke("data", "check", "PLNT", "--bar-size", "1-MINUTE", "--json")
    assert as_json.exit_code == 1
    document = json.loads(as_json.output)
    assert {c["check"]: c["count"] for c in document["checks"]}["missing_bars"] == 30
    assert [c["check"] for c in document["checks"]] == list(CHECKS)
    assert document["clean"] is False and document["problems"] == 37

    clean = invoke("data", "import-csv", str(EXAMPLE), "--symbol", "AAPL")
    assert clean.output.splitlines()[-1] == "Quality: no problems in 502 bars over 502 sessions."
    ok = invoke("data", "check", "AAPL", "--json")
    assert ok.exit_code == 0 and json.loads(ok.output)["clean"] is True
    missing = CliRunner().invoke(cli, ["data", "check", "MSFT"])
    assert missing.exit_code == 1 and "no 1-DAY bars stored for MSFT" in missing.output


@pytest.mark.parametrize("bad", ["sideways"])
def test_hours_must_be_known(bad):
    with pytest.raises(ValueError, match="hours must be"):
        check_bars(generate_bars("X", "2024-01-02", "2024-01-05"), "1-DAY", options=CheckOptions(hours=bad))


@pytest.mark.parametrize("size", ["1-MINUTE", "1-DAY"])
def test_a_series_with_no_bar_inside_the_session_is_reported_not_a_crash(size):
    bars = generate_bars("NITE", "2024-06-06", "2024-06-07", size)  # Thursday and Friday
    # Intraday: every bar moved to the night; daily: both moved to the weekend.
    bars.index = bars.index + (pd.Timedelta(hours=10) if size != "1-DAY" else pd.Timedelta(days=2))
    report = check_bars(bars, size, options=CheckOptions(hours="regular"))
    found = counts(report)
    assert found["outside_session"] == len(bars)
    assert found["splits"] == found["outliers"] == 0
    one = check_bars(bars.iloc[:1], size)
    assert counts(one)["outliers"] == 0
