"""`ntrader data …`: import CSV bars, fetch bars from IB, check the IB connection, list stored bars."""

from __future__ import annotations

import asyncio
from typing import Any

import click
import pandas as pd

from ntrader.cli.options import json_option
from ntrader.cli.progress import FetchBars, WriteBar, announce_read
from ntrader.cli.render import console, echo_json
from ntrader.config import get_settings
from ntrader.data.bars import BAR_SIZE_CHOICES
from ntrader.data.store import EXAMPLE_IMPORT, import_csv, list_stored
from ntrader.errors import GatewayUnavailable, NtraderError
from ntrader.ibkr.client import SEC_TYPES, IBClient
from ntrader.ibkr.errors import troubleshooting
from ntrader.ibkr.fetch import WHAT_TO_SHOW, fetch_bars
from ntrader.ibkr.options import ON_BASIS_CHANGE
from ntrader.ibkr.pacing import PacingRules
from ntrader.reports.tables import (
    fetch_problems,
    fetch_table,
    key_value_table,
    quality_table,
    stored_bars_table,
)

# The seed plan's spellings (--timeframe 1MIN) and ntrader's (--bar-size 1-MINUTE) both work.
TIMEFRAMES = BAR_SIZE_CHOICES


@click.group()
def data() -> None:
    """Import or fetch bars, check the IB connection, list the bars stored in the database."""


def _when(stamp: pd.Timestamp, daily: bool) -> str:
    return stamp.strftime("%Y-%m-%d") if daily else stamp.strftime("%Y-%m-%d %H:%M")


@data.command("import-csv")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--symbol", required=True, help="Ticker the bars belong to, e.g. AAPL.")
@click.option("--bar-size", default="1-DAY", show_default=True, help="1-DAY, 1-HOUR, 5-MINUTE, 1-MINUTE.")
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="Zone of timestamps written without a UTC offset (IANA name, e.g. America/New_York).",
)
@click.option("--source-name", default="csv", show_default=True, help="Stored as the bars' data source.")
@json_option
def import_csv_command(
    file: str, symbol: str, bar_size: str, timezone: str, source_name: str, as_json: bool
) -> None:
    """Check a CSV file of bars and store them (all or nothing; bars already stored are skipped).

    The header needs timestamp,open,high,low,close,volume (any case; other columns are ignored).
    Timestamps are dates (YYYY-MM-DD) or ISO 8601 date-times. Optional: split (4, 4:1 or 4/1 on the
    ex-date row) and dividend (cash per share on the ex-date row), or adj_close (events inferred
    from it); they are stored as events for `backtest run --adjust`.

    \b
    Example:
      ntrader data import-csv examples/data/AAPL.csv --symbol AAPL
    """
    announce_read(file)
    with WriteBar() as progress:
        result = import_csv(
            file,
            symbol=symbol,
            bar_size=bar_size,
            timezone=timezone,
            source=source_name,
            progress=progress,
        )
    if as_json:
        echo_json(result.to_json_dict())
        return
    # Plain echo, not rich: file paths may hold [brackets], and long lines must not be re-wrapped.
    out = click.echo
    daily = result.bar_size == "1-DAY"
    out(
        f"Read {result.rows:,} {result.bar_size} bars for {result.symbol} from {result.file} "
        f"({_when(result.first, daily)} → {_when(result.last, daily)} UTC)."
    )
    for note in result.notes:
        out(f"Note: {note}.")
    if result.inserted == 0:
        out(f"Inserted 0 bars: all {result.rows:,} were already stored (source '{result.source}').")
    elif result.already_stored:
        out(
            f"Inserted {result.inserted:,} new bars; {result.already_stored:,} were already stored "
            f"(source '{result.source}')."
        )
    else:
        out(f"Inserted {result.inserted:,} bars (source '{result.source}').")
    if result.event_source is not None:
        how = "from its split/dividend columns" if result.event_source == "csv" else "inferred from adj_close"
        out(
            f"Events: {result.events} split/dividend event(s) {how}; stored {result.events_inserted} new "
            f"({result.events - result.events_inserted} already stored)."
        )
    if result.quality is not None:
        out(result.quality.summary_line())


@data.command("list")
@click.option("--symbol", help="Only this symbol.")
@json_option
def list_command(symbol: str | None, as_json: bool) -> None:
    """List stored bars: one row per symbol, bar size and source, with first/last bar and count.

    \b
    Example:
      ntrader data list --symbol AAPL
    """
    series = list_stored(symbol)
    if as_json:
        echo_json([s.to_json_dict() for s in series])
    elif not series:
        where = f" for {symbol.upper()}" if symbol else ""
        click.echo(f"No bars stored{where}. Import the bundled example: {EXAMPLE_IMPORT}")
    else:
        console().print(stored_bars_table(series))


@data.command("check")
@click.argument("symbol")
@click.option("--bar-size", default="1-DAY", show_default=True, help="1-DAY, 1-HOUR, 5-MINUTE, 1-MINUTE.")
@click.option("--source", default="csv", show_default=True, help="Data source the bars are stored under.")
@click.option("--start", help="First day, YYYY-MM-DD (default: the first stored bar).")
@click.option("--end", help="Last day, YYYY-MM-DD, inclusive (default: the last stored bar).")
@click.option(
    "--stale-bars",
    type=click.IntRange(min=2),
    default=10,
    show_default=True,
    help="Flag this many bars in a row with the same close.",
)
@click.option(
    "--outlier-sigma",
    type=click.FloatRange(min=1),
    default=15.0,
    show_default=True,
    help="Flag returns beyond this many robust standard deviations.",
)
@click.option(
    "--hours",
    type=click.Choice(["auto", "regular", "extended"]),
    default="auto",
    show_default=True,
    help="Session hours the bars must fall in (auto: extended when the series holds such bars).",
)
@json_option
def check_command(
    symbol: str, bar_size: str, source: str, start: str | None, end: str | None, as_json: bool, **limits: Any
) -> None:
    """Check stored bars against the NYSE calendar: holes, duplicates, stale prices, outliers, splits.

    Exit code 0 when nothing was found, 1 when problems were found (so scripts can gate on it).

    \b
    Example:
      ntrader data check AAPL --bar-size 1-DAY --source csv
    """
    from ntrader.data.check import CheckOptions, check_stored

    report = check_stored(symbol, bar_size, source, start=start, end=end, options=CheckOptions(**limits))
    if as_json:
        echo_json(report.to_json_dict())
    else:
        console().print(quality_table(report))
        click.echo(report.summary_line())
    if not report.clean:
        raise SystemExit(1)


def _mode_for_port(port: int) -> str | None:
    return {7497: "paper", 4002: "paper", 7496: "live", 4001: "live"}.get(port)


def _connection_facts(client: IBClient, mode: str, read_only: bool) -> dict[str, Any]:
    """What the gateway said, and notes when the mode and the port or accounts disagree."""
    info = client.info
    assert info is not None
    notes = []
    expected = _mode_for_port(info.port)
    if expected is not None and expected != mode:
        notes.append(f"port {info.port} is usually the {expected} port, but the mode is {mode}.")
    if mode == "live" and any(a.startswith("DU") for a in info.accounts):
        notes.append("DU… accounts are paper accounts; this looks like a paper session.")
    return {
        "host": info.host,
        "port": info.port,
        "client_id": info.client_id,
        "server_version": info.server_version,
        "connected_at": info.connection_time,
        "accounts": list(info.accounts),
        "mode": mode,
        "read_only": read_only,
        "notes": notes,
    }


@data.command("connect")
@click.option("--host", help="IB Gateway/TWS host (default: IBKR_HOST).")
@click.option("--port", type=int, help="API port: TWS 7497/7496, Gateway 4002/4001 (default: IBKR_PORT).")
@click.option("--client-id", type=int, help="API client id (default: IBKR_CLIENT_ID).")
@click.option(
    "--paper/--live", "paper", default=None, help="Trading mode shown (default: IBKR_TRADING_MODE)."
)
@click.option(
    "--timeout", type=float, help="Seconds to wait for the gateway (default: IBKR_CONNECT_TIMEOUT)."
)
@json_option
def connect_command(
    host: str | None,
    port: int | None,
    client_id: int | None,
    paper: bool | None,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Check that IB Gateway/TWS answers: connect, show what it says, disconnect.

    \b
    Examples:
      ntrader data connect --host 127.0.0.1 --port 4002    # from this machine (docker compose, paper)
      ntrader data connect --host ib-gateway --port 4004   # from a container in the compose network
      ntrader data connect --port 7497                     # TWS desktop, paper
    """
    ib = get_settings().ibkr
    client = IBClient(
        host or ib.host,
        port or ib.port,
        ib.client_id if client_id is None else client_id,
        connect_timeout=ib.connect_timeout if timeout is None else timeout,
        market_data_type=ib.market_data_type,
        messages_per_second=ib.rate_limit,
    )
    mode = ("paper" if paper else "live") if paper is not None else ib.trading_mode

    async def check() -> dict[str, Any]:
        async with client:
            return _connection_facts(client, mode, ib.read_only)

    try:
        facts = asyncio.run(check())
    except GatewayUnavailable as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        if not str(exc).startswith("cannot resolve host"):  # the message says what to do then
            click.echo("Troubleshooting:", err=True)
            for line in troubleshooting(client.host, client.port):
                click.echo(f"  - {line}", err=True)
        raise SystemExit(exc.exit_code) from None
    if as_json:
        echo_json(facts)
        return
    rows = [
        ("Host", facts["host"]),
        ("Port", str(facts["port"])),
        ("Client id", str(facts["client_id"])),
        ("Server version", str(facts["server_version"])),
        ("Connected at", facts["connected_at"] or "–"),
        ("Account(s)", ", ".join(facts["accounts"]) or "–"),
        ("Mode", mode),
        ("Read-only", "yes" if facts["read_only"] else "no"),
    ]
    console().print(key_value_table("IB Gateway/TWS connection", rows))
    for note in facts["notes"]:
        click.echo(f"Note: {note}")


@data.command("fetch")
@click.option("--instruments", "instruments", help="Comma-separated symbols, e.g. AAPL,MSFT.")
@click.option("--symbol", "symbols", multiple=True, help="A symbol (repeatable; same as --instruments).")
@click.option("--start", help="First day, YYYY-MM-DD (default: 365 days before --end).")
@click.option("--end", help="Last day, YYYY-MM-DD, inclusive (default: yesterday).")
@click.option(
    "--timeframe",
    "--bar-size",
    "timeframe",
    type=click.Choice(TIMEFRAMES, case_sensitive=False),
    default="DAILY",
    show_default=True,
    help="Bar size.",
)
@click.option(
    "--what", type=click.Choice(WHAT_TO_SHOW, case_sensitive=False), default="TRADES", show_default=True
)
@click.option(
    "--rth/--all-hours", default=True, show_default=True, help="Regular trading hours only, or all."
)
@click.option("--allow-gaps", is_flag=True, help="Exit 0 even when bars are missing (they are still listed).")
@click.option("--exchange", default="SMART", show_default=True, help="IB exchange of the contract.")
@click.option("--currency", default="USD", show_default=True)
@click.option(
    "--sec-type", type=click.Choice(SEC_TYPES, case_sensitive=False), default="STK", show_default=True
)
@click.option("--con-id", type=int, help="IB contract id (names the contract exactly).")
@click.option(
    "--expiry",
    help="A future's contract month, YYYYMM (or last trading day, YYYYMMDD); "
    "--sec-type CONTFUT (IB's continuous future) takes none.",
)
@click.option("--host", help="IB Gateway/TWS host (default: IBKR_HOST).")
@click.option("--port", type=int, help="API port (default: IBKR_PORT).")
@click.option("--client-id", type=int, help="API client id (default: IBKR_CLIENT_ID).")
@click.option("--newest-first", is_flag=True, help="Request the newest windows first.")
@click.option(
    "--refresh",
    is_flag=True,
    help='Ask again for windows IB answered "no data" before (they are otherwise trusted for a day).',
)
@click.option(
    "--timeout",
    "connect_timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds to wait for IB Gateway/TWS to answer the connection (default: IBKR_CONNECT_TIMEOUT).",
)
@click.option(
    "--pacing-margin",
    type=click.FloatRange(0, 1),
    default=0.05,
    show_default=True,
    help="Safety margin on IB's pacing windows, as a fraction (0.05: ten minutes become 630 s).",
)
@click.option(
    "--events",
    is_flag=True,
    help="Also ask IB's daily ADJUSTED_LAST bars (one request) and store the splits and dividends "
    "they imply (daily stock bars only).",
)
@click.option(
    "--on-basis-change",
    type=click.Choice(ON_BASIS_CHANGE, case_sensitive=False),
    default="refetch",
    show_default=True,
    help="When IB's prices for stored bars changed (a split since): re-fetch the stored series on "
    "the new basis and replace it, or fail and store nothing.",
)
@json_option
def fetch_command(
    instruments: str | None,
    symbols: tuple[str, ...],
    start: str | None,
    end: str | None,
    allow_gaps: bool,
    as_json: bool,
    **contract: Any,
) -> None:
    """Fetch historical bars from IB into the catalog and the database (only what is missing).

    Windows IB answered before (with bars or with "no data") are never requested again. Exit
    code 4 when bars are still missing afterwards, unless --allow-gaps.

    \b
    Example:
      ntrader data fetch --instruments AAPL,MSFT --start 2024-01-01 --end 2024-01-31 --timeframe 1MIN
    """
    names = [*(instruments.split(",") if instruments else []), *symbols]
    ib = get_settings().ibkr
    contract["rules"] = PacingRules(
        max_per_window=ib.max_historical_requests_per_10min, margin=contract.pop("pacing_margin")
    )
    with FetchBars(enabled=not as_json) as progress:
        report = fetch_bars(
            names,
            start,
            end,
            bar_size=contract.pop("timeframe"),
            what_to_show=contract.pop("what").upper(),
            use_rth=contract.pop("rth"),
            allow_gaps=True,  # gaps are judged below, after the table is shown
            progress=progress,
            **contract,  # contract fields, host, port, client_id, newest_first, refresh, timeout, rules
        )
    if as_json:
        echo_json(report.to_json_dict())
    else:
        console().print(fetch_table(report))
        for line in fetch_problems(report):
            click.echo(line)
        for r in report.results:
            for note in r.notes:
                click.echo(note)
    if report.errors:
        raise NtraderError("; ".join(f"{sym}: {why}" for sym, why in report.errors))
    if report.gaps and not allow_gaps:
        raise report.gap_error()
