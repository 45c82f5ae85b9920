"""Splits and dividends from IB's ADJUSTED_LAST bars beside TRADES, over TCP via the CLI, into bar_events."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.data.store import read_events
from ntrader.ibkr.client import IBClient, make_contract
from ntrader.ibkr.errors import IBError
from ntrader.ibkr.fake import FakeGateway, Market

#: AAPL-like quarterly dividends, per share after the 4:1 split the gateway is past.
DIVIDENDS = [
    (dt.date(2023, 2, 10), 0.23),
    (dt.date(2023, 5, 12), 0.24),
    (dt.date(2023, 8, 11), 0.24),
    (dt.date(2023, 11, 10), 0.24),
    (dt.date(2024, 2, 9), 0.24),
    (dt.date(2024, 5, 10), 0.25),
]


def fetch(gateway: FakeGateway, *args: str) -> Any:
    base = ["data", "fetch", "--host", "127.0.0.1", "--port", str(gateway.port), "--instruments", "AAPL"]
    return CliRunner().invoke(cli, [*base, *args])


def test_dividends_come_from_adjusted_last_into_bar_events(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway(market=Market(splits={"AAPL": 4.0}, dividends={"AAPL": DIVIDENDS}))
    shown = fetch(gateway, "--start", "2023-01-03", "--end", "2024-06-28", "--events")
    assert shown.exit_code == 0, shown.output
    assert (
        "AAPL: 6 dividend(s) and 0 split(s) from IB's ADJUSTED_LAST bars; 6 new in bar_events" in shown.output
    )
    adjusted = [r for r in gateway.historical_requests if r.what_to_show == "ADJUSTED_LAST"]
    assert [(r.end, r.bar_size, r.outcome) for r in adjusted] == [("", "1 day", "bars")]
    events = read_events("AAPL", "1-DAY", "ibkr", url=database_url)
    assert list(events["kind"]) == ["dividend"] * 6 and set(events["source"]) == {"ibkr"}
    assert [d.date() for d in events["ex_date"]] == [d for d, _ in DIVIDENDS]
    # IB's prices come to the cent, so a dividend is known to within half a cent, not exactly.
    assert events["value"].tolist() == pytest.approx([v for _, v in DIVIDENDS], abs=5e-3)
    # Again: one more ADJUSTED_LAST request, nothing new stored, nothing changed.
    again = json.loads(
        fetch(gateway, "--start", "2023-01-03", "--end", "2024-06-28", "--events", "--json").stdout
    )
    assert again["results"][0]["events"] == 6 and again["requests"] == 1
    assert read_events("AAPL", "1-DAY", "ibkr", url=database_url).equals(events)


def test_without_events_nothing_extra_is_asked(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway(market=Market(dividends={"AAPL": DIVIDENDS}))
    assert fetch(gateway, "--start", "2024-01-02", "--end", "2024-03-28").exit_code == 0
    assert {r.what_to_show for r in gateway.historical_requests} == {"TRADES"}
    assert read_events("AAPL", "1-DAY", "ibkr", url=database_url).empty


def test_gateway_takes_adjusted_last_only_daily_and_without_an_end_date(
    make_gateway: Callable[..., FakeGateway],
) -> None:
    gateway = make_gateway(market=Market(dividends={"AAPL": DIVIDENDS}))

    async def ask(end: str, bar_size: str) -> int:
        client = IBClient("127.0.0.1", gateway.port, 9, connect_timeout=5, request_timeout=5)
        await client.connect()
        try:
            stock = make_contract("AAPL")
            bars = await client.historical_bars(
                stock, end=end, duration="1 M", bar_size=bar_size, what_to_show="ADJUSTED_LAST"
            )
            return len(bars)
        finally:
            await client.disconnect()

    with pytest.raises(IBError, match="empty endDateTime"):
        asyncio.run(ask("20240105-00:00:00", "1 day"))
    with pytest.raises(IBError, match="daily bars only"):
        asyncio.run(ask("", "1 hour"))
    assert asyncio.run(ask("", "1 day")) >= 15
