"""Futures and forex over TCP against the fake gateway, through the CLI: what IB needs for each
(an expiry, no end date for the continuous future, MIDPOINT for currencies) and gap checks
against each instrument's own trading hours, not a US stock's."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.data.store import read_bars
from ntrader.ibkr.fake import FakeGateway, FaultPlan

NY = "America/New_York"


def fetch(gateway: FakeGateway, *args: str) -> Any:
    base = ["data", "fetch", "--host", "127.0.0.1", "--port", str(gateway.port)]
    return CliRunner().invoke(cli, [*base, *args])


def as_json(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def test_forex_asks_midpoint_and_a_weekend_and_nights_are_no_gaps(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway()
    shown = fetch(
        gateway, "--sec-type", "CASH", "--instruments", "EUR.USD", "--timeframe", "1HOUR",
        "--start", "2024-01-03", "--end", "2024-01-09",
    )  # fmt: skip
    assert shown.exit_code == 0, shown.output  # no gap: exit 0 without --allow-gaps
    assert "IB has no TRADES bars for forex; asked MIDPOINT" in shown.output
    assert {r.what_to_show for r in gateway.historical_requests} == {"MIDPOINT"}
    assert {r.outcome for r in gateway.historical_requests} == {"bars"}
    bars = read_bars("EUR/USD", "1-HOUR", "ibkr-midpoint", url=database_url)
    local = bars.index.tz_convert(NY)
    # The pair trades through the night and from Sunday 17:15 New York, not 09:30-16:00 on weekdays.
    assert (local.hour == 3).sum() == 5  # 03:00 New York on Wed, Thu, Fri, Mon and Tue
    assert pd.Timestamp("2024-01-07 17:15", tz=NY) in local  # Sunday evening's first bar
    assert not ((local.dayofweek == 5) | ((local.dayofweek == 4) & (local.hour >= 17))).any()
    # Independently: IDEALPRO's sessions run 17:15 the evening before to 17:00 New York, Monday to
    # Friday; hourly bars start on the hour, a session's first at its open.
    expected: set[pd.Timestamp] = set()
    for day in pd.bdate_range("2024-01-02", "2024-01-10"):
        opens = pd.Timestamp(f"{(day - pd.Timedelta(days=1)).date()} 17:15", tz=NY).tz_convert("UTC")
        closes = pd.Timestamp(f"{day.date()} 17:00", tz=NY).tz_convert("UTC")
        hours = pd.date_range(opens.floor("h"), closes, freq="h", inclusive="left")
        expected |= {max(h, opens) for h in hours}
    lo, hi = pd.Timestamp("2024-01-03", tz="UTC"), pd.Timestamp("2024-01-10", tz="UTC")
    assert set(bars.index) == {s for s in expected if lo <= s < hi}


def test_a_real_night_gap_in_forex_is_reported(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    # 02:00-03:00 UTC on Tuesday 9 January: the middle of the night in New York, a trading hour.
    hole = (pd.Timestamp("2024-01-09 02:00", tz="UTC"), pd.Timestamp("2024-01-09 03:00", tz="UTC"))
    gateway = make_gateway(faults=FaultPlan(no_data_windows=(hole,)))
    result = fetch(
        gateway, "--sec-type", "CASH", "--instruments", "EUR.USD", "--timeframe", "1HOUR",
        "--start", "2024-01-05", "--end", "2024-01-09", "--json",
    )  # fmt: skip
    assert result.exit_code == 4, result.output
    [found] = json.loads(result.stdout)["results"]
    assert found["gaps"] == [[hole[0].isoformat(), hole[1].isoformat()]]  # and not the weekend


def test_gateway_refuses_trades_for_a_currency_pair(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    import asyncio

    from ntrader.ibkr.client import IBClient, make_contract
    from ntrader.ibkr.errors import IBError

    gateway = make_gateway()

    async def ask(what: str) -> int:
        client = IBClient("127.0.0.1", gateway.port, 9, connect_timeout=5, request_timeout=5)
        await client.connect()
        try:
            pair = make_contract("EUR", sec_type="CASH", exchange="IDEALPRO", currency="USD")
            bars = await client.historical_bars(
                pair, end="20240105-00:00:00", duration="1 D", bar_size="1 hour", what_to_show=what
            )
            return len(bars)
        finally:
            await client.disconnect()

    with pytest.raises(IBError, match="No historical market data for EUR/CASH@FXSUBPIP"):
        asyncio.run(ask("TRADES"))
    assert asyncio.run(ask("MIDPOINT")) == 24


def test_a_future_without_expiry_is_refused_with_what_to_pass(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway()
    result = fetch(gateway, "--sec-type", "FUT", "--exchange", "CME", "--instruments", "ES")
    assert result.exit_code == 1, result.output
    assert "--expiry YYYYMM" in result.output and "--sec-type CONTFUT" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert gateway.contract_requests == [] and gateway.historical_requests == []
    on_smart = fetch(gateway, "--sec-type", "FUT", "--expiry", "202409", "--instruments", "ES")
    assert on_smart.exit_code == 1 and "--exchange" in on_smart.output


def test_a_dated_future_trades_globex_hours_and_cme_holidays(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway()
    summary = as_json(
        fetch(
            gateway, "--sec-type", "FUT", "--expiry", "202409", "--exchange", "CME", "--instruments", "ES",
            "--timeframe", "1HOUR", "--all-hours", "--start", "2024-07-01", "--end", "2024-07-09", "--json",
        )
    )  # fmt: skip
    [result] = summary["results"]
    assert result["instrument_id"] == "ESU4.CME" and result["gaps"] == [] and result["error"] is None
    assert {r.sec_type for r in gateway.historical_requests} == {"FUT"}
    bars = read_bars("ESU4", "1-HOUR", "ibkr-allhours", url=database_url)
    chicago = bars.index.tz_convert("America/Chicago")
    assert (chicago.hour == 2).sum() >= 5  # the night session is there
    assert not (chicago.hour == 16).any()  # the 16:00-17:00 Chicago pause is neither a bar nor a gap
    # Daily bars: CME trades on Martin Luther King day (the NYSE does not), so it is expected.
    hole = (pd.Timestamp("2024-01-15", tz="UTC"), pd.Timestamp("2024-01-16", tz="UTC"))
    holed = make_gateway(faults=FaultPlan(no_data_windows=(hole,)))
    daily = fetch(
        holed, "--sec-type", "FUT", "--expiry", "202403", "--exchange", "CME", "--instruments", "ES",
        "--start", "2024-01-08", "--end", "2024-01-19", "--json",
    )  # fmt: skip
    assert daily.exit_code == 4, daily.output
    [found] = json.loads(daily.stdout)["results"]
    assert found["gaps"] == [[hole[0].isoformat(), hole[1].isoformat()]]


def test_the_continuous_future_is_asked_without_an_end_date(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway()
    today = pd.Timestamp.now(tz="UTC").normalize()
    start, end = (today - pd.Timedelta(days=60)).date(), (today - pd.Timedelta(days=1)).date()
    args = ["--sec-type", "CONTFUT", "--exchange", "CME", "--instruments", "ES"]
    summary = as_json(fetch(gateway, *args, "--start", str(start), "--end", str(end), "--json"))
    [result] = summary["results"]
    assert result["instrument_id"] == "ES.CME" and result["error"] is None and result["gaps"] == []
    [request] = gateway.historical_requests
    assert request.end == "" and request.outcome == "bars" and request.sec_type == "CONTFUT"
    assert result["bars"] > 35
    # A second fetch asks nothing; a start too far back for one request is refused up front.
    again = as_json(fetch(gateway, *args, "--start", str(start), "--end", str(end), "--json"))
    assert again["requests"] == 0
    far = fetch(gateway, *args, "--start", "2020-01-02", "--end", str(end))
    assert far.exit_code == 1 and "takes no end date (IB error 10339)" in far.output


def test_gateway_refuses_an_end_date_for_the_continuous_future(
    make_gateway: Callable[..., FakeGateway],
) -> None:
    import asyncio

    from ntrader.ibkr.client import IBClient, make_contract
    from ntrader.ibkr.errors import IBError

    gateway = make_gateway()

    async def ask(end: str) -> int:
        client = IBClient("127.0.0.1", gateway.port, 9, connect_timeout=5, request_timeout=5)
        await client.connect()
        try:
            es = make_contract("ES", sec_type="CONTFUT", exchange="CME")
            return len(await client.historical_bars(es, end=end, duration="5 D", bar_size="1 day"))
        finally:
            await client.disconnect()

    with pytest.raises(IBError) as refused:
        asyncio.run(ask("20240105-00:00:00"))
    assert refused.value.code == 10339 and "Set EndDateTime to empty string" in refused.value.text
    assert asyncio.run(ask("")) >= 3
