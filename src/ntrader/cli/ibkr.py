"""`ntrader data connect`, `ntrader data fetch` and `ntrader ibkr fake-gateway`: IB from the shell."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import click
import pandas as pd
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from ntrader.cli.render import console, echo_json, err_console
from ntrader.config import get_settings
from ntrader.data.bars import BAR_SIZE_CHOICES
from ntrader.errors import GatewayUnavailable, NtraderError
from ntrader.ibkr.client import SEC_TYPES, IBClient
from ntrader.ibkr.errors import troubleshooting
from ntrader.ibkr.fetch import WHAT_TO_SHOW, FetchProgress, FetchReport, fetch_bars

# The seed plan's spellings (--timeframe 1MIN) and ntrader's (--bar-size 1-MINUTE) both work.
TIMEFRAMES = BAR_SIZE_CHOICES


def _mode_for_port(port: int) -> str | None:
    return {7497: "paper", 4002: "paper", 7496: "live", 4001: "live"}.get(port)


@click.command("connect")
@click.option("--host", help="IB Gateway/TWS host (default: IBKR_HOST).")
@click.option("--port", type=int, help="API port: TWS 7497/7496, Gateway 4002/4001 (default: IBKR_PORT).")
@click.option("--client-id", type=int, help="API client id (default: IBKR_CLIENT_ID).")
@click.option(
    "--paper/--live", "paper", default=None, help="Trading mode shown (default: IBKR_TRADING_MODE)."
)
@click.option(
    "--timeout", type=float, help="Seconds to wait for the gateway (default: IBKR_CONNECT_TIMEOUT)."
)
def connect_command(
    host: str | None, port: int | None, client_id: int | None, paper: bool | None, timeout: float | None
) -> None:
    """Check that IB Gateway/TWS answers: connect, show what it says, disconnect.

    \b
    Example:
      ntrader data connect --host ib-gateway --port 4002
    """
    ib = get_settings().ibkr
    client = IBClient(
        host or ib.host,
        port or ib.port,
        ib.client_id if client_id is None else client_id,
        connect_timeout=ib.connect_timeout if timeout is None else timeout,
    )
    mode = ("paper" if paper else "live") if paper is not None else ib.trading_mode

    async def check() -> None:
        async with client:
            info = client.info
            assert info is not None
            table = Table(title="IB Gateway/TWS connection", title_justify="left", show_header=False)
            table.add_column("Field")
            table.add_column("Value")
            rows = [
                ("Host", info.host),
                ("Port", str(info.port)),
                ("Client id", str(info.client_id)),
                ("Server version", str(info.server_version)),
                ("Connected at", info.connection_time or "–"),
                ("Account(s)", ", ".join(info.accounts) or "–"),
                ("Mode", mode),
                ("Read-only", "yes" if ib.read_only else "no"),
            ]
            for name, value in rows:
                table.add_row(name, value)
            console().print(table)
            expected = _mode_for_port(info.port)
            if expected is not None and expected != mode:
                click.echo(f"Note: port {info.port} is usually the {expected} port, but the mode is {mode}.")
            if mode == "live" and any(a.startswith("DU") for a in info.accounts):
                click.echo("Note: DU… accounts are paper accounts; this looks like a paper session.")

    try:
        asyncio.run(check())
    except GatewayUnavailable as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        click.echo("Troubleshooting:", err=True)
        for line in troubleshooting(client.host, client.port):
            click.echo(f"  - {line}", err=True)
        raise SystemExit(exc.exit_code) from None


class _FetchProgress:
    """One rich progress bar per symbol on stderr: windows done, bars, pacing waits."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Progress | None = None
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, event: FetchProgress) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = Progress(
                TextColumn("{task.fields[symbol]:<8}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("windows · {task.fields[bars]:>7,} bars · {task.fields[waits]} pacing waits"),
                TextColumn("{task.fields[note]}"),
                console=err_console(),
            )
            self.bar.start()
        fields: dict[str, Any] = {"bars": event.bars, "waits": event.pacing_waits, "note": event.note}
        task = self.tasks.get(event.symbol)
        if task is None:
            task = self.bar.add_task(
                event.symbol, total=event.windows_total or 1, symbol=event.symbol, **fields
            )
            self.tasks[event.symbol] = task
        done = event.windows_done if event.windows_total else 1
        self.bar.update(task, total=event.windows_total or 1, completed=done, **fields)

    def __enter__(self) -> _FetchProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.bar is not None:
            self.bar.stop()


def _when(stamp: pd.Timestamp | None, daily: bool) -> str:
    if stamp is None:
        return "–"
    return stamp.strftime("%Y-%m-%d") if daily else stamp.strftime("%Y-%m-%d %H:%M")


def _report_table(report: FetchReport) -> Table:
    table = Table(title="IBKR fetch (UTC)", title_justify="left")
    for column in ("Symbol", "Bar size", "Bars", "Range", "Requests", "Cached windows", "Gaps"):
        table.add_column(
            column, justify="right" if column in {"Bars", "Requests", "Cached windows", "Gaps"} else "left"
        )
    for r in report.results:
        daily = r.bar_size == "1-DAY"
        span = f"{_when(r.first, daily)} → {_when(r.last, daily)}" if r.first is not None else "–"
        table.add_row(
            r.symbol,
            r.bar_size,
            f"{r.bars_stored:,}",
            span if not r.error else f"error: {r.error}",
            str(r.requests),
            str(r.cached_windows),
            str(len(r.gaps)),
        )
    return table


@click.command("fetch")
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
@click.option("--host", help="IB Gateway/TWS host (default: IBKR_HOST).")
@click.option("--port", type=int, help="API port (default: IBKR_PORT).")
@click.option("--client-id", type=int, help="API client id (default: IBKR_CLIENT_ID).")
@click.option("--newest-first", is_flag=True, help="Request the newest windows first.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def fetch_command(
    instruments: str | None,
    symbols: tuple[str, ...],
    start: str | None,
    end: str | None,
    timeframe: str,
    what: str,
    rth: bool,
    allow_gaps: bool,
    exchange: str,
    currency: str,
    sec_type: str,
    con_id: int | None,
    host: str | None,
    port: int | None,
    client_id: int | None,
    newest_first: bool,
    as_json: bool,
) -> None:
    """Fetch historical bars from IB into the catalog and the database (only what is missing).

    Windows IB answered before (with bars or with "no data") are never requested again. Exit
    code 4 when bars are still missing afterwards, unless --allow-gaps.

    \b
    Example:
      ntrader data fetch --instruments AAPL,MSFT --start 2024-01-01 --end 2024-01-31 --timeframe 1MIN
    """
    names = [*(instruments.split(",") if instruments else []), *symbols]
    with _FetchProgress(enabled=not as_json) as progress:
        report = fetch_bars(
            names,
            start,
            end,
            bar_size=timeframe,
            what_to_show=what.upper(),
            use_rth=rth,
            allow_gaps=True,  # gaps are judged below, after the table is shown
            sec_type=sec_type,
            exchange=exchange,
            currency=currency,
            con_id=con_id,
            host=host,
            port=port,
            client_id=client_id,
            newest_first=newest_first,
            progress=progress,
        )
    if as_json:
        echo_json(report.to_json_dict())
    else:
        console().print(_report_table(report))
        for r in report.results:
            for (a, b), why in r.failed_windows:
                click.echo(f"{r.symbol}: window {a:%Y-%m-%d %H:%M} → {b:%Y-%m-%d %H:%M} failed: {why}")
            for a, b in r.gaps:
                empty = any(x <= a and b <= y for x, y in r.empty_windows)
                why = " (IB: no data)" if empty else ""
                click.echo(f"{r.symbol}: missing {a:%Y-%m-%d %H:%M} → {b:%Y-%m-%d %H:%M}{why}")
    if report.errors:
        raise NtraderError("; ".join(f"{sym}: {why}" for sym, why in report.errors))
    if report.gaps and not allow_gaps:
        raise report.gap_error()


@click.group()
def ibkr() -> None:
    """Interactive Brokers helpers: a fake gateway to try ntrader without an account."""


@ibkr.command("fake-gateway")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=4002, show_default=True)
@click.option(
    "--symbols", default="AAPL,MSFT,SPY", show_default=True, help="Comma-separated symbols it knows."
)
def fake_gateway_command(host: str, port: int, symbols: str) -> None:
    """Run a fake IB Gateway (the real TWS API protocol, synthetic bars) until Ctrl-C.

    \b
    Example:
      ntrader ibkr fake-gateway --port 4002 &
      ntrader data fetch --port 4002 --instruments AAPL --start 2024-01-01 --end 2024-01-31
    """
    from ntrader.ibkr.fake_gateway import FakeGateway

    names = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    gateway = FakeGateway(host=host, port=port, symbols=names)

    async def serve() -> None:
        try:
            await gateway.start()
        except OSError as exc:
            raise GatewayUnavailable(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        click.echo(
            f"Fake IB Gateway listening on {host}:{gateway.port} (symbols: {', '.join(names)}; "
            f"account {', '.join(gateway.accounts)}). Ctrl-C to stop."
        )
        try:
            await asyncio.Event().wait()  # the server runs on this loop until Ctrl-C cancels it
        finally:
            await gateway.aclose()

    try:
        asyncio.run(serve())
    except (KeyboardInterrupt, asyncio.CancelledError):
        click.echo("Stopped.")
