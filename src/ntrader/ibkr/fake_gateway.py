"""A fake IB Gateway: the real TWS wire protocol, synthetic bars, scripted faults."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import math
import re
import threading
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from ibapi.message import OUT

from ntrader.data import calendar
from ntrader.ibkr import protocol as wire
from ntrader.ibkr.pacing import PacingLimiter, PacingRules, historical_key
from ntrader.ibkr.windows import BAR_LENGTH, MAX_DURATION, NEW_YORK, bar_starts, parse_duration, to_utc

DEFAULT_SYMBOLS: tuple[str, ...] = ("AAPL", "MSFT", "SPY")
DEFAULT_ACCOUNT = "DU1234567"

# Real identifiers where we know them, so instruments look like the ones IB returns.
_KNOWN_STOCKS: dict[str, wire.StockInfo] = {
    "AAPL": wire.StockInfo("AAPL", 265598, "NASDAQ", "APPLE INC", "US0378331005"),
    "MSFT": wire.StockInfo("MSFT", 272093, "NASDAQ", "MICROSOFT CORP", "US5949181045"),
    "SPY": wire.StockInfo(
        "SPY",
        756733,
        "ARCA",
        "SPDR S&P 500 ETF TRUST",
        "US78462F1030",
        industry="Funds",
        category="Equity Fund",
        subcategory="Growth&Income-Large Cap",
        stock_type="ETF",
    ),
}

_BAR_SIZE = re.compile(r"^(\d+) (sec|secs|min|mins|hour|hours|day)$")
_UNIT_SECONDS = {"sec": 1, "min": 60, "hour": 3600, "day": 86_400}
_END_UTC = re.compile(r"^(\d{8})-(\d{2}:\d{2}:\d{2})$")
_END_LOCAL = re.compile(r"^(\d{8})(?: (\d{2}:\d{2}:\d{2}))?(?: (\S+))?$")


@dataclass(frozen=True)
class FaultPlan:
    """Misbehaviour to script, each keyed on what the client sends.

    - ``pacing_violation_on``: numbers (1-based, counted per gateway) of historical requests
      answered with error 162 "... pacing violation".
    - ``no_data_symbols``: historical requests for these answer 162 "HMDS query returned no data".
    - ``no_data_windows``: bars starting inside these [start, end) UTC ranges are left out; a
      request left with no bars at all answers 162 "no data", as IB does.
    - ``unknown_symbols``: contract details and history answer 200 "No security definition"
      (symbols the gateway was not started with answer the same).
    - ``reply_delay``: seconds to wait before answering each historical request.
    - ``drop_on_historical_request``: close the client's socket when the N-th historical request
      arrives, leaving it unanswered.
    - ``silent``: accept TCP connections but never answer the handshake.
    - ``enforce_pacing``: answer 162 "pacing violation" whenever a client breaks these rules
      (measured on the gateway's clock), like a real Gateway.
    - ``enforce_max_duration``: answer 162 "Time length exceed max" when a request spans more
      than IB's documented maximum for its bar size (``windows.MAX_DURATION``).
    """

    pacing_violation_on: frozenset[int] = frozenset()
    no_data_symbols: frozenset[str] = frozenset()
    no_data_windows: tuple[tuple[pd.Timestamp, pd.Timestamp], ...] = ()
    unknown_symbols: frozenset[str] = frozenset()
    reply_delay: float = 0.0
    drop_on_historical_request: int | None = None
    silent: bool = False
    enforce_pacing: PacingRules | None = None
    enforce_max_duration: bool = False

    def __post_init__(self) -> None:
        # Accept any iterables (lists, sets) from callers; store hashable, normalised forms.
        object.__setattr__(self, "pacing_violation_on", frozenset(self.pacing_violation_on))
        object.__setattr__(self, "no_data_symbols", frozenset(s.upper() for s in self.no_data_symbols))
        object.__setattr__(self, "unknown_symbols", frozenset(s.upper() for s in self.unknown_symbols))
        windows = tuple((to_utc(a), to_utc(b)) for a, b in self.no_data_windows)
        object.__setattr__(self, "no_data_windows", windows)


@dataclass
class HistoricalRecord:
    """One historical-data request as the gateway received it, and how it was answered."""

    number: int
    req_id: int
    client_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    end: str
    duration: str
    bar_size: str
    what_to_show: str
    use_rth: bool
    format_date: int
    received_at: float
    outcome: str = "pending"  # bars | no-data | pacing | unknown | invalid | dropped | cancelled
    bar_count: int = 0


@dataclass
class ContractRecord:
    """One contract-details request as the gateway received it; ``found`` says if it answered."""

    req_id: int
    client_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    found: bool


def stock_info(symbol: str) -> wire.StockInfo:
    """Contract facts for ``symbol``: real ones for a few, made-up but stable ones otherwise."""
    symbol = symbol.upper()
    if symbol in _KNOWN_STOCKS:
        return _KNOWN_STOCKS[symbol]
    digest = _hash(symbol, 0, "conid")
    return wire.StockInfo(
        symbol=symbol,
        con_id=100_000 + digest % 900_000,
        primary_exchange="NYSE",
        long_name=f"{symbol} INC",
        isin=f"US{digest % 10**10:010d}",
    )


def parse_bar_size(setting: str) -> pd.Timedelta:
    """Bar length of an IB ``barSizeSetting`` ("1 min", "5 mins", "1 hour", "1 day", ...)."""
    m = _BAR_SIZE.match(setting.strip())
    if not m:
        raise ValueError(f"unsupported bar size {setting!r}")
    return pd.Timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2).rstrip("s")])


def parse_end_datetime(text: str, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """The UTC instant an IB ``endDateTime`` names; "" is now, no zone means US/Eastern."""
    text = text.strip()
    if not text:
        return now if now is not None else pd.Timestamp.now(tz="UTC")
    if m := _END_UTC.match(text):
        return pd.Timestamp(f"{m.group(1)} {m.group(2)}", tz="UTC")
    m2 = _END_LOCAL.match(text)
    if not m2:
        raise ValueError(f"bad endDateTime {text!r}")
    zone_name = m2.group(3) or "US/Eastern"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"bad time zone {zone_name!r}") from exc
    local = dt.datetime.strptime(f"{m2.group(1)} {m2.group(2) or '00:00:00'}", "%Y%m%d %H:%M:%S")
    return pd.Timestamp(local.replace(tzinfo=zone)).tz_convert("UTC")


def _hash(symbol: str, stamp: int, salt: str) -> int:
    digest = hashlib.blake2b(f"{symbol}|{stamp}|{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _unit(symbol: str, stamp: int, salt: str) -> float:
    """A deterministic number in [0, 1) for (symbol, time, salt)."""
    return _hash(symbol, stamp, salt) / 2**64


def _price(symbol: str, stamp: int) -> float:
    """Price at epoch second ``stamp``: smooth cycles plus per-second jitter, never negative."""
    base = 20.0 + _hash(symbol, 0, "base") % 48_000 / 100.0
    phase = _unit(symbol, 0, "phase") * 2 * math.pi
    days = stamp / 86_400.0
    cycle = (
        0.12 * math.sin(2 * math.pi * days / 97.0 + phase)
        + 0.04 * math.sin(2 * math.pi * days / 11.0 + 2 * phase)
        + 0.01 * math.sin(2 * math.pi * stamp / 5_400.0 + phase)
    )
    jitter = 0.002 * (2 * _unit(symbol, stamp, "jit") - 1)
    return round(base * (1.0 + cycle) * (1.0 + jitter), 2)


def synthetic_bars(
    symbol: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    bar_size: pd.Timedelta,
    *,
    use_rth: bool = True,
    holidays: Collection[dt.date] | None = None,
    early_closes: Mapping[dt.date, dt.time] | None = None,
) -> pd.DataFrame:
    """The bars the fake gateway serves for ``symbol`` starting in [start, end), UTC-indexed.

    Values depend only on (symbol, bar start, bar size), so overlapping requests agree. Each
    bar opens at the price of its start and closes at the price of its end (a daily bar spans
    the regular session), so high >= max(open, close), low <= min(open, close), volume > 0.
    Sessions follow the NYSE calendar: no bars on its holidays, and its half days end at 13:00
    New York (17:00 outside regular hours). ``holidays`` / ``early_closes`` (New York dates)
    replace the calendar's when given.
    """
    symbol = symbol.upper()
    daily = bar_size >= pd.Timedelta(days=1)
    lo, hi = to_utc(start), to_utc(end)
    holidays, early_closes = _calendar(lo, hi, holidays, early_closes)
    starts = bar_starts(
        lo, hi, bar_size, holidays=holidays, extended_hours=not use_rth, early_closes=early_closes
    )
    rows: list[tuple[float, float, float, float, int]] = []
    for ts in starts:
        if daily:
            session = ts.tz_convert(None).date()
            close = early_closes.get(session, dt.time(16, 0))
            t0 = int(pd.Timestamp(f"{session} 09:30", tz=NEW_YORK).timestamp())
            t1 = int(pd.Timestamp(f"{session} {close:%H:%M}", tz=NEW_YORK).timestamp())
        else:
            t0 = int(ts.timestamp())
            step = int(bar_size.total_seconds())
            # A bar clipped to the open (09:30 in an hourly grid) still ends on the grid.
            t1 = (t0 // step + 1) * step
        o, c = _price(symbol, t0), _price(symbol, t1)
        reach = max(o, c) * 0.004 * math.sqrt(max(1.0, (t1 - t0) / 60.0)) / 10.0
        high = round(max(o, c) + reach * _unit(symbol, t0, "hi"), 2)
        low = max(0.01, round(min(o, c) - reach * _unit(symbol, t0, "lo"), 2))
        scale = 5_000_000 if daily else 20_000
        volume = scale + _hash(symbol, t0, "vol") % (scale * 4)
        rows.append((o, high, low, c, volume))
    frame = pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"], index=starts)
    frame.index.name = "timestamp"
    return frame


_WARM_DATE = dt.date(2024, 1, 2)


def _calendar(
    lo: pd.Timestamp,
    hi: pd.Timestamp,
    holidays: Collection[dt.date] | None,
    early_closes: Mapping[dt.date, dt.time] | None,
) -> tuple[Collection[dt.date], Mapping[dt.date, dt.time]]:
    """The NYSE's holidays and early closes around [lo, hi), unless the caller gave its own."""
    first, last = (lo - pd.Timedelta(days=1)).date(), (hi + pd.Timedelta(days=1)).date()
    if holidays is None:
        holidays = calendar.holidays(first, last)
    if early_closes is None:
        early_closes = calendar.early_closes(first, last)
    return holidays, early_closes


def _session_hours(days: int = 7, today: dt.date | None = None) -> tuple[str, str]:
    """IB-style tradingHours / liquidHours strings for the coming week, New York time (NYSE calendar)."""
    today = today or pd.Timestamp.now(tz=NEW_YORK).date()
    closed = calendar.holidays(today, today + dt.timedelta(days=days))
    early = calendar.early_closes(today, today + dt.timedelta(days=days))
    trading, liquid = [], []
    for offset in range(days):
        day = today + dt.timedelta(days=offset)
        d = f"{day:%Y%m%d}"
        if day.weekday() >= 5 or day in closed:
            trading.append(f"{d}:CLOSED")
            liquid.append(f"{d}:CLOSED")
        elif day in early:
            close = early[day]
            post = (dt.datetime.combine(day, close) + dt.timedelta(hours=4)).time()
            trading.append(f"{d}:0400-{d}:{post:%H%M}")
            liquid.append(f"{d}:0930-{d}:{close:%H%M}")
        else:
            trading.append(f"{d}:0400-{d}:2000")
            liquid.append(f"{d}:0930-{d}:1600")
    return ";".join(trading), ";".join(liquid)


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
        # Anything else (market data type, account updates, ...) gets no answer, which is what
        # a Gateway without the relevant data would do and never breaks a client.

    def contract_details(self, req: wire.ContractDetailsRequest) -> None:
        spec = req.contract
        symbol = spec.symbol.upper() or spec.local_symbol.upper()
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
        stock = stock_info(symbol)
        exchange = spec.exchange if spec.exchange in stock.valid_exchanges else "SMART"
        trading, liquid = _session_hours()
        self.send(wire.contract_details(self.version, req.req_id, stock, trading, liquid, exchange))
        self.send(wire.contract_details_end(req.req_id))

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
        task = asyncio.get_running_loop().create_task(self.answer_historical(req, record))
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

    async def answer_historical(self, req: wire.HistoricalDataRequest, record: HistoricalRecord) -> None:
        faults = self.gw.faults
        if faults.reply_delay > 0:
            await asyncio.sleep(faults.reply_delay)
        if self.gw.pacing is not None:
            key = historical_key(
                record.symbol,
                record.exchange,
                req.what_to_show,
                req.end_datetime,
                req.duration,
                req.bar_size,
                req.use_rth,
            )
            if self.gw.pacing.delay_for(key) > 0:
                self.fail(record, "pacing", wire.ERR_HISTORICAL, wire.PACING_VIOLATION_TEXT)
                return
            self.gw.pacing.record(key)
            self.gw.pacing.release()
        if record.number in faults.pacing_violation_on:
            self.fail(record, "pacing", wire.ERR_HISTORICAL, wire.PACING_VIOLATION_TEXT)
            return
        if not self.gw.knows(record.symbol):
            self.fail(record, "unknown", wire.ERR_NO_SECURITY, wire.NO_SECURITY_TEXT)
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
            span = parse_duration(req.duration)
        except ValueError:
            text = "Error validating request.-'bP' : cause - Historical data duration is invalid."
            self.fail(record, "invalid", wire.ERR_INVALID_REQUEST, text)
            return
        if faults.enforce_max_duration and span > _max_span(step):
            self.fail(record, "invalid", wire.ERR_HISTORICAL, wire.TOO_LONG_TEXT)
            return
        start = end - span
        frame = synthetic_bars(
            record.symbol,
            start,
            end,
            step,
            use_rth=req.use_rth,
            holidays=self.gw.holidays,
            early_closes=self.gw.early_closes,
        )
        for a, b in faults.no_data_windows:
            frame = frame[(frame.index < a) | (frame.index >= b)]
        if record.symbol in faults.no_data_symbols or frame.empty:
            self.fail(record, "no-data", wire.ERR_HISTORICAL, wire.NO_DATA_TEXT)
            return
        daily = step >= pd.Timedelta(days=1)
        columns = (frame[c].tolist() for c in ("open", "high", "low", "close", "volume"))
        bars = [
            wire.WireBar(
                date=_format_bar_date(ts, daily, req.format_date),
                open=o,
                high=h,
                low=lo,
                close=c,
                volume=int(v),
                wap=round((h + lo + c) / 3.0, 4),
                bar_count=max(1, int(v) // 100),
            )
            for ts, o, h, lo, c, v in zip(frame.index, *columns, strict=True)
        ]
        record.outcome = "bars"
        record.bar_count = len(bars)
        self.send(wire.historical_data(req.req_id, _ny(start), _ny(end), bars))
        await self.writer.drain()


def _max_span(step: pd.Timedelta) -> pd.Timedelta:
    """IB's longest request for bars of ``step``: the limit of the nearest documented size below."""
    fitting = [name for name, length in BAR_LENGTH.items() if length <= step] or ["1-SECOND"]
    return MAX_DURATION[max(fitting, key=lambda name: BAR_LENGTH[name])]


def _ny(ts: pd.Timestamp) -> str:
    return f"{ts.tz_convert(NEW_YORK):%Y%m%d %H:%M:%S} US/Eastern"


def _format_bar_date(ts: pd.Timestamp, daily: bool, format_date: int) -> str:
    if daily:
        return f"{ts:%Y%m%d}"
    if format_date == 2:
        return str(int(ts.timestamp()))
    return _ny(ts)


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
    ``gw = FakeGateway().start_in_thread()`` ... ``gw.stop()`` from synchronous code. Every
    request is recorded in ``historical_requests`` / ``contract_requests`` for tests to count.
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
    ) -> None:
        self.host = host
        self.holidays = None if holidays is None else frozenset(holidays)
        self.early_closes = None if early_closes is None else dict(early_closes)
        self.requested_port = port
        self.symbols = frozenset(s.upper() for s in symbols)
        self.faults = faults or FaultPlan()
        self.accounts = tuple(accounts)
        self.pacing = PacingLimiter(self.faults.enforce_pacing) if self.faults.enforce_pacing else None
        self.historical_requests: list[HistoricalRecord] = []
        self.contract_requests: list[ContractRecord] = []
        self.cancelled: list[int] = []
        self.client_ids: list[int] = []
        self.connections = 0
        self.negotiated_versions: list[int] = []
        self._server: asyncio.base_events.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None

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
            assert self._server is not None
            await self._server.serve_forever()
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

    # -- thread mode, for synchronous tests and tools --------------------------------------

    def start_in_thread(self, timeout: float = 10.0) -> FakeGateway:
        """Run the gateway on its own event loop in a daemon thread; returns once listening."""
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop_requested = asyncio.Event()
            try:
                await self.start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            await self._stop_requested.wait()
            await self.aclose()

        self._thread = threading.Thread(
            target=lambda: asyncio.run(main()), name="fake-ib-gateway", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("the fake gateway did not start")
        if failure:
            raise failure[0]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop a gateway started with ``start_in_thread``."""
        if self._thread is None or self._loop is None or self._stop_requested is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            self._loop.call_soon_threadsafe(self._stop_requested.set)
        self._thread.join(timeout)
        self._thread = None


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 4002,
    symbols: Iterable[str] = DEFAULT_SYMBOLS,
    faults: FaultPlan | None = None,
) -> None:
    """Run a fake gateway in the foreground until interrupted; prints nothing."""
    gateway = FakeGateway(host=host, port=port, symbols=symbols, faults=faults)
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(gateway.run_forever())
