"""Fetch IB historical bars: plan windows, pace, retry, resume, store, and report every gap.

For each instrument: resolve it with contract details (once; the manifest remembers), plan request
windows over what IB has not answered before, send them through the pacing limiter, retry pacing
violations with back-off, reconnect after a dropped connection and carry on, then write the new
bars to the Parquet catalog and the database and record the answered windows in the manifest.
Finally the stored bars are compared with the sessions expected, and every missing stretch is
reported: a fetch never ends with a silent gap.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from ibapi.contract import Contract, ContractDetails

from ntrader.config import get_settings
from ntrader.data import calendar
from ntrader.data.bars import BarSize, parse_bar_size
from ntrader.data.period import Period, parse_period
from ntrader.errors import DataGapError, GatewayUnavailable, InputError, NtraderError, PacingError
from ntrader.ibkr.catalog import (
    Manifest,
    SeriesKey,
    bar_type_text,
    merge_ranges,
    open_catalog,
    read_catalog_bars,
    store_instrument,
    write_catalog_bars,
)
from ntrader.ibkr.client import IBClient, bars_to_frame, make_contract
from ntrader.ibkr.errors import (
    ConnectionLost,
    IBError,
    NoData,
    PacingViolation,
    QueryCancelled,
    RequestTimeout,
)
from ntrader.ibkr.pacing import PacingLimiter, PacingRules, historical_key
from ntrader.ibkr.windows import BAR_SIZE_SETTING, RequestWindow, expected_sessions, find_gaps, plan_windows

__all__ = [
    "WHAT_TO_SHOW",
    "FetchProgress",
    "FetchReport",
    "FetchService",
    "InstrumentQuery",
    "SymbolFetch",
    "afetch_bars",
    "fetch_bars",
    "us_equity_early_closes",
    "us_equity_holidays",
]

WHAT_TO_SHOW: tuple[str, ...] = ("TRADES", "MIDPOINT", "BID_ASK")

Range = tuple[pd.Timestamp, pd.Timestamp]

# Exchange holidays and early closes are not in the pacing-free contract details we get: they come
# from the NYSE calendar (ntrader.data.calendar). Without them every holiday would be reported as a
# gap (and its window fetched for nothing), and every half day's afternoon too.


def _ny_dates(start: pd.Timestamp, end: pd.Timestamp) -> tuple[dt.date, dt.date]:
    return (start - pd.Timedelta(days=1)).date(), (end + pd.Timedelta(days=1)).date()


def us_equity_holidays(start: pd.Timestamp, end: pd.Timestamp) -> frozenset[dt.date]:
    """New York dates in [start - 1 day, end + 1 day] on which US stock exchanges are closed all day."""
    return calendar.holidays(*_ny_dates(start, end))


def us_equity_early_closes(start: pd.Timestamp, end: pd.Timestamp) -> dict[dt.date, dt.time]:
    """New York dates in [start - 1 day, end + 1 day] on which the regular session closes early."""
    return calendar.early_closes(*_ny_dates(start, end))


@dataclass(frozen=True)
class InstrumentQuery:
    """What the user asked for: a symbol with its contract fields, or a contract id."""

    symbol: str
    sec_type: str = "STK"
    exchange: str = "SMART"
    currency: str = "USD"
    con_id: int | None = None

    @property
    def key(self) -> str:
        if self.con_id:
            return f"conid:{self.con_id}"
        return (
            f"{self.symbol.upper()}|{self.sec_type.upper()}|{self.exchange.upper()}|{self.currency.upper()}"
        )

    def contract(self) -> Contract:
        return make_contract(
            self.symbol,
            sec_type=self.sec_type,
            exchange=self.exchange,
            currency=self.currency,
            con_id=self.con_id,
        )


@dataclass(frozen=True)
class FetchProgress:
    """A snapshot for a progress display: one per window answered, wait started or note."""

    symbol: str
    windows_total: int
    windows_done: int
    bars: int
    pacing_waits: int
    waited_seconds: float
    note: str = ""


@dataclass
class SymbolFetch:
    """What a fetch did for one instrument, and what is still missing."""

    symbol: str
    bar_size: str
    what_to_show: str
    use_rth: bool
    start: pd.Timestamp
    end: pd.Timestamp
    instrument_id: str | None = None
    source: str = "ibkr"
    windows_planned: int = 0
    cached_windows: int = 0
    requests: int = 0
    bars_received: int = 0
    bars_stored: int = 0
    inserted: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    pacing_waits: int = 0
    waited_seconds: float = 0.0
    retries: int = 0
    reconnects: int = 0
    empty_windows: list[Range] = field(default_factory=list)
    failed_windows: list[tuple[Range, str]] = field(default_factory=list)
    gaps: list[Range] = field(default_factory=list)
    error: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        def rng(r: Range) -> list[str]:
            return [r[0].isoformat(), r[1].isoformat()]

        return {
            "symbol": self.symbol,
            "instrument_id": self.instrument_id,
            "bar_size": self.bar_size,
            "what_to_show": self.what_to_show,
            "use_rth": self.use_rth,
            "source": self.source,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "bars": self.bars_stored,
            "bars_received": self.bars_received,
            "inserted": self.inserted,
            "first": self.first.isoformat() if self.first is not None else None,
            "last": self.last.isoformat() if self.last is not None else None,
            "requests": self.requests,
            "windows_planned": self.windows_planned,
            "cached_windows": self.cached_windows,
            "pacing_waits": self.pacing_waits,
            "waited_seconds": round(self.waited_seconds, 3),
            "retries": self.retries,
            "reconnects": self.reconnects,
            "empty_windows": [rng(r) for r in self.empty_windows],
            "failed_windows": [{"window": rng(r), "error": why} for r, why in self.failed_windows],
            "gaps": [rng(r) for r in self.gaps],
            "error": self.error,
        }


@dataclass
class FetchReport:
    """The outcome of one fetch, per instrument."""

    results: list[SymbolFetch]

    @property
    def gaps(self) -> list[tuple[str, Range]]:
        return [(r.symbol, g) for r in self.results for g in r.gaps]

    @property
    def errors(self) -> list[tuple[str, str]]:
        return [(r.symbol, r.error) for r in self.results if r.error]

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.results)

    def gap_error(self) -> DataGapError:
        """The error for gaps the user did not accept, naming the first few missing windows."""
        shown = [f"{sym} {a:%Y-%m-%d %H:%M} → {b:%Y-%m-%d %H:%M}" for sym, (a, b) in self.gaps[:5]]
        more = f" and {len(self.gaps) - 5} more" if len(self.gaps) > 5 else ""
        return DataGapError(
            f"{len(self.gaps)} missing window(s) after the fetch: {'; '.join(shown)}{more} "
            "(UTC; pass --allow-gaps to accept them)"
        )

    def to_json_dict(self) -> dict[str, Any]:
        return {"results": [r.to_json_dict() for r in self.results], "requests": self.requests}


class _Failed(NtraderError):
    """A window that could not be fetched; the fetch goes on and reports it as a gap."""


class FetchService:
    """Fetches bars for several instruments over one lazily opened, self-healing IB connection.

    ``rules`` are IB's pacing rules (tests pass short windows); ``sleep`` is how back-offs wait.
    ``max_attempts`` bounds retries of one window after pacing violations, ``max_reconnects``
    the reconnections of a whole fetch.
    """

    def __init__(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        client_id: int | None = None,
        connect_timeout: float | None = None,
        request_timeout: float | None = None,
        rules: PacingRules | None = None,
        catalog_path: str | Path | None = None,
        database_url: str | None = None,
        newest_first: bool = False,
        max_attempts: int = 6,
        max_reconnects: int = 5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        ib = get_settings().ibkr
        self.client = IBClient(
            host or ib.host,
            port or ib.port,
            ib.client_id if client_id is None else client_id,
            connect_timeout=ib.connect_timeout if connect_timeout is None else connect_timeout,
            request_timeout=ib.request_timeout if request_timeout is None else request_timeout,
        )
        self.rules = rules or PacingRules(max_per_window=ib.max_historical_requests_per_10min)
        self.limiter = PacingLimiter(self.rules, sleep=sleep)
        self.catalog_path = catalog_path
        self.database_url = database_url
        self.newest_first = newest_first
        self.max_attempts = max_attempts
        self.max_reconnects = max_reconnects
        self._sleep = sleep
        self._connects = 0

    async def close(self) -> None:
        await self.client.disconnect()

    async def _connected(self, result: SymbolFetch | None = None) -> IBClient:
        """The client, connected: the first call connects, later ones reconnect a dropped link."""
        if self.client.is_connected:
            return self.client
        if self._connects > self.max_reconnects:
            raise GatewayUnavailable(
                f"the connection to IB Gateway/TWS at {self.client.host}:{self.client.port} dropped "
                f"{self._connects - 1} times; giving up"
            )
        if self._connects and result is not None:
            result.reconnects += 1
        self._connects += 1
        await (self.client.reconnect() if self._connects > 1 else self.client.connect())
        return self.client

    async def fetch(
        self,
        queries: Sequence[InstrumentQuery],
        period: Period,
        bar_size: BarSize,
        *,
        what_to_show: str = "TRADES",
        use_rth: bool = True,
        progress: Callable[[FetchProgress], None] | None = None,
    ) -> FetchReport:
        what = what_to_show.strip().upper()
        if what not in WHAT_TO_SHOW:
            raise InputError(f"unknown --what {what_to_show!r}; use one of {', '.join(WHAT_TO_SHOW)}")
        start, end = period.start_ts, _complete_end(period.end_ts, bar_size)
        manifest = Manifest.load(self.catalog_path)
        results = []
        try:
            for query in queries:
                result = SymbolFetch(query.symbol.upper(), bar_size.name, what, use_rth, start, end)
                results.append(result)
                try:
                    await self._fetch_one(query, result, manifest, bar_size, progress)
                except (GatewayUnavailable, PacingError):
                    raise  # the whole fetch stops: the next symbol would fail the same way
                except NtraderError as exc:
                    result.error = str(exc)
        finally:
            await self.close()
        return FetchReport(results)

    async def _instrument(
        self, query: InstrumentQuery, manifest: Manifest, catalog: Any, result: SymbolFetch
    ) -> dict[str, Any]:
        """The resolved instrument for a query, from the manifest or from IB's contract details."""
        known = manifest.instruments.get(query.key)
        if known is not None and catalog.instruments(instrument_ids=[known["instrument_id"]]):
            return known
        client = await self._connected(result)
        try:
            details = await client.contract_details(query.contract())
        except IBError as exc:
            if exc.code == 200:
                raise InputError(f"{query.symbol}: {exc}") from None
            raise
        if not details:
            raise InputError(f"{query.symbol}: IB returned no contract for this query")
        chosen = details[0]
        instrument = _to_instrument(chosen)
        store_instrument(catalog, instrument)
        c = chosen.contract
        entry = {
            "instrument_id": instrument.id.value,
            "symbol": (c.symbol or query.symbol).upper(),
            "con_id": int(c.conId),
            "sec_type": c.secType,
            "exchange": query.exchange.upper(),
            "primary_exchange": c.primaryExchange,
            "currency": c.currency,
            "local_symbol": c.localSymbol,
            "last_trade_date": c.lastTradeDateOrContractMonth,
            "matches": len(details),
        }
        manifest.instruments[query.key] = entry
        manifest.save()
        return entry

    async def _fetch_one(
        self,
        query: InstrumentQuery,
        result: SymbolFetch,
        manifest: Manifest,
        size: BarSize,
        progress: Callable[[FetchProgress], None] | None,
    ) -> None:
        # Instruments live in the main catalog; all-hours bars in a sub-catalog of their own.
        root = open_catalog(self.catalog_path)
        catalog = root if result.use_rth else open_catalog(self.catalog_path, use_rth=False)
        entry = await self._instrument(query, manifest, root, result)
        result.instrument_id = entry["instrument_id"]
        result.symbol = entry["symbol"]
        series = SeriesKey(entry["instrument_id"], size.name, result.what_to_show, result.use_rth)
        result.source = series.source
        holidays = us_equity_holidays(result.start, result.end)
        early = us_equity_early_closes(result.start, result.end)
        everything: list[RequestWindow] = []
        if result.end > result.start:
            everything = plan_windows(
                result.start,
                result.end,
                size.name,
                holidays=holidays,
                extended_hours=not result.use_rth,
                early_closes=early,
            )
        cached = merge_ranges(manifest.fetched(series))
        windows = [w for w in everything if not _covered(w, cached)]
        if cached and windows:
            # Re-plan over the uncovered parts only, so a half-covered window asks for its rest alone.
            windows = plan_windows(
                result.start,
                result.end,
                size.name,
                cached=cached,
                newest_first=self.newest_first,
                holidays=holidays,
                extended_hours=not result.use_rth,
                early_closes=early,
            )
        elif self.newest_first:
            windows.sort(key=lambda w: w.start, reverse=True)
        result.windows_planned = len(windows)
        result.cached_windows = len(everything) - sum(1 for w in everything if not _covered(w, cached))

        def tell(note: str = "", done: int = 0) -> None:
            if progress is not None:
                progress(
                    FetchProgress(
                        result.symbol,
                        len(windows),
                        done,
                        result.bars_received,
                        result.pacing_waits,
                        result.waited_seconds,
                        note,
                    )
                )

        tell()
        frames: list[pd.DataFrame] = []
        answered: list[Range] = []
        empty: list[Range] = []
        contract = make_contract(
            entry["symbol"],
            sec_type=entry["sec_type"] or query.sec_type,
            exchange=query.exchange,
            currency=entry["currency"] or query.currency,
        )
        contract.conId = entry["con_id"]
        contract.lastTradeDateOrContractMonth = entry.get("last_trade_date") or ""
        bar_type = bar_type_text(series, size)
        try:
            for done, window in enumerate(windows, start=1):
                try:
                    frame = await self._window(contract, window, size, result, tell, done - 1)
                except _Failed as exc:
                    result.failed_windows.append(((window.start, window.end), str(exc)))
                    tell(f"window failed: {exc}", done)
                    continue
                answered.append((window.start, window.end))
                if frame is None:
                    empty.append((window.start, window.end))
                else:
                    frame = frame[(frame.index >= window.start) & (frame.index < window.end)]
                    frames.append(frame)
                    result.bars_received += len(frame)
                tell(done=done)
        finally:
            # Whatever arrived is kept, even when the fetch stops half-way: the next one resumes.
            self._store(frames, answered, empty, series, bar_type, size, (root, catalog), manifest, result)
        self._check(catalog, bar_type, size, (holidays, early), result)

    def _store(
        self,
        frames: list[pd.DataFrame],
        answered: list[Range],
        empty: list[Range],
        series: SeriesKey,
        bar_type: str,
        size: BarSize,
        catalogs: tuple[Any, Any],
        manifest: Manifest,
        result: SymbolFetch,
    ) -> None:
        root, catalog = catalogs
        if frames:
            new = pd.concat(frames).sort_index()
            new = new[~new.index.duplicated(keep="last")]
            if not new.empty:
                instrument = root.instruments(instrument_ids=[series.instrument_id])[0]
                write_catalog_bars(catalog, instrument, bar_type, size, new)
                from ntrader.data.store import write_bars

                result.inserted += write_bars(
                    new, symbol=result.symbol, bar_size=size, source=series.source, url=self.database_url
                )
        result.empty_windows = merge_ranges(empty)
        # Only after the bars are safely stored may the manifest say these windows are done.
        manifest.add(series, answered, empty)
        manifest.save()

    def _check(
        self,
        catalog: Any,
        bar_type: str,
        size: BarSize,
        closed: tuple[frozenset[dt.date], dict[dt.date, dt.time]],
        result: SymbolFetch,
    ) -> None:
        """Load the stored range into the database and list what is still missing."""
        from ntrader.data.store import write_bars

        stored = read_catalog_bars(catalog, bar_type, result.start, result.end)
        # Every fetch loads the whole stored range (ON CONFLICT DO NOTHING): a new or emptied
        # database gets the cached bars without a single request to IB.
        result.inserted += write_bars(
            stored, symbol=result.symbol, bar_size=size, source=result.source, url=self.database_url
        )
        result.bars_stored = len(stored)
        if len(stored):
            result.first, result.last = stored.index[0], stored.index[-1]
        if result.end > result.start:
            holidays, early = closed
            expected = expected_sessions(
                result.start,
                result.end,
                size.name,
                holidays=holidays,
                extended_hours=not result.use_rth,
                early_closes=early,
            )
            result.gaps = find_gaps(expected, pd.DatetimeIndex(stored.index), size.name)

    async def _window(
        self,
        contract: Contract,
        window: RequestWindow,
        size: BarSize,
        result: SymbolFetch,
        tell: Callable[[str, int], None],
        done: int,
    ) -> pd.DataFrame | None:
        """The bars of one window (None when IB has none); retries pacing violations and drops."""
        setting = BAR_SIZE_SETTING[size.name]
        key = historical_key(
            contract.symbol,
            contract.exchange,
            result.what_to_show,
            window.end_datetime_str,
            window.duration_str,
            setting,
            result.use_rth,
        )

        def on_wait(seconds: float) -> None:
            result.pacing_waits += 1
            result.waited_seconds += seconds
            tell(f"pacing: waiting {seconds:.1f} s", done)

        attempts = 0
        while True:
            client = await self._connected(result)
            await self.limiter.acquire(key, on_wait)
            result.requests += 1
            try:
                bars = await client.historical_bars(
                    contract,
                    end=window.end_datetime_str,
                    duration=window.duration_str,
                    bar_size=setting,
                    what_to_show=result.what_to_show,
                    use_rth=result.use_rth,
                )
            except NoData:
                return None
            except PacingViolation as exc:
                attempts += 1
                if attempts > self.max_attempts:
                    raise PacingError(
                        f"{result.symbol}: IB still reports pacing violations after {self.max_attempts} "
                        "retries; wait ten minutes and fetch again (what is stored so far is kept)"
                    ) from exc
                delay = self.limiter.backoff(attempts)
                result.retries += 1
                on_wait(delay)
                await self._sleep(delay)
                continue
            except ConnectionLost:
                result.retries += 1
                tell("connection lost: reconnecting", done)
                continue  # _connected() reconnects, bounded by max_reconnects
            except (RequestTimeout, QueryCancelled) as exc:
                attempts += 1
                result.retries += 1
                if attempts >= 2:
                    raise _Failed(str(exc)) from exc
                continue
            except IBError as exc:
                if exc.code in (200, 354):
                    raise  # the contract or the subscription is wrong: no window will work
                raise _Failed(str(exc)) from exc
            finally:
                self.limiter.release()
            return bars_to_frame(bars)


def _covered(window: RequestWindow, cached: Sequence[Range]) -> bool:
    return any(a <= window.start and window.end <= b for a, b in cached)


def _complete_end(end: pd.Timestamp, size: BarSize, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """``end`` cut back to the last bar that has finished: IB's current bar is still changing.

    A window ending in the future would be answered with a partial bar that the manifest then
    marks as fetched for good.
    """
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    limit = now.floor("D") if size.is_daily else now.floor(f"{int(size.duration.total_seconds())}s")
    return min(end, limit)


def _to_instrument(details: ContractDetails) -> Any:
    """The Nautilus instrument for IB contract details (Nautilus's own parser where it works)."""
    from nautilus_trader.adapters.interactive_brokers.parsing.instruments import (
        contract_details_to_ib_contract_details,
        parse_instrument,
    )
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
    from nautilus_trader.model.instruments import Equity
    from nautilus_trader.model.objects import Currency, Price, Quantity

    contract = details.contract
    venue = contract.primaryExchange or contract.exchange or "SMART"
    try:
        # Nautilus's parser mutates its argument; give it a copy.
        copy = ContractDetails()
        copy.__dict__.update(details.__dict__)
        copy.contract = Contract()
        copy.contract.__dict__.update(contract.__dict__)
        return parse_instrument(contract_details_to_ib_contract_details(copy), venue)
    except Exception:
        if contract.secType != "STK":
            raise InputError(
                f"{contract.symbol}: cannot build an instrument for sec type {contract.secType}"
            ) from None
    # Equities without an ISIN (IB omits it without a data subscription) are still equities.
    tick = float(details.minTick or 0.01)
    precision = max(0, min(9, len(f"{tick:.9f}".rstrip("0").split(".")[1])))
    currency = Currency.from_str(contract.currency) if contract.currency else USD
    return Equity(
        instrument_id=InstrumentId(Symbol(contract.symbol), Venue(venue)),
        raw_symbol=Symbol(contract.localSymbol or contract.symbol),
        currency=currency,
        price_precision=precision,
        price_increment=Price(tick, precision),
        lot_size=Quantity.from_int(1),
        ts_event=0,
        ts_init=0,
    )


def parse_queries(
    symbols: Iterable[str],
    *,
    sec_type: str = "STK",
    exchange: str = "SMART",
    currency: str = "USD",
    con_id: int | None = None,
) -> list[InstrumentQuery]:
    """Queries for symbols given as "AAPL,MSFT" strings or lists; duplicates dropped, order kept."""
    names: list[str] = []
    for item in symbols:
        for part in str(item).split(","):
            name = part.strip().upper()
            if name and name not in names:
                names.append(name)
    if con_id:
        if len(names) > 1:
            raise InputError("--con-id names one contract; give at most one symbol with it")
        return [InstrumentQuery(names[0] if names else str(con_id), sec_type, exchange, currency, con_id)]
    if not names:
        raise InputError("no instruments given; e.g. --instruments AAPL,MSFT")
    make_contract(names[0], sec_type=sec_type)  # validates the sec type before anything connects
    return [InstrumentQuery(n, sec_type.upper(), exchange.upper(), currency.upper()) for n in names]


async def afetch_bars(
    symbols: Iterable[str] | str,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    *,
    bar_size: BarSize | str = "1-DAY",
    what_to_show: str = "TRADES",
    use_rth: bool = True,
    sec_type: str = "STK",
    exchange: str = "SMART",
    currency: str = "USD",
    con_id: int | None = None,
    progress: Callable[[FetchProgress], None] | None = None,
    **service: Any,
) -> FetchReport:
    """``fetch_bars`` for code already inside an event loop."""
    queries = parse_queries(
        [symbols] if isinstance(symbols, str) else symbols,
        sec_type=sec_type,
        exchange=exchange,
        currency=currency,
        con_id=con_id,
    )
    size = parse_bar_size(bar_size) if isinstance(bar_size, str) else bar_size
    period = parse_period(start, end)
    return await FetchService(**service).fetch(
        queries, period, size, what_to_show=what_to_show, use_rth=use_rth, progress=progress
    )


def fetch_bars(
    symbols: Iterable[str] | str,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    *,
    bar_size: BarSize | str = "1-DAY",
    what_to_show: str = "TRADES",
    use_rth: bool = True,
    allow_gaps: bool = False,
    sec_type: str = "STK",
    exchange: str = "SMART",
    currency: str = "USD",
    con_id: int | None = None,
    host: str | None = None,
    port: int | None = None,
    client_id: int | None = None,
    connect_timeout: float | None = None,
    request_timeout: float | None = None,
    rules: PacingRules | None = None,
    catalog_path: str | Path | None = None,
    database_url: str | None = None,
    newest_first: bool = False,
    progress: Callable[[FetchProgress], None] | None = None,
) -> FetchReport:
    """Fetch IB bars for ``symbols`` over [start, end] (dates inclusive, default: the last 365 days).

    Only what IB has not answered before is requested; the bars land in the Parquet catalog and in
    the database (source "ibkr"). Raises DataGapError (exit 4) when bars are missing, unless
    ``allow_gaps``; the report lists the gaps either way.
    """
    report = asyncio.run(
        afetch_bars(
            symbols,
            start,
            end,
            bar_size=bar_size,
            what_to_show=what_to_show,
            use_rth=use_rth,
            sec_type=sec_type,
            exchange=exchange,
            currency=currency,
            con_id=con_id,
            progress=progress,
            host=host,
            port=port,
            client_id=client_id,
            connect_timeout=connect_timeout,
            request_timeout=request_timeout,
            rules=rules,
            catalog_path=catalog_path,
            database_url=database_url,
            newest_first=newest_first,
        )
    )
    if report.gaps and not allow_gaps:
        raise report.gap_error()
    return report
