"""The fake IB Gateway's server: the real TWS wire protocol over asyncio TCP, scripted faults."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from ibapi.message import OUT

from ntrader.data import calendar
from ntrader.ibkr.fake import adjusted as adjusted_last
from ntrader.ibkr.fake import markets
from ntrader.ibkr.fake import protocol as wire
from ntrader.ibkr.fake.bars import (
    ny_text,
    parse_bar_size,
    parse_end_datetime,
    session_hours,
    stock_info,
    synthetic_bars,
    wire_bars,
)
from ntrader.ibkr.fake.faults import ContractRecord, FaultPlan, HistoricalRecord, Market
from ntrader.ibkr.fake.limits import (
    ACCEPTED_DURATION_BY_BAR_SECONDS,
    PacingJudge,
    duration_seconds,
    max_duration_seconds,
)

DEFAULT_SYMBOLS: tuple[str, ...] = ("AAPL", "MSFT", "SPY")
DEFAULT_ACCOUNT = "DU1234567"
_WARM_DATE = dt.date(2024, 1, 2)
_FIRST_LISTING = dt.date(1990, 1, 2)  # symbols without a listing day have data from here


class _Session:
    """One client connection after the handshake."""

    def __init__(
        self,
        gateway: FakeGateway,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        version: int,
    ) -> None:
        self.gw = gateway
        self.reader = reader
        self.writer = writer
        self.version = version
        self.client_id = -1
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    async def run(self) -> None:
        try:
            while True:
                payload = await _read_frame(self.reader)
                fields = wire.split_fields(payload)
                if fields:
                    self.dispatch(fields)
                    await self.writer.drain()
        finally:
            for task in self.tasks.values():
                task.cancel()

    def dispatch(self, fields: list[str]) -> None:
        try:
            self._dispatch(fields)
        except (wire.ProtocolError, ValueError, IndexError):
            # A real Gateway rejects a malformed request and keeps the connection.
            self.send(wire.error(self.version, -1, wire.ERR_INVALID_REQUEST, wire.BAD_REQUEST_TEXT))

    def _dispatch(self, fields: list[str]) -> None:
        msg_id = int(fields[0])
        if msg_id == OUT.START_API:
            self.client_id = int(fields[2]) if len(fields) > 2 and fields[2] else 0
            self.gw.client_ids.append(self.client_id)
            self.send(wire.next_valid_id(1))
            self.send(wire.managed_accounts(self.gw.accounts))
            for code, text in wire.FARM_STATUS:
                self.send(wire.error(self.version, -1, code, text))
        elif msg_id == OUT.REQ_IDS:
            self.send(wire.next_valid_id(1))
        elif msg_id == OUT.REQ_CURRENT_TIME:
            self.send(wire.current_time(int(time.time())))
        elif msg_id == OUT.REQ_CONTRACT_DATA:
            self.contract_details(wire.parse_contract_details_request(fields, self.version))
        elif msg_id == OUT.REQ_HISTORICAL_DATA:
            self.historical(wire.parse_historical_data_request(fields, self.version))
        elif msg_id == OUT.CANCEL_HISTORICAL_DATA:
            self.cancel(wire.parse_cancel(fields))
        elif msg_id == OUT.REQ_MARKET_DATA_TYPE:
            self.gw.market_data_types.append(int(fields[2]))
        elif msg_id == OUT.REQ_HEAD_TIMESTAMP:
            self.head_timestamp(wire.parse_head_timestamp_request(fields))
        # Anything else (market data type, account updates, ...) gets no answer, which is what
        # a Gateway without the relevant data would do and never breaks a client.

    def derivative_details(self, req: wire.ContractDetailsRequest) -> None:
        """Futures and forex: every listed month for a future without an expiry, as IB answers."""
        spec = req.contract
        found = markets.contracts(spec)
        self.gw.contract_requests.append(
            ContractRecord(
                req.req_id,
                self.client_id,
                spec.symbol.upper(),
                spec.sec_type,
                spec.exchange,
                spec.primary_exchange,
                spec.currency,
                bool(found),
            )
        )
        if not found:
            self.send(wire.error(self.version, req.req_id, wire.ERR_NO_SECURITY, wire.NO_SECURITY_TEXT))
            return
        trading, liquid = markets.hours_text(spec)
        exchange = markets.find(spec).exchange  # type: ignore[union-attr]
        for contract in found:
            self.send(wire.contract_details(self.version, req.req_id, contract, trading, liquid, exchange))
        self.send(wire.contract_details_end(req.req_id))

    def contract_details(self, req: wire.ContractDetailsRequest) -> None:
        spec = req.contract
        if spec.sec_type in markets.SEC_TYPES:
            self.derivative_details(req)
            return
        symbol = spec.symbol.upper() or spec.local_symbol.upper() or self.gw.symbol_of(spec.con_id)
        found = self.gw.knows(symbol) and spec.sec_type in ("STK", "") and spec.currency in ("USD", "")
        self.gw.contract_requests.append(
            ContractRecord(
                req.req_id,
                self.client_id,
                symbol,
                spec.sec_type,
                spec.exchange,
                spec.primary_exchange,
                spec.currency,
                found,
            )
        )
        if not found:
            self.send(wire.error(self.version, req.req_id, wire.ERR_NO_SECURITY, wire.NO_SECURITY_TEXT))
            return
        trading, liquid = session_hours()
        for stock in self.gw.listings_of(symbol):
            valid = (*stock.valid_exchanges, stock.primary_exchange)
            exchange = spec.exchange if spec.exchange in valid else "SMART"
            if spec.con_id and spec.con_id != stock.con_id:
                continue
            self.send(wire.contract_details(self.version, req.req_id, stock, trading, liquid, exchange))
        self.send(wire.contract_details_end(req.req_id))

    def head_timestamp(self, req: wire.HeadTimestampRequest) -> None:
        symbol = req.contract.symbol.upper() or req.contract.local_symbol.upper()
        self.gw.head_requests.append(symbol)
        if req.contract.sec_type in markets.SEC_TYPES:
            refused = markets.refusal(req.contract, "MIDPOINT", "")
            if refused is not None:
                self.send(wire.error(self.version, req.req_id, refused[1], refused[2]))
                return
            first = pd.Timestamp(_FIRST_LISTING, tz="UTC")
            text = str(int(first.timestamp())) if req.format_date == 2 else f"{first:%Y%m%d-%H:%M:%S}"
            self.send(wire.head_timestamp(req.req_id, text))
            return
        if not self.gw.knows(symbol):
            self.send(wire.error(self.version, req.req_id, wire.ERR_NO_SECURITY, wire.NO_SECURITY_TEXT))
            return
        first = self.gw.first_bar(symbol, req.use_rth)
        text = str(int(first.timestamp())) if req.format_date == 2 else f"{first:%Y%m%d-%H:%M:%S}"
        self.send(wire.head_timestamp(req.req_id, text))

    def historical(self, req: wire.HistoricalDataRequest) -> None:
        spec = req.contract
        record = HistoricalRecord(
            number=len(self.gw.historical_requests) + 1,
            req_id=req.req_id,
            client_id=self.client_id,
            symbol=spec.symbol.upper() or spec.local_symbol.upper(),
            sec_type=spec.sec_type,
            exchange=spec.exchange,
            primary_exchange=spec.primary_exchange,
            currency=spec.currency,
            end=req.end_datetime,
            duration=req.duration,
            bar_size=req.bar_size,
            what_to_show=req.what_to_show,
            use_rth=req.use_rth,
            format_date=req.format_date,
            received_at=time.time(),
        )
        self.gw.historical_requests.append(record)
        if record.number == self.gw.faults.drop_on_historical_request:
            record.outcome = "dropped"
            self.writer.transport.abort()
            return
        # IB judges pacing when a request arrives, before any reply delay.
        paced_out = self.gw.pacing is not None and not self.gw.pacing.admit(
            f"{record.symbol}@{record.exchange.upper()}",
            req.what_to_show,
            f"{record.symbol}|{record.exchange}|{req.what_to_show}|{req.end_datetime}|"
            f"{req.duration}|{req.bar_size}|{int(req.use_rth)}",
        )
        task = asyncio.get_running_loop().create_task(self.answer_historical(req, record, paced_out))
        self.tasks[req.req_id] = task
        task.add_done_callback(functools.partial(self._forget, req.req_id))

    def _forget(self, req_id: int, _task: asyncio.Task[None]) -> None:
        self.tasks.pop(req_id, None)

    def cancel(self, req_id: int) -> None:
        self.gw.cancelled.append(req_id)
        task = self.tasks.pop(req_id, None)
        if task is not None and not task.done():
            task.cancel()
            for record in self.gw.historical_requests:
                if record.req_id == req_id and record.outcome == "pending":
                    record.outcome = "cancelled"

    def fail(self, record: HistoricalRecord, outcome: str, code: int, text: str) -> None:
        record.outcome = outcome
        self.send(wire.error(self.version, record.req_id, code, text))

    async def answer_historical(
        self, req: wire.HistoricalDataRequest, record: HistoricalRecord, paced_out: bool = False
    ) -> None:
        faults = self.gw.faults
        if faults.reply_delay > 0:
            await asyncio.sleep(faults.reply_delay)
        if paced_out or record.number in faults.pacing_violation_on:
            self.fail(record, "pacing", wire.ERR_HISTORICAL, wire.PACING_VIOLATION_TEXT)
            return
        other_hours = req.contract.sec_type in markets.SEC_TYPES
        if other_hours:
            refused = markets.refusal(req.contract, req.what_to_show, req.end_datetime)
            if refused is not None:
                self.fail(record, *refused)
                return
        elif not self.gw.knows(record.symbol):
            self.fail(record, "unknown", wire.ERR_NO_SECURITY, wire.NO_SECURITY_TEXT)
            return
        if record.symbol in faults.no_permission_symbols:
            text = wire.NO_PERMISSION_TEXT.format(exchange=stock_info(record.symbol).primary_exchange)
            self.fail(record, "no-permission", wire.ERR_HISTORICAL, text)
            return
        try:
            step = parse_bar_size(req.bar_size)
        except ValueError:
            self.fail(record, "invalid", wire.ERR_INVALID_REQUEST, wire.BAD_BAR_SIZE_TEXT)
            return
        try:
            end = parse_end_datetime(req.end_datetime)
        except ValueError:
            self.fail(record, "invalid", wire.ERR_BAD_END_DATE, wire.BAD_END_DATE_TEXT)
            return
        try:
            seconds = duration_seconds(req.duration)
        except ValueError:
            text = "Error validating request.-'bP' : cause - Historical data duration is invalid."
            self.fail(record, "invalid", wire.ERR_INVALID_REQUEST, text)
            return
        bar_seconds = int(step.total_seconds())
        adjusted = req.what_to_show.upper() == "ADJUSTED_LAST"
        why = adjusted_last.refusal(req.end_datetime, bar_seconds) if adjusted else None
        if why is not None:
            self.fail(record, "invalid", wire.ERR_INVALID_REQUEST, why)
            return
        too_long = (faults.enforce_max_duration and seconds > max_duration_seconds(bar_seconds)) or (
            faults.enforce_accepted_duration
            and seconds > max_duration_seconds(bar_seconds, ACCEPTED_DURATION_BY_BAR_SECONDS)
        )
        if too_long:
            self.fail(record, "too-long", wire.ERR_HISTORICAL, wire.TOO_LONG_TEXT)
            return
        start = end - pd.Timedelta(seconds=seconds)
        frame = synthetic_bars(
            f"{record.symbol}.{req.contract.sec_type}" if other_hours else record.symbol,
            start,
            end,
            step,
            use_rth=req.use_rth,
            holidays=self.gw.holidays,
            early_closes=self.gw.early_closes,
            starts=markets.served_starts(req.contract, start, end, step, req.use_rth)
            if other_hours
            else None,
        )
        factor = self.gw.splits.get(record.symbol)
        if factor:
            # IB serves TRADES split-adjusted: after a split every price it sends is divided by it.
            frame = frame.assign(
                **{c: (frame[c] / factor).round(2) for c in ("open", "high", "low", "close")},
                volume=(frame["volume"] * factor).round(),
            )
        if adjusted:
            frame = adjusted_last.dividend_adjusted(frame, self.gw.market.dividends.get(record.symbol, ()))
        listed = self.gw.listed.get(record.symbol)
        if listed is not None:
            frame = frame[frame.index >= pd.Timestamp(listed, tz="UTC")]
        for a, b in faults.no_data_windows:
            frame = frame[(frame.index < a) | (frame.index >= b)]
        if record.symbol in faults.no_data_symbols or frame.empty:
            self.fail(record, "no-data", wire.ERR_HISTORICAL, wire.NO_DATA_TEXT)
            return
        bars = wire_bars(frame, step >= pd.Timedelta(days=1), req.format_date)
        record.outcome = "bars"
        record.bar_count = len(bars)
        self.send(wire.historical_data(req.req_id, ny_text(start), ny_text(end), bars))
        await self.writer.drain()


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    header = await reader.readexactly(4)
    size = int.from_bytes(header, "big")
    if size > 16 * 1024 * 1024:
        raise wire.ProtocolError(f"message of {size} bytes")
    return await reader.readexactly(size)


class FakeGateway:
    """An asyncio TCP server that answers like IB Gateway for a few US stocks.

    Sessions follow the NYSE calendar (holidays have no bars, half days end at 13:00 New York);
    ``holidays`` / ``early_closes`` (New York dates) replace the calendar's when given, e.g.
    ``holidays=()`` to trade every weekday.

    Use ``async with FakeGateway(port=0) as gw`` (``gw.port`` is the bound port), or
    ``await gw.run_forever()``. Every request is recorded in ``historical_requests`` /
    ``contract_requests`` for tests to count (the tests run it in a thread of its own).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        symbols: Iterable[str] = DEFAULT_SYMBOLS,
        faults: FaultPlan | None = None,
        accounts: Sequence[str] = (DEFAULT_ACCOUNT,),
        holidays: Collection[dt.date] | None = None,
        early_closes: Mapping[dt.date, dt.time] | None = None,
        market: Market | None = None,
    ) -> None:
        self.host = host
        self.market = market or Market()
        self.listed, self.listings, self.splits = self.market.listed, self.market.listings, self.market.splits
        self.head_requests: list[str] = []
        self.market_data_types: list[int] = []  # what reqMarketDataType asked for, per connection
        self.holidays = None if holidays is None else frozenset(holidays)
        self.early_closes = None if early_closes is None else dict(early_closes)
        self.requested_port = port
        self.symbols = frozenset(s.upper() for s in symbols)
        self.faults = faults or FaultPlan()
        self.accounts = tuple(accounts)
        limits = self.faults.pacing_limits
        self.pacing = PacingJudge(limits) if limits is not None else None
        self.historical_requests: list[HistoricalRecord] = []
        self.contract_requests: list[ContractRecord] = []
        self.cancelled: list[int] = []
        self.client_ids: list[int] = []
        self.connections = 0
        self.negotiated_versions: list[int] = []
        self._server: asyncio.base_events.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    def first_bar(self, symbol: str, use_rth: bool) -> pd.Timestamp:
        """The start of the first bar served for ``symbol`` (its listing day's open)."""
        day = self.listed.get(symbol, _FIRST_LISTING)
        opening = dt.time(9, 30) if use_rth else dt.time(4, 0)
        local = pd.Timestamp(dt.datetime.combine(day, opening), tz="America/New_York")
        return local.tz_convert("UTC")

    def listings_of(self, symbol: str) -> list[wire.StockInfo]:
        """The contracts a request for ``symbol`` matches: its own listing, or several."""
        stock = stock_info(symbol)
        exchanges = self.listings.get(symbol)
        if not exchanges:
            return [stock]
        return [
            stock
            if ex == stock.primary_exchange
            else dataclasses.replace(stock, primary_exchange=ex, con_id=stock.con_id + 1_000_000 * (i + 1))
            for i, ex in enumerate(exchanges)
        ]

    def symbol_of(self, con_id: int) -> str:
        """The symbol of a contract id ("" when unknown), for requests that give only the id."""
        for symbol in sorted(self.symbols):
            if any(stock.con_id == con_id for stock in self.listings_of(symbol)):
                return symbol
        return ""

    def knows(self, symbol: str) -> bool:
        return symbol in self.symbols and symbol not in self.faults.unknown_symbols

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the fake gateway is not running")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> FakeGateway:
        if self.holidays is None or self.early_closes is None:
            # Build the NYSE calendar (about half a second, once per process) before listening,
            # not inside the first request, where it would count against the client's timeout.
            calendar.sessions(_WARM_DATE, _WARM_DATE)
        self._server = await asyncio.start_server(self._on_connect, self.host, self.requested_port)
        return self

    async def aclose(self) -> None:
        """Stop listening and drop every client connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeGateway:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def run_forever(self) -> None:
        """Serve until cancelled (e.g. by Ctrl-C under ``asyncio.run``)."""
        await self.start()
        try:
            # Not Server.serve_forever(): on cancel, Python 3.12's version awaits wait_closed(), which
            # now waits for every open client connection, before aclose() could drop them (a hang).
            await asyncio.Event().wait()
        finally:
            await self.aclose()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            if self.faults.silent:
                while await reader.read(4096):
                    pass
                return
            if await reader.readexactly(len(wire.API_PREFIX)) != wire.API_PREFIX:
                return
            greeting = (await _read_frame(reader)).decode("ascii", errors="replace")
            low, high, _options = wire.parse_version_range(greeting)
            version = wire.negotiate(low, high)
            if version is None:
                return
            self.negotiated_versions.append(version)
            now = dt.datetime.now(dt.UTC)
            writer.write(wire.server_hello(version, f"{now:%Y%m%d %H:%M:%S} UTC"))
            await writer.drain()
            await _Session(self, reader, writer, version).run()
        except (asyncio.IncompleteReadError, ConnectionError, wire.ProtocolError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._handlers.discard(task)
            writer.transport.abort()
