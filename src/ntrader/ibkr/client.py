"""An asyncio client for IB Gateway/TWS on ibapi's EClient: bounded connect, one request per future.

Nautilus's HistoricInteractiveBrokersClient waits forever to connect, turns an IB error into a
silent empty answer after its whole timeout, and can be built only once per process. This wrapper
talks to ibapi directly: ``EClient.connect`` and its message loop run in a daemon thread per
connection, and each wrapper callback hands its result to the asyncio loop with
``call_soon_threadsafe``. Every wait is bounded; every IB error reaches the request that caused it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from ibapi.client import EClient
from ibapi.common import BarData
from ibapi.contract import Contract, ContractDetails
from ibapi.wrapper import EWrapper

from ntrader.errors import GatewayUnavailable, InputError
from ntrader.ibkr.errors import INFO_CODES, ConnectionLost, IBError, RequestTimeout, classify, describe

__all__ = ["SEC_TYPES", "ConnectionInfo", "IBClient", "make_contract"]

log = logging.getLogger(__name__)

#: ``--sec-type`` choices. IB has no ETF type: an ETF is a stock (STK) to it.
SEC_TYPES: tuple[str, ...] = ("STK", "ETF", "FUT", "CONTFUT", "CASH", "IND")

#: IBKR_MARKET_DATA_TYPE values and IB's codes for reqMarketDataType.
MARKET_DATA_TYPES: dict[str, int] = {"REALTIME": 1, "FROZEN": 2, "DELAYED": 3, "DELAYED_FROZEN": 4}

# Errors on the connection (request id -1) that end it, as opposed to farm-status notices.
_FATAL_CONNECT_CODES = frozenset({326, 502, 504})


def make_contract(
    symbol: str,
    *,
    sec_type: str = "STK",
    exchange: str = "SMART",
    currency: str = "USD",
    con_id: int | None = None,
    expiry: str = "",
) -> Contract:
    """An IB contract for a symbol (STK SMART USD by default), or for a contract id alone.

    ``expiry`` is a future's contract month (YYYYMM) or last trading day (YYYYMMDD).
    """
    kind = sec_type.strip().upper()
    if kind not in SEC_TYPES:
        raise InputError(f"unknown security type {sec_type!r}; use one of {', '.join(SEC_TYPES)}")
    contract = Contract()
    if con_id:
        # A conId names one contract; IB fills in the rest, and any other field could contradict it.
        contract.conId = int(con_id)
        contract.exchange = exchange.upper()
        return contract
    contract.symbol = symbol.strip().upper()
    contract.secType = "STK" if kind == "ETF" else kind
    contract.exchange = exchange.strip().upper()
    contract.currency = currency.strip().upper()
    contract.lastTradeDateOrContractMonth = expiry.strip()
    return contract


@dataclass(frozen=True)
class ConnectionInfo:
    """What the gateway told us on connect."""

    host: str
    port: int
    client_id: int
    server_version: int
    connection_time: str
    accounts: tuple[str, ...]


@dataclass
class _Pending:
    """One request awaiting its answer: rows collected in the reader thread, then the future."""

    future: asyncio.Future[Any]
    rows: list[Any] = field(default_factory=list)


class _Bridge(EWrapper, EClient):  # type: ignore[misc]
    """One TWS connection: ibapi's client and wrapper, forwarding callbacks to an IBClient."""

    def __init__(self, owner: IBClient) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, wrapper=self)
        self.owner = owner
        self.last_error: tuple[int, str] | None = None

    # Callbacks run in this connection's thread; the owner moves them onto its event loop.
    def nextValidId(self, orderId: int) -> None:
        self.owner._post(self.owner._on_next_id, self, orderId)

    def managedAccounts(self, accountsList: str) -> None:
        self.owner._post(self.owner._on_accounts, self, accountsList)

    def error(self, reqId: int, *args: Any) -> None:
        # ibapi 10.45+ (Nautilus 1.231) passes (errorTime, errorCode, errorString, json); older ones
        # (errorCode, errorString, json).
        errorCode, errorString = (
            (args[1], args[2]) if len(args) > 2 and isinstance(args[1], int) else args[:2]
        )
        self.last_error = (errorCode, errorString)
        self.owner._post(self.owner._on_error, self, reqId, errorCode, errorString)

    def connectionClosed(self) -> None:
        self.owner._post(self.owner._on_closed, self)

    def contractDetails(self, reqId: int, contractDetails: ContractDetails) -> None:
        self.owner._post(self.owner._on_row, reqId, contractDetails)

    def contractDetailsEnd(self, reqId: int) -> None:
        self.owner._post(self.owner._on_end, reqId)

    def historicalData(self, reqId: int, bar: BarData) -> None:
        self.owner._post(self.owner._on_row, reqId, bar)

    def historicalDataEnd(self, reqId: int, start: str, end: str) -> None:
        self.owner._post(self.owner._on_end, reqId)

    def headTimestamp(self, reqId: int, headTimestamp: str) -> None:
        self.owner._post(self.owner._on_row, reqId, headTimestamp)
        self.owner._post(self.owner._on_end, reqId)


class IBClient:
    """Async access to IB Gateway/TWS: ``await connect()``, requests, ``await disconnect()``.

    Use ``async with IBClient(host, port, client_id) as ib:``. ``reconnect()`` replaces a dropped
    connection with a new one (ibapi's EClient is not reliably reusable after a disconnect).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 7497,
        client_id: int = 1,
        *,
        connect_timeout: float = 10.0,
        request_timeout: float = 60.0,
        market_data_type: str | None = None,
        messages_per_second: int | None = None,
    ) -> None:
        self.host, self.port, self.client_id = host, int(port), int(client_id)
        self.connect_timeout = float(connect_timeout)
        self.request_timeout = float(request_timeout)
        # IBKR_MARKET_DATA_TYPE, sent once per connection (historical bars are not affected by it).
        self.market_data_type = market_data_type.upper() if market_data_type else None
        # IBKR_RATE_LIMIT: IB disconnects a client sending more than 50 API messages per second.
        self.messages_per_second = messages_per_second
        self._sent_at: collections.deque[float] = collections.deque()
        self.info: ConnectionInfo | None = None
        self.notices: list[str] = []
        self._bridge: _Bridge | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._ready: asyncio.Future[int] | None = None
        self._accounts: asyncio.Future[str] | None = None

    # -- connection -------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        bridge = self._bridge
        return bridge is not None and bool(bridge.isConnected()) and self.info is not None

    async def connect(self) -> ConnectionInfo:
        """Connect and wait for the gateway's first ids; GatewayUnavailable after connect_timeout."""
        loop = asyncio.get_running_loop()
        # Debug mode (which some libraries switch on) slows message parsing several-fold.
        loop.set_debug(False)
        # ibapi logs its own view of failures we report ourselves ("Disconnected; resetting ...").
        logging.getLogger("ibapi").setLevel(logging.CRITICAL)
        self._loop = loop
        await self._resolve(loop)
        self._ready = loop.create_future()
        self._accounts = loop.create_future()
        bridge = _Bridge(self)
        self._bridge = bridge
        thread = threading.Thread(target=self._serve, args=(bridge,), name="ibapi-client", daemon=True)
        thread.start()
        where = f"{self.host}:{self.port}"
        try:
            async with asyncio.timeout(self.connect_timeout):
                await self._ready
                # A Gateway sends the account list right after the ids; never wait long for it.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._accounts), 2.0)
        except TimeoutError:
            self._bridge = None  # late callbacks of the abandoned connection are ignored
            self._drop(bridge)
            raise GatewayUnavailable(
                f"no answer from IB Gateway/TWS at {where} within {self.connect_timeout:g} s "
                "(something accepted the connection but never completed the API handshake)"
            ) from None
        except GatewayUnavailable:
            self._bridge = None
            self._drop(bridge)
            raise
        if self.market_data_type is not None:
            await self._throttle()
            bridge.reqMarketDataType(MARKET_DATA_TYPES[self.market_data_type])
        accounts = self._accounts.result() if self._accounts.done() and not self._accounts.exception() else ""
        self.info = ConnectionInfo(
            host=self.host,
            port=self.port,
            client_id=self.client_id,
            server_version=int(bridge.serverVersion() or 0),
            connection_time=_text(bridge.twsConnectionTime()),
            accounts=tuple(a for a in accounts.split(",") if a),
        )
        return self.info

    async def _resolve(self, loop: asyncio.AbstractEventLoop) -> None:
        """Fail with "cannot resolve host" before connecting, rather than "nothing accepted"."""
        try:
            await asyncio.wait_for(loop.getaddrinfo(self.host, self.port), self.connect_timeout)
        except TimeoutError:
            raise GatewayUnavailable(
                f"cannot resolve host {self.host!r} within {self.connect_timeout:g} s"
            ) from None
        except OSError as exc:  # socket.gaierror
            raise GatewayUnavailable(
                f"cannot resolve host {self.host!r} ({exc.strerror or exc}): from this machine use "
                "127.0.0.1 (docker compose maps the gateway's API to 127.0.0.1:4002 paper / 4001 "
                "live); inside the compose network use ib-gateway with port 4004 (paper) / 4003 (live)"
            ) from None

    def _serve(self, bridge: _Bridge) -> None:
        """Connection thread: the blocking handshake, then ibapi's message loop until closed."""
        try:
            bridge.connect(self.host, self.port, self.client_id)
        except Exception as exc:  # a refused or reset socket surfaces in several shapes
            bridge.last_error = (502, str(exc))
        if not bridge.isConnected():
            code, text = bridge.last_error or (0, "the other side closed the connection during the handshake")
            self._post(self._on_connect_failed, bridge, code, text)
            return
        try:
            bridge.run()
        except Exception:
            log.exception("ibapi message loop failed")
        finally:
            self._post(self._on_closed, bridge)

    def _drop(self, bridge: _Bridge) -> None:
        # Closing the socket is what frees a thread blocked in the handshake or the reader.
        with contextlib.suppress(Exception):
            bridge.disconnect()

    async def disconnect(self) -> None:
        """Close the connection; requests still waiting fail with ConnectionLost."""
        bridge, self._bridge = self._bridge, None
        self.info = None
        if bridge is not None:
            self._drop(bridge)
        self._fail_all(ConnectionLost(504, "disconnected by ntrader"))

    async def reconnect(self) -> ConnectionInfo:
        """Drop what is left of the connection and connect again (bounded by connect_timeout)."""
        await self.disconnect()
        return await self.connect()

    async def __aenter__(self) -> IBClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    # -- callbacks, on the event loop ---------------------------------------------------------

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # The loop may close between the check and the call when a process exits mid-request.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(fn, *args)

    def _current(self, bridge: _Bridge) -> bool:
        return bridge is self._bridge

    def _on_next_id(self, bridge: _Bridge, order_id: int) -> None:
        if self._current(bridge) and self._ready is not None and not self._ready.done():
            self._ready.set_result(order_id)

    def _on_accounts(self, bridge: _Bridge, accounts: str) -> None:
        if self._current(bridge) and self._accounts is not None and not self._accounts.done():
            self._accounts.set_result(accounts)

    def _on_connect_failed(self, bridge: _Bridge, code: int, text: str) -> None:
        if not self._current(bridge) or self._ready is None or self._ready.done():
            return
        where = f"{self.host}:{self.port}"
        if code == 502:
            message = f"cannot connect to IB Gateway/TWS at {where}: nothing accepted the connection"
        elif code == 0:
            message = f"cannot connect to IB Gateway/TWS at {where}: {text}"
        else:
            message = f"cannot connect to IB Gateway/TWS at {where}: {describe(code, text)}"
        self._ready.set_exception(GatewayUnavailable(message))

    def _on_error(self, bridge: _Bridge, req_id: int, code: int, text: str) -> None:
        if not self._current(bridge):
            return
        pending = self._pending.pop(req_id, None) if req_id >= 0 else None
        if pending is not None:
            if not pending.future.done():
                pending.future.set_exception(classify(code, text, req_id))
            return
        if code in INFO_CODES:
            log.debug("IB notice %s: %s", code, text)
            return
        self.notices.append(describe(code, text))
        if code in _FATAL_CONNECT_CODES and self._ready is not None and not self._ready.done():
            self._on_connect_failed(bridge, code, text)
        elif code in (504, 1100):
            self._fail_all(classify(code, text))
        else:
            log.debug("%s", describe(code, text))

    def _on_closed(self, bridge: _Bridge) -> None:
        if not self._current(bridge):
            return
        self.info = None
        if self._ready is not None and not self._ready.done():
            self._on_connect_failed(bridge, 0, "the other side closed the connection during the handshake")
        self._fail_all(ConnectionLost(504, "the connection to IB Gateway/TWS closed"))

    def _on_row(self, req_id: int, row: Any) -> None:
        pending = self._pending.get(req_id)
        if pending is not None:
            pending.rows.append(row)

    def _on_end(self, req_id: int) -> None:
        pending = self._pending.pop(req_id, None)
        if pending is not None and not pending.future.done():
            pending.future.set_result(pending.rows)

    def _fail_all(self, error: IBError) -> None:
        pending, self._pending = self._pending, {}
        for item in pending.values():
            if not item.future.done():
                item.future.set_exception(error)

    # -- requests ---------------------------------------------------------------------------

    async def _request(
        self, send: Callable[[_Bridge, int], None], cancel: Callable[[_Bridge, int], None] | None
    ) -> list[Any]:
        bridge = self._bridge
        if bridge is None or not self.is_connected or self._loop is None:
            raise ConnectionLost(504, "not connected to IB Gateway/TWS")
        await self._throttle()
        req_id = next(self._ids)
        pending = _Pending(self._loop.create_future())
        self._pending[req_id] = pending
        send(bridge, req_id)
        try:
            return list(await asyncio.wait_for(pending.future, self.request_timeout))
        except TimeoutError:
            self._pending.pop(req_id, None)
            if cancel is not None and bridge.isConnected():
                # Free IB's slot for the request; its late answer, if any, is ignored.
                with contextlib.suppress(Exception):
                    cancel(bridge, req_id)
            raise RequestTimeout(self.request_timeout, req_id) from None

    async def _throttle(self) -> None:
        """Wait until one more message keeps within ``messages_per_second`` (none: no limit)."""
        limit = self.messages_per_second
        if not limit:
            return
        while True:
            now = time.monotonic()
            while self._sent_at and now - self._sent_at[0] >= 1.0:
                self._sent_at.popleft()
            if len(self._sent_at) < limit:
                self._sent_at.append(now)
                return
            await asyncio.sleep(self._sent_at[0] + 1.0 - now)

    async def contract_details(self, contract: Contract) -> list[ContractDetails]:
        """Every contract IB matches to ``contract`` (IB error 200 when there is none)."""
        return await self._request(lambda b, i: b.reqContractDetails(i, contract), None)

    async def historical_bars(
        self,
        contract: Contract,
        *,
        end: str,
        duration: str,
        bar_size: str,
        what_to_show: str = "TRADES",
        use_rth: bool = True,
    ) -> list[BarData]:
        """One reqHistoricalData call; bar dates come as "YYYYMMDD" (daily) or epoch seconds."""

        def send(bridge: _Bridge, req_id: int) -> None:
            # formatDate=2: intraday bars stamped in epoch seconds, so no time-zone guessing.
            bridge.reqHistoricalData(
                req_id, contract, end, duration, bar_size, what_to_show, int(use_rth), 2, False, []
            )

        return await self._request(send, lambda b, i: b.cancelHistoricalData(i))

    async def head_timestamp(
        self, contract: Contract, *, what_to_show: str = "TRADES", use_rth: bool = True
    ) -> pd.Timestamp:
        """The time of the earliest bar IB has for ``contract`` (reqHeadTimeStamp), UTC."""
        rows = await self._request(
            lambda b, i: b.reqHeadTimeStamp(i, contract, what_to_show, int(use_rth), 2),
            lambda b, i: b.cancelHeadTimeStamp(i),
        )
        text = str(rows[0]).strip() if rows else ""
        if text.isdigit():
            return pd.Timestamp(int(text), unit="s", tz="UTC")
        stamp = pd.Timestamp(text.replace("-", " ", 1) if len(text) > 8 else text)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def bars_to_frame(bars: list[BarData]) -> pd.DataFrame:
    """IB bars as a bar frame (UTC open times; daily bars at midnight UTC of their date)."""
    stamps = []
    for bar in bars:
        text = str(bar.date).strip()
        if len(text) == 8 and text.isdigit():
            stamps.append(pd.Timestamp(text, tz="UTC"))
        elif text.isdigit():
            stamps.append(pd.Timestamp(int(text), unit="s", tz="UTC"))
        else:
            # "20240102 09:30:00 US/Eastern" from a gateway that ignored formatDate=2.
            date, _, rest = text.partition(" ")
            clock, _, zone = rest.partition(" ")
            local = pd.Timestamp(f"{date} {clock}")
            stamps.append(local.tz_localize(zone or "US/Eastern").tz_convert("UTC"))
    frame = pd.DataFrame(
        {
            "open": [float(b.open) for b in bars],
            "high": [float(b.high) for b in bars],
            "low": [float(b.low) for b in bars],
            "close": [float(b.close) for b in bars],
            # MIDPOINT and BID_ASK bars carry volume -1: no volume, not a negative one.
            "volume": [max(0.0, float(b.volume)) for b in bars],
        },
        index=pd.DatetimeIndex(stamps, name="timestamp").as_unit("ns")
        if stamps
        else pd.DatetimeIndex([], tz="UTC", name="timestamp"),
    )
    return frame[~frame.index.duplicated(keep="last")].sort_index()


def _text(value: object) -> str:
    """ibapi hands some handshake fields over as bytes."""
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace")
    return "" if value is None else str(value)
