"""Backtests on IBKR bars through the CLI: partial and gappy data are said, fetch errors reach the user."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.config import get_settings
from ntrader.db.runs import get_run
from ntrader.ibkr.fake import FakeGateway, FaultPlan
from ntrader.ibkr.fetch import fetch_bars

RUN = ["backtest", "run", "--strategy", "sma", "--symbol", "AAPL", "--data-source", "ibkr"]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def gateway_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[FakeGateway], None]:
    def point_at(gateway: FakeGateway) -> None:
        monkeypatch.setenv("IBKR_HOST", "127.0.0.1")
        monkeypatch.setenv("IBKR_PORT", str(gateway.port))
        get_settings.cache_clear()

    return point_at


def test_a_period_only_partly_stored_is_saved_as_the_bars_range_and_said(
    make_gateway: Callable[..., FakeGateway], database_url: str, gateway_env: Callable[[FakeGateway], None]
) -> None:
    gateway = make_gateway()
    fetch_bars("AAPL", "2023-10-02", "2024-09-30", port=gateway.port, host="127.0.0.1", allow_gaps=True)
    shown = invoke(*RUN, "--start", "2023-01-02", "--end", "2024-12-31", "--no-fetch")
    assert shown.exit_code == 0, shown.output
    assert "bars cover only part of the requested 2023-01-02 → 2024-12-31" in shown.output
    result = invoke(*RUN, "--start", "2023-01-02", "--end", "2024-12-31", "--no-fetch", "--json")
    run = json.loads(result.output)
    record = get_run(run["id"])
    assert (record.start.date().isoformat(), record.end.date().isoformat()) == ("2023-10-02", "2024-09-30")
    assert record.settings["requested_period"] == ["2023-01-02", "2024-12-31"]
    assert "data_gaps" not in record.settings  # the stored stretch itself is whole


def test_known_gaps_are_listed_in_the_run_and_shown(
    make_gateway: Callable[..., FakeGateway], database_url: str, gateway_env: Callable[[FakeGateway], None]
) -> None:
    holes = [
        (pd.Timestamp(f"2024-03-{d:02d}", tz="UTC"), pd.Timestamp(f"2024-03-{d + 1:02d}", tz="UTC"))
        for d in (5, 6, 12, 19, 26)
    ]
    gateway = make_gateway(faults=FaultPlan(no_data_windows=tuple(holes)))
    gateway_env(gateway)
    shown = invoke(*RUN, "--start", "2024-01-02", "--end", "2024-06-28")
    assert shown.exit_code == 0, shown.output
    assert "4 known gap(s) in the bars (first 2024-03-05T00:00 → 2024-03-07T00:00 UTC)" in shown.output
    result = invoke(*RUN, "--start", "2024-01-02", "--end", "2024-06-28", "--no-fetch", "--json")
    record = get_run(json.loads(result.output)["id"])
    gaps = record.settings["data_gaps"]
    assert gaps["count"] == 4 and gaps["listed"][0] == [
        "2024-03-05T00:00:00+00:00",
        "2024-03-07T00:00:00+00:00",
    ]
    assert "requested_period" not in record.settings


@pytest.mark.parametrize(
    ("faults", "reason"),
    [
        (FaultPlan(unknown_symbols={"AAPL"}), "IB error 200: no security definition"),
        (FaultPlan(no_permission_symbols={"AAPL"}), "No market data permissions for NASDAQ STK"),
    ],
)
def test_a_failed_fetch_inside_a_backtest_shows_ibs_reason(
    make_gateway: Callable[..., FakeGateway],
    database_url: str,
    gateway_env: Callable[[FakeGateway], None],
    faults: FaultPlan,
    reason: str,
) -> None:
    gateway_env(make_gateway(faults=faults))
    result = invoke(*RUN, "--start", "2024-01-02", "--end", "2024-03-28")
    assert result.exit_code == 1
    assert reason in result.output and "fetching 1-DAY bars from IB failed" in result.output
    assert "no 1-DAY bars stored" not in result.output
    assert "Traceback" not in result.output


def test_the_venue_follows_the_instrument(
    make_gateway: Callable[..., FakeGateway], database_url: str, gateway_env: Callable[[FakeGateway], None]
) -> None:
    gateway_env(make_gateway())
    run = ["backtest", "run", "--strategy", "sma", "--symbol", "SPY", "--data-source", "ibkr", "--json"]
    result = invoke(*run, "--start", "2024-01-02", "--end", "2024-06-28")
    assert result.exit_code == 0, result.output
    record = get_run(json.loads(result.output)["id"])
    assert record.settings["instrument_id"] == "SPY.ARCA"  # IB's primary listing, not NASDAQ
    assert record.bar_type.startswith("SPY.ARCA-1-DAY")


def test_a_period_starting_on_a_holiday_and_ending_on_a_weekend_is_not_partial(
    make_gateway: Callable[..., FakeGateway], database_url: str, gateway_env: Callable[[FakeGateway], None]
) -> None:
    gateway_env(make_gateway())
    result = invoke(*RUN, "--start", "2024-01-01", "--end", "2024-06-30", "--json")
    assert result.exit_code == 0, result.output
    record = get_run(json.loads(result.output)["id"])
    # Saved as the bars' range (2 January to 28 June), and not called partial: no session is missing.
    assert (record.start.date().isoformat(), record.end.date().isoformat()) == ("2024-01-02", "2024-06-28")
    assert "requested_period" not in record.settings and "data_gaps" not in record.settings


def test_a_sweep_on_ib_bars_records_the_instruments_venue(
    make_gateway: Callable[..., FakeGateway], database_url: str, gateway_env: Callable[[FakeGateway], None]
) -> None:
    import re

    from ntrader.db.sweeps import get_sweep

    gateway_env(make_gateway())
    result = invoke(
        "backtest", "sweep", "--strategy", "sma", "--symbol", "SPY", "--data-source", "ibkr",
        "--start", "2023-01-03", "--end", "2024-06-28", "--grid", "fast_period=5:10:5",
        "--grid", "slow_period=30:30:10", "--top", "1", "--workers", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    match = re.search(r"Saved sweep (\d+)", result.output)
    assert match, result.output
    record = get_sweep(int(match.group(1)))
    assert record.bar_type.startswith("SPY.ARCA-1-DAY")
    assert get_run(record.run_ids[0]).settings["instrument_id"] == "SPY.ARCA"
