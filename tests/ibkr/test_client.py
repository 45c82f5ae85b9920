"""IBClient over TCP against the fake gateway: bounded connect, error mapping, reconnect."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from ibapi.common import BarData

from ntrader.errors import GatewayUnavailable, InputError
from ntrader.ibkr.client import IBClient, bars_to_frame, make_contract
from ntrader.ibkr.errors import (
    ConnectionLost,
    IBError,
    NoData,
    PacingViolation,
    QueryCancelled,
    classify,
    describe,
    troubleshooting,
)
from ntrader.ibkr.fake import FakeGateway, FaultPlan

BOUND = 20.0  # no test waits longer than this for anything


def run(coro: Any) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, BOUND)

    return asyncio.run(bounded())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connect_reports_what_the_gateway_says(make_gateway: Callable[..., FakeGateway]) -> None:
    gateway = make_gateway()

    async def main() -> Any:
        client = IBClient("127.0.0.1", gateway.port, 7, connect_timeout=5)
        async with client:
            assert client.is_connected
            assert not asyncio.get_running_loop().get_debug()
            info = client.info
        assert not client.is_connected
        return info

    info = run(main())
    assert info.server_version == 187
    assert info.accounts == ("DU1234567",)
    assert info.client_id == 7 and "UTC" in info.connection_time
    assert gateway.client_ids == [7]


def test_refused_connection_fails_fast_with_a_clear_error() -> None:
    client = IBClient("127.0.0.1", free_port(), 1, connect_timeout=5)
    with pytest.raises(GatewayUnavailable, match="nothing accepted the connection"):
        run(client.connect())


def test_silent_gateway_fails_at_the_connect_timeout(make_gateway: Callable[..., FakeGateway]) -> None:
    gateway = make_gateway(faults=FaultPlan(silent=True))
    client = IBClient("127.0.0.1", gateway.port, 1, connect_timeout=0.3)
    with pytest.raises(GatewayUnavailable, match=r"within 0.3 s"):
        run(client.connect())


def test_wrong_port_that_hangs_up_fails_with_a_clear_error() -> None:
    """Something else listens (here: a server that closes every connection at once)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def hang_up() -> None:
        for _ in range(2):
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    try:
        client = IBClient("127.0.0.1", port, 1, connect_timeout=5)
        with pytest.raises(GatewayUnavailable, match="closed the connection during the handshake"):
            run(client.connect())
    finally:
        server.close()


def test_requests_and_error_mapping(make_gateway: Callable[..., FakeGateway]) -> None:
    gateway = make_gateway(
        symbols=["AAPL", "MSFT"],
        faults=FaultPlan(pacing_violation_on={1}, no_data_symbols={"MSFT"}),
    )

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with IBClient("127.0.0.1", gateway.port, 1, connect_timeout=5, request_timeout=5) as ib:
            details = await ib.contract_details(make_contract("AAPL"))
            out["con_id"] = details[0].contract.conId
            with pytest.raises(IBError) as unknown:
                await ib.contract_details(make_contract("NOPE"))
            out["unknown"] = unknown.value
            request = {"end": "20240110-00:00:00", "duration": "5 D", "bar_size": "1 day"}
            with pytest.raises(PacingViolation):
                await ib.historical_bars(make_contract("AAPL"), **request)
            out["bars"] = bars_to_frame(await ib.historical_bars(make_contract("AAPL"), **request))
            with pytest.raises(NoData):
                await ib.historical_bars(make_contract("MSFT"), **request)
        return out

    out = run(main())
    assert out["con_id"] == 265598
    assert out["unknown"].code == 200 and "no security definition" in str(out["unknown"])
    bars = out["bars"]
    assert list(bars.index) == list(pd.date_range("2024-01-05", "2024-01-09", freq="B", tz="UTC"))
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()


def test_dropped_connection_fails_the_request_and_reconnect_resumes(
    make_gateway: Callable[..., FakeGateway],
) -> None:
    gateway = make_gateway(faults=FaultPlan(drop_on_historical_request=1))

    async def main() -> int:
        ib = IBClient("127.0.0.1", gateway.port, 1, connect_timeout=5, request_timeout=5)
        await ib.connect()
        request = {"end": "20240103-00:00:00", "duration": "1 D", "bar_size": "1 min"}
        with pytest.raises(ConnectionLost):
            await ib.historical_bars(make_contract("AAPL"), **request)
        assert not ib.is_connected
        await ib.reconnect()
        bars = await ib.historical_bars(make_contract("AAPL"), **request)
        await ib.disconnect()
        return len(bars)

    assert run(main()) == 390
    assert [r.outcome for r in gateway.historical_requests] == ["dropped", "bars"]


def test_request_without_connection_is_refused() -> None:
    ib = IBClient("127.0.0.1", 1, 1)
    with pytest.raises(ConnectionLost):
        run(ib.contract_details(make_contract("AAPL")))


def test_classify_and_describe_every_documented_code() -> None:
    pacing = (
        "Historical Market Data Service error message:API historical data query cancelled: pacing violation"
    )
    assert isinstance(classify(162, pacing), PacingViolation)
    assert isinstance(classify(162, "HMDS query returned no data: AAPL@SMART Trades"), NoData)
    assert isinstance(classify(162, "API historical data query cancelled: 5"), QueryCancelled)
    assert isinstance(classify(1100, "Connectivity between IB and TWS has been lost."), ConnectionLost)
    assert classify(1100, "").exit_code == 3
    for code in (162, 200, 321, 322, 354, 366, 502, 504, 1100, 1101, 1102, 2174, 10314):
        text = describe(code, "IB's words")
        assert text.startswith(f"IB error {code}: ") and len(text) > 25
    assert describe(9999, "odd") == "IB error 9999: odd"
    hints = "\n".join(troubleshooting("ib-gateway", 4002))
    for needle in ("7497", "4002", "4001", "Trusted IPs", "client id", "API"):
        assert needle in hints


def test_make_contract_and_bar_dates() -> None:
    etf = make_contract("spy", sec_type="ETF")
    assert (etf.symbol, etf.secType, etf.exchange, etf.currency) == ("SPY", "STK", "SMART", "USD")
    by_id = make_contract("", con_id=265598)
    assert by_id.conId == 265598 and by_id.symbol == ""
    with pytest.raises(InputError, match="unknown security type"):
        make_contract("AAPL", sec_type="BOND")

    def bar(date: str, volume: float = 10) -> BarData:
        b = BarData()
        b.date, b.open, b.high, b.low, b.close, b.volume = date, 1.0, 2.0, 0.5, 1.5, volume
        return b

    frame = bars_to_frame([bar("20240102"), bar("1704205800", -1), bar("20240102 09:31:00 US/Eastern")])
    assert list(frame.index) == [
        pd.Timestamp("2024-01-02", tz="UTC"),
        pd.Timestamp("2024-01-02 14:30", tz="UTC"),
        pd.Timestamp("2024-01-02 14:31", tz="UTC"),
    ]
    assert frame["volume"].tolist() == [10.0, 0.0, 10.0]  # MIDPOINT's -1 means "no volume"
    assert bars_to_frame([]).empty
