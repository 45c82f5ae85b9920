"""`ntrader data …`: import CSV bars into the database and list what is stored."""

from __future__ import annotations

from types import TracebackType

import click
import pandas as pd
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ntrader.cli.render import console, echo_json, err_console
from ntrader.data.store import EXAMPLE_IMPORT, StoredSeries, import_csv, list_stored

PROGRESS_MIN_ROWS = 100_000


@click.group()
def data() -> None:
    """Import bars and list the bars stored in the database."""


class _WriteProgress:
    """A progress bar on stderr, shown only once a write turns out to be large."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if total < PROGRESS_MIN_ROWS:
            return
        if self._bar is None:
            self._bar = Progress(
                TextColumn("Writing bars"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err_console(),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("write", total=total)
        assert self._task is not None
        self._bar.update(self._task, completed=done)

    def __enter__(self) -> _WriteProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()


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
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def import_csv_command(
    file: str, symbol: str, bar_size: str, timezone: str, source_name: str, as_json: bool
) -> None:
    """Check a CSV file of bars and store them (all or nothing; bars already stored are skipped).

    The header needs timestamp,open,high,low,close,volume (any case; other columns are ignored).
    Timestamps are dates (YYYY-MM-DD) or ISO 8601 date-times.

    \b
    Example:
      ntrader data import-csv examples/data/AAPL.csv --symbol AAPL
    """
    with _WriteProgress() as progress:
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


@data.command("list")
@click.option("--symbol", help="Only this symbol.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(symbol: str | None, as_json: bool) -> None:
    """List stored bars: one row per symbol, bar size and source, with first/last bar and count.

    \b
    Example:
      ntrader data list --symbol AAPL
    """
    series = list_stored(symbol)
    if as_json:
        echo_json([s.to_json_dict() for s in series])
        return
    if not series:
        where = f" for {symbol.upper()}" if symbol else ""
        click.echo(f"No bars stored{where}. Import the bundled example: {EXAMPLE_IMPORT}")
        return
    console().print(_table(series))


def _table(series: list[StoredSeries]) -> Table:
    table = Table(title="Stored bars (UTC)", title_justify="left")
    for column in ("Symbol", "Bar size", "Source", "First", "Last", "Bars"):
        table.add_column(column, justify="right" if column == "Bars" else "left")
    for s in series:
        daily = s.bar_size == "1-DAY"
        table.add_row(
            s.symbol, s.bar_size, s.source, _when(s.first, daily), _when(s.last, daily), f"{s.rows:,}"
        )
    return table
