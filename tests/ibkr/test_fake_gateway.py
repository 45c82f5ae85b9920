"""The fake gateway against real clients: ibapi's EClient, and Nautilus's historic IB client."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import inspect
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from ibapi import comm
from ibapi.client import EClient
from ibapi.common import BarData
from ibapi.contract import Contract, ContractDetails
from ibapi.wrapper import EWrapper

from ntrader.ibkr.fake import (
    FakeGateway,
    FaultPlan,
    parse_end_datetime,
    session_hours,
    synthetic_bars,
)
from ntrader.ibkr.fake import protocol as wire
from ntrader.ibkr.sessions import Closures, us_equity_early_closes, us_equity_holidays
from ntrader.ibkr.windows import BAR_SIZE_SETTING, expected_sessions, find_gaps, plan_windows
from ntrader.nautilus_compat import at_least

HALF_DAY = {dt.date(2024, 7, 3): dt.time(13, 0)}

WAIT = 10.0  # upper bound for any reply from a local gateway; tests normally take milliseconds


#: The handshake's length-prefixed text (ibapi 10.45 renamed it from make_msg).
_initial_msg = getattr(comm, "make_initial_msg", comm.make_msg)


class Client(EWrapper, EClient):
    """A real ibapi client that records every callback we care about."""

    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, wrapper=self)
        self.cond = threading.Condition()
        self.next_id: int | None = None
        self.accounts: str | None = None
        self.errors: list[tuple[int, int, str]] = []
        self.details: dict[int, list[ContractDetails]] = {}
        self.details_done: set[int] = set()
        self.bars: dict[int, list[BarData]] = {}
        self.bars_done: dict[int, tuple[str, str]] = {}
        self.server_time: int | None = None
        self.closed = False
        self.thread: threading.Thread | None = None

    def _note(self, fn: Callable[[], None]) -> None:
        with self.cond:
            fn()
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, timeout)

    # EWrapper callbacks
    def nextValidId(self, orderId: int) -> None:
        self._note(lambda: setattr(self, "next_id", orderId))

    def managedAccounts(self, accountsList: str) -> None:
        self._note(lambda: setattr(self, "accounts", accountsList))

    def error(self, reqId: int, *args: Any) -> None:
        # ibapi 10.45+ (Nautilus 1.231): (errorTime, errorCode, errorString, json); 10.30: no errorTime.
        errorCode, errorString = (
            (args[1], args[2]) if len(args) > 2 and isinstance(args[1], int) else args[:2]
        )
        self._note(lambda: self.errors.append((reqId, errorCode, errorString)))

    def currentTime(self, time: int) -> None:
        self._note(lambda: setattr(self, "server_time", time))

    def contractDetails(self, reqId: int, contractDetails: ContractDetails) -> None:
        self._note(lambda: self.details.setdefault(reqId, []).append(contractDetails))

    def contractDetailsEnd(self, reqId: int) -> None:
        self._note(lambda: self.details_done.add(reqId))

    def historicalData(self, reqId: int, bar: BarData) -> None:
        self._note(lambda: self.bars.setdefault(reqId, []).append(bar))

    def historicalDataEnd(self, reqId: int, start: str, end: str) -> None:
        self._note(lambda: self.bars_done.__setitem__(reqId, (start, end)))

    def connectionClosed(self) -> None:
        self._note(lambda: setattr(self, "closed", True))

    # helpers
    def errors_for(self, req_id: int) -> list[tuple[int, int, str]]:
        with self.cond:
            return [e for e in self.errors if e[0] == req_id]

    def history(
        self,
        req_id: int,
        symbol: str,
        end: str,
        duration: str,
        bar_size: str,
        *,
        use_rth: int = 1,
        format_date: int = 1,
    ) -> None:
        self.reqHistoricalData(
            req_id,
            stock(symbol),
            end,
            duration,
            bar_size,
            "TRADES",
            use_rth,
            format_date,
            False,
            [],
        )

    def answered(self, req_id: int) -> Callable[[], bool]:
        return lambda: req_id in self.bars_done or any(e[0] == req_id for e in self.errors)


def poll(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Wait for a condition on the gateway's side, which notifies no one."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def stock(symbol: str) -> Contract:
    contract = Contract()
    contract.symbol = symbol
    contract.secType = "STK"
    contract.exchange = "SMART"
    contract.currency = "USD"
    return contract


def connect(gateway: FakeGateway, client_id: int = 1) -> Client:
    client = Client()
    client.connect("127.0.0.1", gateway.port, client_id)
    assert client.isConnected(), "handshake failed"
    client.thread = threading.Thread(target=client.run, daemon=True)
    client.thread.start()
    assert client.wait_for(lambda: client.next_id is not None and client.accounts is not None)
    return client


@pytest.fixture
def gateway(make_gateway: Callable[..., FakeGateway]) -> FakeGateway:
    return make_gateway()


@pytest.fixture
def client(gateway: FakeGateway) -> Iterator[Client]:
    c = connect(gateway)
    yield c
    c.disconnect()


# -- handshake and plain requests ------------------------------------------------------------


def test_handshake_negotiates_the_newest_version_and_sends_ids(gateway: FakeGateway, client: Client) -> None:
    assert client.serverVersion() == wire.SERVER_VERSION == 187
    assert gateway.negotiated_versions == [187]
    assert client.next_id == 1
    assert client.accounts == "DU1234567"
    assert gateway.client_ids == [1]
    assert client.wait_for(lambda: any(e[1] == 2104 for e in client.errors))
    client.reqCurrentTime()
    assert client.wait_for(lambda: client.server_time is not None)
    assert abs(client.server_time - time.time()) < 60  # type: ignore[operator]


def test_version_outside_our_range_is_refused(gateway: FakeGateway) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=WAIT) as sock:
        sock.sendall(wire.API_PREFIX + _initial_msg("v100..150"))
        sock.settimeout(WAIT)
        assert sock.recv(1024) == b""  # closed without a reply


def test_contract_details_carry_what_nautilus_needs(client: Client) -> None:
    client.reqContractDetails(7, stock("AAPL"))
    assert client.wait_for(lambda: 7 in client.details_done)
    [details] = client.details[7]
    assert details.contract.symbol == "AAPL"
    assert details.contract.secType == "STK"
    assert details.contract.exchange == "SMART"
    assert details.contract.primaryExchange == "NASDAQ"
    assert details.contract.currency == "USD"
    assert details.contract.conId == 265598
    assert details.minTick == 0.01
    assert details.longName == "APPLE INC"
    assert details.timeZoneId == "US/Eastern"
    assert {tv.tag: tv.value for tv in details.secIdList} == {"ISIN": "US0378331005"}
    assert ":0930-" in details.liquidHours and ":0400-" in details.tradingHours
    assert details.stockType == "COMMON"


def test_unknown_symbol_gets_error_200(make_gateway: Callable[..., FakeGateway]) -> None:
    gateway = make_gateway(faults=FaultPlan(unknown_symbols={"MSFT"}))
    client = connect(gateway)
    try:
        client.reqContractDetails(1, stock("ZZZZ"))
        client.reqContractDetails(2, stock("MSFT"))
        client.history(3, "MSFT", "20240106-00:00:00", "5 D", "1 day")
        assert client.wait_for(lambda: len([e for e in client.errors if e[0] > 0]) == 3)
        for req_id in (1, 2, 3):
            [(_, code, text)] = client.errors_for(req_id)
            assert code == 200
            assert text == "No security definition has been found for the request"
        assert not client.details
        assert [r.found for r in gateway.contract_requests] == [False, False]
    finally:
        client.disconnect()


# -- historical bars -------------------------------------------------------------------------


def test_daily_bars(gateway: FakeGateway, client: Client) -> None:
    client.history(5, "AAPL", "20240106-00:00:00", "5 D", "1 day")
    assert client.wait_for(lambda: 5 in client.bars_done)
    bars = client.bars[5]
    # Monday 1 January to Friday 5 January: New Year's Day is an NYSE holiday.
    assert [b.date for b in bars] == ["20240102", "20240103", "20240104", "20240105"]
    expected = synthetic_bars(
        "AAPL",
        pd.Timestamp("2024-01-01", tz="UTC"),
        pd.Timestamp("2024-01-06", tz="UTC"),
        pd.Timedelta(days=1),
    )
    for bar, (_, row) in zip(bars, expected.iterrows(), strict=True):
        assert (bar.open, bar.high, bar.low, bar.close) == (
            row.open,
            row.high,
            row.low,
            row.close,
        )
        assert bar.volume == Decimal(int(row.volume))
    _check_ohlc(bars)
    [record] = gateway.historical_requests
    assert (record.symbol, record.end, record.duration, record.bar_size) == (
        "AAPL",
        "20240106-00:00:00",
        "5 D",
        "1 day",
    )
    assert record.outcome == "bars" and record.bar_count == 4


def test_sessions_follow_the_nyse_calendar(gateway: FakeGateway, client: Client) -> None:
    # Wednesday 3 July 2024 closes at 13:00 New York; Thursday 4 July and Good Friday are holidays.
    client.history(1, "AAPL", "20240704-00:00:00", "1 D", "1 min", format_date=2)
    client.history(2, "AAPL", "20240704-00:00:00", "1 D", "1 min", use_rth=0, format_date=2)
    client.history(3, "AAPL", "20240705-00:00:00", "1 D", "1 min", format_date=2)
    client.history(4, "AAPL", "20240330-00:00:00", "1 D", "1 min", format_date=2)
    client.history(5, "AAPL", "20240706-00:00:00", "5 D", "1 day")
    assert client.wait_for(
        lambda: {1, 2, 5} <= set(client.bars_done) and client.answered(3)() and client.answered(4)()
    )
    half = pd.DatetimeIndex([pd.Timestamp(int(b.date), unit="s", tz="UTC") for b in client.bars[1]])
    assert len(half) == 210 and f"{half[-1].tz_convert('America/New_York'):%H:%M}" == "12:59"
    assert half.equals(expected_sessions("2024-07-03", "2024-07-04", "1-MINUTE", early_closes=HALF_DAY))
    # Outside regular hours a half day runs 04:00 to 17:00.
    assert len(client.bars[2]) == 13 * 60
    assert [e[1] for e in client.errors_for(3)] == [162] and [e[1] for e in client.errors_for(4)] == [162]
    assert [b.date for b in client.bars[5]] == ["20240701", "20240702", "20240703", "20240705"]
    # The half day's daily bar closes where its last minute closes.
    day = synthetic_bars(
        "AAPL",
        pd.Timestamp("2024-07-03", tz="UTC"),
        pd.Timestamp("2024-07-04", tz="UTC"),
        pd.Timedelta(days=1),
    )
    assert client.bars[5][2].close == day["close"].iloc[0] == client.bars[1][-1].close


def test_contract_hours_show_holidays_and_early_closes() -> None:
    trading, liquid = session_hours(7, today=dt.date(2024, 11, 25))
    assert liquid.split(";") == [
        "20241125:0930-20241125:1600",
        "20241126:0930-20241126:1600",
        "20241127:0930-20241127:1600",
        "20241128:CLOSED",
        "20241129:0930-20241129:1300",
        "20241130:CLOSED",
        "20241201:CLOSED",
    ]
    assert trading.split(";")[4] == "20241129:0400-20241129:1700"
    assert trading.split(";")[3] == "20241128:CLOSED"


def test_minute_bars_in_both_date_formats(gateway: FakeGateway, client: Client) -> None:
    client.history(1, "MSFT", "20240103 00:00:00 UTC", "1 D", "1 min", format_date=2)
    client.history(2, "MSFT", "20240102 19:00:00 US/Eastern", "1 D", "1 min", format_date=1)
    client.history(3, "MSFT", "20240103-00:00:00", "1 D", "1 min", use_rth=0, format_date=2)
    assert client.wait_for(lambda: {1, 2, 3} <= set(client.bars_done))
    epoch = client.bars[1]
    assert len(epoch) == 390
    first = pd.Timestamp(int(epoch[0].date), unit="s", tz="UTC")
    assert first == pd.Timestamp("2024-01-02 14:30", tz="UTC")
    stamps = pd.DatetimeIndex([pd.Timestamp(int(b.date), unit="s", tz="UTC") for b in epoch])
    day = expected_sessions("2024-01-02", "2024-01-03", "1-MINUTE")
    assert stamps.equals(day)
    local = client.bars[2]
    assert [b.date for b in local[:2]] == [
        "20240102 09:30:00 US/Eastern",
        "20240102 09:31:00 US/Eastern",
    ]
    assert [(b.open, b.close) for b in local] == [(b.open, b.close) for b in epoch]
    # Outside regular hours: 04:00 to 20:00 New York. The UTC day holds 15 hours of 2 January;
    # its first hour would be New Year's Day's post-market, and 1 January 2024 is a holiday.
    assert len(client.bars[3]) == 15 * 60
    _check_ohlc(epoch)
    # A bar's close is the next bar's open: one continuous price path.
    assert all(a.close == b.open for a, b in itertools.pairwise(epoch))


def test_overlapping_requests_agree(client: Client) -> None:
    client.history(1, "SPY", "20240105-00:00:00", "2 D", "5 mins", format_date=2)
    client.history(2, "SPY", "20240104-00:00:00", "1 D", "5 mins", format_date=2)
    assert client.wait_for(lambda: {1, 2} <= set(client.bars_done))
    wide = {b.date: (b.open, b.high, b.low, b.close, b.volume) for b in client.bars[1]}
    narrow = {b.date: (b.open, b.high, b.low, b.close, b.volume) for b in client.bars[2]}
    assert len(wide) == 2 * 78 and len(narrow) == 78
    assert all(wide[k] == v for k, v in narrow.items())


def test_bad_end_date_is_error_10314(client: Client) -> None:
    client.history(4, "AAPL", "2024-01-05", "1 D", "1 min")
    assert client.wait_for(client.answered(4))
    assert [e[1] for e in client.errors_for(4)] == [10314]


@pytest.mark.parametrize("bar_size", ["1-MINUTE", "1-HOUR", "1-DAY"])
def test_planned_windows_fetch_every_expected_bar(client: Client, bar_size: str) -> None:
    start, end = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-13", tz="UTC")
    if bar_size == "1-DAY":
        end = pd.Timestamp("2025-03-01", tz="UTC")
    # The planner is given the NYSE calendar, as the fetch service gives it; the fake follows it too.
    closed = {"holidays": us_equity_holidays(start, end), "early_closes": us_equity_early_closes(start, end)}
    windows = plan_windows(start, end, bar_size, closures=Closures(**closed))
    for req_id, window in enumerate(windows, start=1):
        client.reqHistoricalData(
            req_id,
            stock("AAPL"),
            window.end_datetime_str,
            window.duration_str,
            BAR_SIZE_SETTING[bar_size],
            "TRADES",
            1,
            2,
            False,
            [],
        )
    ids = range(1, len(windows) + 1)
    assert client.wait_for(lambda: set(ids) <= set(client.bars_done))
    stamps = [
        pd.Timestamp(b.date, tz="UTC") if len(b.date) == 8 else pd.Timestamp(int(b.date), unit="s", tz="UTC")
        for i in ids
        for b in client.bars[i]
    ]
    received = pd.DatetimeIndex(stamps)
    assert received.is_unique
    expected = expected_sessions(start, end, bar_size, **closed)
    assert find_gaps(expected, received, bar_size) == []
    assert received.sort_values().equals(expected)


def _check_ohlc(bars: list[BarData]) -> None:
    for b in bars:
        assert b.high >= max(b.open, b.close)
        assert b.low <= min(b.open, b.close)
        assert b.low > 0
        assert b.volume > 0


# -- scripted faults ---------------------------------------------------------------------------


def test_pacing_violation_on_the_nth_request(make_gateway: Callable[..., FakeGateway]) -> None:
    gateway = make_gateway(faults=FaultPlan(pacing_violation_on={2}))
    client = connect(gateway)
    try:
        for req_id in (1, 2, 3):
            client.history(req_id, "AAPL", f"2024010{req_id + 2}-00:00:00", "1 D", "1 hour")
            assert client.wait_for(client.answered(req_id))
        assert {1, 3} <= set(client.bars_done) and 2 not in client.bars_done
        [(_, code, text)] = client.errors_for(2)
        assert code == 162
        assert "pacing violation" in text
        assert [r.outcome for r in gateway.historical_requests] == ["bars", "pacing", "bars"]
    finally:
        client.disconnect()


def test_too_long_a_request_is_refused_when_asked(make_gateway: Callable[..., FakeGateway]) -> None:
    gateway = make_gateway(faults=FaultPlan(enforce_max_duration=True))
    client = connect(gateway)
    try:
        client.history(1, "AAPL", "20240110-00:00:00", "2 D", "1 min")
        client.history(2, "AAPL", "20240110-00:00:00", "1 D", "1 min")
        client.history(3, "AAPL", "20240110-00:00:00", "1 Y", "1 day")
        assert client.wait_for(lambda: all(client.answered(i)() for i in (1, 2, 3)))
        [(_, code, text)] = client.errors_for(1)
        assert code == 162 and "Time length exceed max" in text
        assert {2, 3} <= set(client.bars_done)
    finally:
        client.disconnect()


def test_holidays_have_no_bars(make_gateway: Callable[..., FakeGateway]) -> None:
    gateway = make_gateway(holidays={dt.date(2024, 1, 1)})
    client = connect(gateway)
    try:
        client.history(1, "AAPL", "20240106-00:00:00", "5 D", "1 day")
        assert client.wait_for(lambda: 1 in client.bars_done)
        assert [b.date for b in client.bars[1]] == ["20240102", "20240103", "20240104", "20240105"]
    finally:
        client.disconnect()


def test_no_data_for_a_symbol_and_for_a_window(make_gateway: Callable[..., FakeGateway]) -> None:
    hole = (pd.Timestamp("2024-01-02 15:00", tz="UTC"), pd.Timestamp("2024-01-02 15:10", tz="UTC"))
    gateway = make_gateway(faults=FaultPlan(no_data_symbols={"SPY"}, no_data_windows=[hole]))
    client = connect(gateway)
    try:
        client.history(1, "SPY", "20240103-00:00:00", "1 D", "1 min")
        client.history(2, "AAPL", "20240103-00:00:00", "1 D", "1 min", format_date=2)
        client.history(3, "AAPL", "20240102-15:10:00", "600 S", "1 min", format_date=2)
        assert client.wait_for(lambda: all(client.answered(i)() for i in (1, 2, 3)))
        for req_id in (1, 3):
            [(_, code, text)] = client.errors_for(req_id)
            assert code == 162 and "HMDS query returned no data" in text
        got = pd.DatetimeIndex([pd.Timestamp(int(b.date), unit="s", tz="UTC") for b in client.bars[2]])
        expected = expected_sessions("2024-01-02", "2024-01-03", "1-MINUTE")
        assert find_gaps(expected, got, "1-MINUTE") == [hole]
    finally:
        client.disconnect()


def test_slow_reply_can_be_cancelled(make_gateway: Callable[..., FakeGateway]) -> None:
    gateway = make_gateway(faults=FaultPlan(reply_delay=0.5))
    client = connect(gateway)
    try:
        client.history(1, "AAPL", "20240103-00:00:00", "1 D", "1 hour")
        client.history(2, "AAPL", "20240104-00:00:00", "1 D", "1 hour")
        assert poll(lambda: len(gateway.historical_requests) == 2)
        client.cancelHistoricalData(2)
        assert poll(lambda: gateway.cancelled == [2])
        # Nothing is answered before the delay has passed ...
        assert not client.wait_for(client.answered(1), timeout=0.1)
        # ... then the first request is, and the cancelled one never is.
        assert client.wait_for(client.answered(1))
        assert client.bars_done.keys() == {1}
        assert not client.wait_for(client.answered(2), timeout=0.6)
        assert gateway.cancelled == [2]
        assert [r.outcome for r in gateway.historical_requests] == ["bars", "cancelled"]
    finally:
        client.disconnect()


def test_connection_dropped_on_the_nth_request(make_gateway: Callable[..., FakeGateway]) -> None:
    gateway = make_gateway(faults=FaultPlan(drop_on_historical_request=2))
    client = connect(gateway)
    client.history(1, "AAPL", "20240103-00:00:00", "1 D", "1 hour")
    assert client.wait_for(client.answered(1))
    client.history(2, "AAPL", "20240104-00:00:00", "1 D", "1 hour")
    assert client.wait_for(lambda: client.closed)
    assert not client.isConnected()
    assert 2 not in client.bars_done
    assert [r.outcome for r in gateway.historical_requests] == ["bars", "dropped"]
    # The gateway still serves new connections.
    again = connect(gateway, client_id=2)
    again.disconnect()


def test_silent_gateway_never_completes_the_handshake(
    make_gateway: Callable[..., FakeGateway],
) -> None:
    gateway = make_gateway(faults=FaultPlan(silent=True))
    client = Client()
    worker = threading.Thread(target=client.connect, args=("127.0.0.1", gateway.port, 1), daemon=True)
    worker.start()
    worker.join(timeout=0.5)
    assert worker.is_alive(), "EClient.connect should still be waiting for the server version"
    assert client.next_id is None
    assert client.serverVersion() is None
    assert gateway.connections == 1 and gateway.negotiated_versions == []
    gateway.stop()  # closing the socket is what frees the client
    worker.join(timeout=WAIT)
    assert not worker.is_alive()
    assert not client.isConnected()


def test_enforced_pacing_rejects_an_identical_request(
    make_gateway: Callable[..., FakeGateway],
) -> None:
    gateway = make_gateway(faults=FaultPlan(enforce_pacing=True))
    client = connect(gateway)
    try:
        client.history(1, "AAPL", "20240103-00:00:00", "1 D", "1 hour")
        client.history(2, "AAPL", "20240103-00:00:00", "1 D", "1 hour")
        assert client.wait_for(lambda: client.answered(1)() and client.answered(2)())
        assert 1 in client.bars_done
        assert [e[1] for e in client.errors_for(2)] == [162]
    finally:
        client.disconnect()


def test_malformed_request_is_rejected_and_the_connection_kept(client: Client) -> None:
    if "msgId" in inspect.signature(client.sendMsg).parameters:  # ibapi 10.45+
        client.sendMsg(20, comm.make_field("not-a-number"))  # REQ_HISTORICAL_DATA
    else:
        client.sendMsg(comm.make_field(20) + comm.make_field("not-a-number"))
    assert client.wait_for(lambda: any(e[1] == 321 for e in client.errors))
    client.history(9, "AAPL", "20240106-00:00:00", "1 D", "1 day")
    assert client.wait_for(lambda: 9 in client.bars_done)
    assert client.isConnected()


def test_run_forever_serves_until_cancelled() -> None:
    async def main() -> int:
        gateway = FakeGateway(port=0)
        task = asyncio.create_task(gateway.run_forever())
        for _ in range(100):
            await asyncio.sleep(0.01)
            if gateway._server is not None:
                break
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        writer.write(wire.API_PREFIX + _initial_msg("v100..187"))
        header = await asyncio.wait_for(reader.readexactly(4), WAIT)
        payload = await reader.readexactly(int.from_bytes(header, "big"))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        writer.close()
        with pytest.raises(RuntimeError):
            _ = gateway.port
        return int(wire.split_fields(payload)[0])

    assert asyncio.run(main()) == 187


def test_async_context_manager_and_end_date_parsing() -> None:
    async def main() -> tuple[int, int]:
        async with FakeGateway(port=0) as gw:
            reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
            writer.write(wire.API_PREFIX + _initial_msg("v100..187"))
            header = await asyncio.wait_for(reader.readexactly(4), WAIT)
            payload = await reader.readexactly(int.from_bytes(header, "big"))
            writer.close()
            version = int(wire.split_fields(payload)[0])
            return version, gw.port

    version, port = asyncio.run(main())
    assert version == 187 and port > 0
    assert parse_end_datetime("20240102-15:00:00") == pd.Timestamp("2024-01-02 15:00", tz="UTC")
    assert parse_end_datetime("20240102 10:00:00 US/Eastern") == pd.Timestamp("2024-01-02 15:00", tz="UTC")
    assert parse_end_datetime("20240702 10:00:00") == pd.Timestamp("2024-07-02 14:00", tz="UTC")


# -- Nautilus's HistoricInteractiveBrokersClient -------------------------------------------------
# Nautilus initialises its process-wide logger in the client's constructor and refuses a second
# initialisation, so the client runs in a child process (this file, run as a script) that
# reports what it saw as JSON.


def test_nautilus_historic_client_against_the_fake(
    make_gateway: Callable[..., FakeGateway],
) -> None:
    gateway = make_gateway(faults=FaultPlan(pacing_violation_on={3}))
    silent = make_gateway(faults=FaultPlan(silent=True))
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, __file__, "nautilus-probe", str(gateway.port), str(silent.port)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"probe printed nothing; rc={proc.returncode}\n{proc.stderr[-3000:]}"
    report = json.loads(lines[-1])
    assert report.get("error") is None, report
    print(
        f"probe took {time.monotonic() - t0:.1f}s:",
        {k: v for k, v in report.items() if "seconds" in k},
    )

    assert report["connected"] is True
    aapl, msft = report["instruments"]
    assert aapl["type"] == "Equity" and aapl["id"] == "AAPL.NASDAQ"
    assert aapl["isin"] == "US0378331005" and aapl["price_increment"] == "0.01"
    assert msft["type"] == "Equity" and msft["id"] == "MSFT.NASDAQ"
    # Nautilus 1.221 answers an unknown symbol (IB error 200) with no instrument; 1.231 never answers.
    assert report["unknown_instruments"] == ([] if not at_least(1, 222) else "timeout")

    daily = report["daily"]
    assert daily["count"] == 4  # 2 to 5 January 2024
    expected = synthetic_bars(
        "AAPL",
        pd.Timestamp("2024-01-02", tz="UTC"),
        pd.Timestamp("2024-01-06", tz="UTC"),
        pd.Timedelta(days=1),
    )
    ts_event, ts_init, o, h, low, c, v = daily["first"]
    # Nautilus stamps a daily bar at midnight UTC of its date; ts_init is 1 ns before the next.
    assert ts_event == expected.index[0].value
    assert ts_init == ts_event + 86_400 * 10**9 - 1
    row = expected.iloc[0]
    assert (o, h, low, c, v) == (row.open, row.high, row.low, row.close, row.volume)

    minute = report["minute"]
    assert minute["count"] == 390
    ts_event, ts_init, *_ = minute["first"]
    # Intraday: ts_event is the bar's start, ts_init its end.
    assert ts_event == pd.Timestamp("2024-01-02 14:30", tz="UTC").value
    assert ts_init == ts_event + 60 * 10**9

    assert report["pacing_fault_bars"] == 0
    assert report["silent_connect"] == "timeout"
    outcomes = [r.outcome for r in gateway.historical_requests]
    assert outcomes == ["bars", "bars", "pacing"]
    assert gateway.historical_requests[0].format_date == 2  # Nautilus asks for epoch seconds


async def _nautilus_probe(port: int, silent_port: int) -> dict[str, Any]:
    from nautilus_trader.adapters.interactive_brokers.common import IBContract
    from nautilus_trader.adapters.interactive_brokers.historical.client import (
        HistoricInteractiveBrokersClient,
    )
    from nautilus_trader.model.identifiers import InstrumentId

    report: dict[str, Any] = {}
    loop = asyncio.get_running_loop()
    t0 = time.monotonic()
    client = HistoricInteractiveBrokersClient(host="127.0.0.1", port=port, client_id=5, log_level="ERROR")
    loop.set_debug(False)  # the client turns it on; it slows parsing ~3x
    await asyncio.wait_for(client.connect(), 20)
    report["connected"] = True
    report["connect_seconds"] = time.monotonic() - t0

    instruments = await asyncio.wait_for(
        client.request_instruments(
            instrument_ids=[InstrumentId.from_str("AAPL.NASDAQ")],
            contracts=[
                IBContract(
                    secType="STK",
                    symbol="MSFT",
                    exchange="SMART",
                    primaryExchange="NASDAQ",
                    currency="USD",
                )
            ],
        ),
        20,
    )
    report["instruments"] = [
        {
            "type": type(i).__name__,
            "id": str(i.id),
            "isin": getattr(i, "isin", None),
            "price_increment": str(i.price_increment),
        }
        for i in sorted(instruments, key=lambda i: str(i.id))
    ]

    def summary(bars: list[Any]) -> dict[str, Any]:
        first = bars[0] if bars else None
        return {
            "count": len(bars),
            "first": None
            if first is None
            else [
                first.ts_event,
                first.ts_init,
                float(first.open),
                float(first.high),
                float(first.low),
                float(first.close),
                float(first.volume),
            ],
        }

    async def bars(spec: str, start: dt.datetime, end: dt.datetime) -> list[Any]:
        return await asyncio.wait_for(
            client.request_bars(
                bar_specifications=[spec],
                start_date_time=start,
                end_date_time=end,
                tz_name="UTC",
                instrument_ids=["AAPL.NASDAQ"],
                use_rth=True,
                timeout=5,
            ),
            30,
        )

    t0 = time.monotonic()
    report["daily"] = summary(await bars("1-DAY-LAST", dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 6)))
    report["minute"] = summary(await bars("1-MINUTE-LAST", dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 3)))
    report["bars_seconds"] = time.monotonic() - t0

    # The failure cases each cost Nautilus a full timeout; run them side by side.
    async def unknown_instrument() -> None:
        t0 = time.monotonic()
        try:
            unknown = await asyncio.wait_for(
                client.request_instruments(instrument_ids=[InstrumentId.from_str("ZZZZ.NASDAQ")]), 15
            )
            report["unknown_instruments"] = [str(i.id) for i in unknown]
        except TimeoutError:
            # Nautilus 1.231 cancels the request's future on IB's error 200 and its caller then
            # waits for the outer timeout instead of returning [] (1.221 returned [] at once).
            report["unknown_instruments"] = "timeout"
        report["unknown_seconds"] = time.monotonic() - t0

    async def pacing_fault() -> None:
        t0 = time.monotonic()
        failed = await bars("1-HOUR-LAST", dt.datetime(2024, 1, 3), dt.datetime(2024, 1, 4))
        report["pacing_fault_bars"] = len(failed)
        report["pacing_fault_seconds"] = time.monotonic() - t0

    async def silent_gateway() -> None:
        # A second client would initialise the logger again, which Nautilus refuses.
        from nautilus_trader.adapters.interactive_brokers.historical import client as historic

        historic.init_logging = lambda **_: None  # type: ignore[attr-defined]
        silent = HistoricInteractiveBrokersClient(
            host="127.0.0.1", port=silent_port, client_id=6, log_level="ERROR"
        )
        loop.set_debug(False)
        try:
            await asyncio.wait_for(silent.connect(), 2)
            report["silent_connect"] = "connected"
        except TimeoutError:
            report["silent_connect"] = "timeout"

    await asyncio.gather(unknown_instrument(), pacing_fault(), silent_gateway())
    return report


def _probe_main(port: int, silent_port: int) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        report = loop.run_until_complete(_nautilus_probe(port, silent_port))
    except BaseException as exc:
        report = {"error": repr(exc)}
    print(json.dumps(report), flush=True)
    # The clients keep socket-reading threads and reconnect loops alive; leave without them.
    os._exit(0)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "nautilus-probe":
    _probe_main(int(sys.argv[2]), int(sys.argv[3]))


def test_the_fake_judges_pacing_with_its_own_table_of_ibs_limits() -> None:
    from ntrader.ibkr.fake.limits import IB_PACING, PacingJudge, max_duration_seconds

    clock = [0.0]
    judge = PacingJudge(IB_PACING, now=lambda: clock[0])
    # "Six or more" requests for one contract within two seconds: the sixth is a violation.
    assert [judge.admit("AAPL@SMART", "TRADES", f"r{i}") for i in range(6)] == [True] * 5 + [False]
    assert judge.admit("MSFT@SMART", "TRADES", "other contract")
    clock[0] = 2.0
    assert judge.admit("AAPL@SMART", "TRADES", "r5")
    # No identical request within 15 s; BID_ASK weighs two.
    assert not judge.admit("AAPL@SMART", "TRADES", "r5")
    clock[0] = 17.0
    assert judge.admit("AAPL@SMART", "TRADES", "r5")
    bid_ask = PacingJudge(IB_PACING, now=lambda: clock[0])
    assert [bid_ask.admit("SPY@SMART", "BID_ASK", f"q{i}") for i in range(3)] == [True, True, False]
    # At most 60 in ten minutes.
    wide = PacingJudge(IB_PACING, now=lambda: clock[0])
    for i in range(60):
        clock[0] = 20.0 + 3 * i
        assert wide.admit(f"S{i}@SMART", "TRADES", f"w{i}")
    clock[0] += 3
    assert not wide.admit("S99@SMART", "TRADES", "w60")
    assert max_duration_seconds(60) == 86_400 and max_duration_seconds(900) == 7 * 86_400


def test_the_fake_shares_no_code_with_the_client_it_tests() -> None:
    code = (
        "import sys, ntrader.ibkr.fake, ntrader.ibkr.fake_gateway as old;"
        "assert old.FakeGateway is ntrader.ibkr.fake.FakeGateway;"
        "print(sorted(m for m in sys.modules if m.startswith('ntrader.ibkr.') and '.fake' not in m))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
