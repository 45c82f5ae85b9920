"""Fetch IB historical bars: plan windows, pace, retry, resume, store, and report every gap.

For each instrument: resolve it with contract details (once; the manifest remembers), plan request
windows over what IB has not answered before, send them through the pacing limiter, retry pacing
violations with back-off, reconnect after a dropped connection and carry on, then write the new
bars to the Parquet catalog and the database and record the answered windows in the manifest.
Finally the stored bars are compared with the sessions expected, and every missing stretch is
reported: a fetch never ends with a silent gap.

Every knob of a fetch is one ``FetchOptions`` value; ``fetch_bars`` also takes them as keywords.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ntrader.config import get_settings
from ntrader.data.bars import BarSize, empty_bars, parse_bar_size
from ntrader.data.period import Period, parse_period
from ntrader.errors import GatewayUnavailable, InputError, NtraderError, PacingError
from ntrader.ibkr.basis import Overlap, basis_error, plan_overlap, rebase_note, rebase_span
from ntrader.ibkr.catalog import (
    Manifest,
    SeriesKey,
    bar_type_text,
    catalog_lock,
    open_catalog,
    read_catalog_bars,
    store_instrument,
    subtract_ranges,
)
from ntrader.ibkr.client import IBClient
from ntrader.ibkr.errors import AdjustmentChanged, IBError, WindowTooLong
from ntrader.ibkr.events import EventFetch
from ntrader.ibkr.instruments import (
    CONTRACT_FIELDS,
    InstrumentQuery,
    choose_details,
    manifest_entry,
    parse_queries,
    to_instrument,
    what_to_show_for,
)
from ntrader.ibkr.options import WHAT_TO_SHOW, FetchOptions, resolve_options
from ntrader.ibkr.pacing import PacingLimiter, PacingRules, ledger_for
from ntrader.ibkr.planning import closures_for, complete_end, covered, open_ended
from ntrader.ibkr.report import FetchProgress, FetchReport, Range, SymbolFetch
from ntrader.ibkr.requests import WindowFailed
from ntrader.ibkr.series import Collected, SeriesWrites
from ntrader.ibkr.sessions import Closures, us_equity_early_closes, us_equity_holidays
from ntrader.ibkr.windows import (
    MAX_DURATION,
    WINDOW,
    RequestWindow,
    parse_duration,
    plan_windows,
    recut_windows,
)

__all__ = [
    "WHAT_TO_SHOW",
    "FetchOptions",
    "FetchProgress",
    "FetchReport",
    "FetchService",
    "InstrumentQuery",
    "SymbolFetch",
    "afetch_bars",
    "fetch_bars",
    "fetch_missing_bars",
    "parse_queries",
    "us_equity_early_closes",
    "us_equity_holidays",
]

Progress = Callable[[FetchProgress], None]


@dataclass
class _Job:
    """One instrument's fetch in progress: where its bars go and whom to tell."""

    query: InstrumentQuery
    result: SymbolFetch
    manifest: Manifest
    size: BarSize
    progress: Progress | None
    root: Any = None  # the main catalog (instruments live there)
    catalog: Any = None  # where this series' bars live (all-hours bars: a sub-catalog)
    series: SeriesKey | None = None
    bar_type: str = ""
    closures: Closures = dataclasses.field(default_factory=Closures)
    windows_total: int = 0

    def tell(self, note: str = "", done: int = 0, waiting: float = 0.0) -> None:
        if self.progress is not None:
            r = self.result
            self.progress(
                FetchProgress(
                    r.symbol,
                    self.windows_total,
                    done,
                    r.bars_received,
                    r.pacing_waits,
                    r.waited_seconds,
                    note,
                    waiting,
                )
            )


class FetchService(EventFetch, SeriesWrites):
    """Fetches bars for several instruments over one lazily opened, self-healing IB connection.

    ``sleep`` is how back-offs wait; every other knob is in ``options`` (or given as keywords).
    """

    def __init__(
        self,
        options: FetchOptions | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **knobs: Any,
    ) -> None:
        self.options = opts = resolve_options(options, knobs)
        ib = get_settings().ibkr
        self.client = IBClient(
            opts.host or ib.host,
            opts.port or ib.port,
            ib.client_id if opts.client_id is None else opts.client_id,
            connect_timeout=ib.connect_timeout if opts.connect_timeout is None else opts.connect_timeout,
            request_timeout=ib.request_timeout if opts.request_timeout is None else opts.request_timeout,
            market_data_type=ib.market_data_type,
            messages_per_second=ib.rate_limit,
        )
        self.rules = opts.rules or PacingRules(max_per_window=ib.max_historical_requests_per_10min)
        # Pacing is IB's per account: every process fetching from this gateway shares one ledger.
        ledger = ledger_for(get_settings().home, self.client.host, self.client.port)
        self.limiter = PacingLimiter(self.rules, sleep=sleep, ledger=ledger)
        self._sleep = sleep
        self._connects = 0
        self._max_span: dict[str, pd.Timedelta] = {}  # bar size -> a shorter limit a gateway insisted on

    async def close(self) -> None:
        await self.client.disconnect()

    async def fetch(
        self,
        queries: Sequence[InstrumentQuery],
        period: Period,
        bar_size: BarSize,
        *,
        progress: Progress | None = None,
    ) -> FetchReport:
        opts = self.options
        start, end = period.start_ts, complete_end(period.end_ts, bar_size)
        manifest = Manifest.load(opts.catalog_path)
        if opts.max_window is not None:
            cap = parse_duration(opts.max_window)
            self._max_span[bar_size.name] = min(cap, self._max_span.get(bar_size.name, WINDOW[bar_size.name]))
        results = []
        try:
            for query in queries:
                what = what_to_show_for(query, opts.what_to_show)
                result = SymbolFetch(query.symbol.upper(), bar_size.name, what, opts.use_rth, start, end)
                if what != opts.what_to_show:
                    result.notes.append(
                        f"{query.symbol}.{query.currency}: IB has no {opts.what_to_show} bars for "
                        f"forex; asked {what}"
                    )
                results.append(result)
                try:
                    await self._fetch_one(_Job(query, result, manifest, bar_size, progress))
                except (GatewayUnavailable, PacingError):
                    raise  # the whole fetch stops: the next symbol would fail the same way
                except NtraderError as exc:
                    result.error = str(exc)
        finally:
            await self.close()
        return FetchReport(results)

    async def _instrument(self, job: _Job) -> dict[str, Any]:
        """The resolved instrument for a query, from the manifest or from IB's contract details."""
        query, manifest = job.query, job.manifest
        known = manifest.instruments.get(query.key)
        if known is not None and job.root.instruments(instrument_ids=[known["instrument_id"]]):
            return known
        with catalog_lock(self.options.catalog_path):
            manifest.refresh()  # another process may have resolved it meanwhile
            known = manifest.instruments.get(query.key)
            if known is not None and job.root.instruments(instrument_ids=[known["instrument_id"]]):
                return known
        client = await self._connected(job.result)
        try:
            details = await client.contract_details(query.contract())
        except IBError as exc:
            if exc.code == 200:
                raise InputError(str(exc)) from None  # the report names the symbol
            raise
        if not details:
            raise InputError("IB returned no contract for this query")
        chosen = choose_details(query, details)
        instrument = to_instrument(chosen)
        entry = manifest_entry(query, chosen, instrument, len(details))
        with catalog_lock(self.options.catalog_path):
            manifest.refresh()
            store_instrument(job.root, instrument)
            manifest.instruments[query.key] = entry
            manifest.save()
        return entry

    def _plan(self, job: _Job) -> list[RequestWindow]:
        """The windows still to ask IB for: the period's windows less what the manifest covers."""
        result, series = job.result, job.series
        assert series is not None
        if result.end <= result.plan_start:
            return []
        name, span = job.size.name, self._max_span.get(job.size.name)
        plan = functools.partial(
            plan_windows,
            result.plan_start,
            result.end,
            name,
            extended_hours=not result.use_rth,
            closures=job.closures,
        )
        everything = plan(max_span=span)
        cached = self._cached(job)
        windows = [w for w in everything if not covered(w, cached)]
        if cached and windows:
            # Re-plan over the uncovered parts only, so a half-covered window asks for its rest alone.
            windows = plan(cached=cached, max_span=span)
        windows.sort(key=lambda w: w.start, reverse=self.options.newest_first)
        if windows and job.query.sec_type == "CONTFUT":
            windows = [open_ended(windows, result, job.size)]
        # The fewest requests that can cover what is missing: IB's longest accepted windows.
        result.minimum_requests = len(windows) if span is None else len(plan(cached=cached))
        result.cached_windows = len(everything) - sum(1 for w in everything if not covered(w, cached))
        return windows

    def _shorter(
        self, job: _Job, refused: RequestWindow, queue: list[RequestWindow], overlap: Overlap | None
    ) -> tuple[list[RequestWindow], Overlap | None]:
        """The refused window and every later one cut to IB's documented limit; the overlap follows."""
        name = job.size.name
        self._max_span[name] = limit = MAX_DURATION[name]
        cut = functools.partial(
            recut_windows,
            bar_size=name,
            limit=limit,
            closures=job.closures,
            extended_hours=not job.result.use_rth,
        )
        pieces = cut([refused])
        if overlap is not None and overlap.window is refused:
            overlap = overlap.within(pieces)
            if overlap is not None:  # the piece holding the stored day is still asked first
                pieces = [overlap.window, *(p for p in pieces if p is not overlap.window)]
        return [*pieces, *cut(queue)], overlap

    def _cached(self, job: _Job) -> list[Range]:
        """What IB has answered for the series, less the "no data" answers to ask again.

        An empty answer can be transient; it is trusted for ``empty_max_age`` seconds, and not
        at all with ``refresh``.
        """
        assert job.series is not None
        opts = self.options
        max_age = None if opts.refresh else pd.Timedelta(seconds=opts.empty_max_age)
        stale = job.manifest.stale_empty(job.series, pd.Timestamp.now(tz="UTC"), max_age)
        return subtract_ranges(job.manifest.fetched(job.series), stale)

    async def _fetch_one(self, job: _Job) -> None:
        result = job.result
        # Instruments live in the main catalog; all-hours bars in a sub-catalog of their own.
        path = self.options.catalog_path
        job.root = open_catalog(path)
        job.catalog = job.root if result.use_rth else open_catalog(path, use_rth=False)
        entry = await self._instrument(job)
        result.instrument_id = entry["instrument_id"]
        result.symbol = entry["symbol"]
        job.series = SeriesKey(entry["instrument_id"], job.size.name, result.what_to_show, result.use_rth)
        result.source = job.series.source
        job.bar_type = bar_type_text(job.series, job.size)
        job.closures = closures_for(entry, result)
        contract = job.query.resolved_contract(entry)
        windows = self._plan(job)
        if windows:
            # Windows before the symbol's first bar would only ever answer "no data".
            result.first_available = await self._first_available(job, contract)
            if result.first_available is not None and result.first_available > result.start:
                windows = self._plan(job)
        stored = empty_bars()
        if windows:
            with catalog_lock(self.options.catalog_path):
                stored = read_catalog_bars(job.catalog, job.bar_type)
        longest = self._max_span.get(job.size.name, WINDOW[job.size.name])
        windows, overlap = plan_overlap(pd.DatetimeIndex(stored.index), windows, longest)
        result.windows_planned = job.windows_total = len(windows)
        job.tell()
        got = Collected()
        try:
            await self._run_windows(job, contract, windows, (stored, overlap), got)
        except AdjustmentChanged as mismatch:
            if self.options.on_basis_change == "fail":
                raise
            await self._rebase(job, contract, stored, mismatch)
        finally:
            # Whatever arrived is kept, even when the fetch stops half-way: the next one resumes.
            self._store(job, got)
        self._check(job)
        if self.options.events:
            await self._events(job, contract)

    async def _rebase(
        self, job: _Job, contract: Any, stored: pd.DataFrame, mismatch: AdjustmentChanged
    ) -> None:
        """IB's prices changed basis: fetch the whole stored series again and replace it."""
        from ntrader.data.store import stored_range

        result, name = job.result, job.size.name
        in_db = stored_range(result.symbol, job.size, result.source, url=self.options.database_url)
        span = rebase_span(
            pd.DatetimeIndex(stored.index), in_db, (result.plan_start, result.end), job.size.duration
        )
        windows = plan_windows(
            *span,
            name,
            extended_hours=not result.use_rth,
            closures=job.closures,
            max_span=self._max_span.get(name),
        )
        if windows and job.query.sec_type == "CONTFUT":
            windows = [open_ended(windows, result, job.size)]  # IB takes no end date for it
        result.windows_planned = job.windows_total = result.windows_planned + len(windows)
        result.minimum_requests += len(windows)  # the re-fetch is needed too
        got = Collected()
        try:
            await self._run_windows(job, contract, windows, (empty_bars(), None), got)
        finally:
            new = self._replace(job, got, span, mismatch)
        result.notes.append(rebase_note(result.symbol, name, mismatch, new))

    async def _run_windows(
        self,
        job: _Job,
        contract: Any,
        windows: list[RequestWindow],
        join: tuple[pd.DataFrame, Overlap | None],
        got: Collected,
    ) -> None:
        """Ask IB for each window (retrying, cutting refused ones), collecting what arrives in ``got``.

        ``join`` is the stored bars and the window overlapping them: when its prices disagree
        with the stored ones, AdjustmentChanged is raised before anything else is asked.
        """
        result = job.result
        stored, overlap = join
        queue, done = list(windows), 0
        while queue:
            window = queue.pop(0)
            try:
                frame = await self._window(contract, window, job, done)
            except WindowTooLong as exc:
                if window.open_end or window.span <= MAX_DURATION[job.size.name]:  # cannot be cut
                    result.failed_windows.append(((window.start, window.end), str(exc)))
                    done += 1
                    continue
                # This gateway takes less than IB usually does: IB's documented limit from now on.
                queue, overlap = self._shorter(job, window, queue, overlap)
                result.windows_planned = job.windows_total = done + len(queue)
                continue
            except WindowFailed as exc:
                result.failed_windows.append(((window.start, window.end), str(exc)))
                done += 1
                job.tell(f"window failed: {exc}", done)
                continue
            done += 1
            if overlap is not None and window is overlap.window and frame is not None:
                mismatch = basis_error(stored, frame)
                if mismatch is not None:
                    raise mismatch  # asked first: nothing of the new basis is stored
                if overlap.probe_only:
                    continue
                frame = frame[~frame.index.isin(stored.index)]  # the stored day is no news
            got.answered.append((window.start, window.end))
            if frame is None:
                got.empty.append((window.start, window.end))
            else:
                frame = frame[(frame.index >= window.start) & (frame.index < window.end)]
                got.frames.append(frame)
                result.bars_received += len(frame)
            job.tell(done=done)


def _split_knobs(knobs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(contract fields for ``parse_queries``, fetch options) out of one set of keywords."""
    contract = {k: knobs.pop(k) for k in CONTRACT_FIELDS if k in knobs}
    return contract, knobs


async def afetch_bars(
    symbols: Iterable[str] | str,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    *,
    bar_size: BarSize | str = "1-DAY",
    options: FetchOptions | None = None,
    progress: Progress | None = None,
    **knobs: Any,
) -> FetchReport:
    """``fetch_bars`` for code already inside an event loop (never raises for gaps)."""
    contract, rest = _split_knobs(dict(knobs))
    opts = resolve_options(options, rest)
    queries = parse_queries([symbols] if isinstance(symbols, str) else symbols, **contract)
    size = parse_bar_size(bar_size) if isinstance(bar_size, str) else bar_size
    period = parse_period(start, end)
    return await FetchService(opts).fetch(queries, period, size, progress=progress)


def fetch_bars(
    symbols: Iterable[str] | str,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    *,
    bar_size: BarSize | str = "1-DAY",
    options: FetchOptions | None = None,
    progress: Progress | None = None,
    **knobs: Any,
) -> FetchReport:
    """Fetch IB bars for ``symbols`` over [start, end] (dates inclusive, default: the last 365 days).

    Only what IB has not answered before is requested; the bars land in the Parquet catalog and in
    the database (source "ibkr"). Raises DataGapError (exit 4) when bars are missing, unless
    ``allow_gaps``; the report lists the gaps either way. ``knobs`` are the contract fields
    (``sec_type``, ``exchange``, ``currency``, ``con_id``) and any ``FetchOptions`` field
    (``host=``, ``port=``, ``allow_gaps=``, ``database_url=`` ...), applied over ``options``.
    """
    contract, rest = _split_knobs(dict(knobs))
    opts = resolve_options(options, rest)
    report = asyncio.run(
        afetch_bars(symbols, start, end, bar_size=bar_size, options=opts, progress=progress, **contract)
    )
    if report.gaps and not opts.allow_gaps:
        raise report.gap_error()
    return report


def fetch_missing_bars(
    symbol: str, period: Period, bar_size: BarSize, database_url: str | None = None
) -> SymbolFetch:
    """Fetch the part of ``period`` IB has not answered before for one symbol; gaps are reported, not raised.

    What a backtest on IBKR data calls before it loads the stored bars.
    """
    report = fetch_bars(
        symbol, period.start, period.end, bar_size=bar_size, allow_gaps=True, database_url=database_url
    )
    return report.results[0]
