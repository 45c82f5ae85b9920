"""`ntrader report …`: read a saved run back from the database and show it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ntrader.cli.render import console, echo_json
from ntrader.db.runs import RunRecord, get_run
from ntrader.reports import (
    COMPARE_FORMATS,
    EXPORT_FORMATS,
    RUN_EXPORT_SCHEMA,
    export_comparison,
    export_run,
    load_report,
    recompute_runs,
    run_renderables,
    summary_panel,
)


@click.group()
def report() -> None:
    """Show saved runs: metrics, trades, charts."""


def render_summary(record: RunRecord) -> None:
    """The result panel shown after a run and by `report summary`: key facts and every metric."""
    console().print(summary_panel(record))


@report.command("summary")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the stored run as JSON.")
def summary_command(run_id: int, as_json: bool) -> None:
    """Key metrics of a saved run, read from the database (no rerun).

    \b
    Example:
      ntrader report summary 1
    """
    record = get_run(run_id)
    if as_json:
        echo_json(record.to_json_dict())
        return
    render_summary(record)


@report.command("show")
@click.argument("run_id", type=int)
@click.option("--trades", "with_trades", is_flag=True, help="Also list the trades.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Trades to list with --trades (0: all).",
)
def show_command(run_id: int, with_trades: bool, limit: int) -> None:
    """A saved run in full: settings, every metric grouped, conventions, optionally the trades.

    \b
    Example:
      ntrader report show 1 --trades --limit 10
    """
    out = console()
    for item in run_renderables(load_report(run_id, with_bars=False), trades=with_trades, limit=limit):
        out.print(item)


@report.command("export")
@click.argument("run_id", type=int)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS, case_sensitive=False),
    default="text",
    show_default=True,
    help="text: the full report; csv: the trades; json: run, metrics and trades; html: charts.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=True, path_type=Path),
    help="File (or existing directory) to write. Default: stdout; html: $NTRADER_HOME/reports.",
)
@click.option("--equity", is_flag=True, help="csv: the equity curve instead of trades; json: add it.")
def export_command(run_id: int, fmt: str, output: Path | None, equity: bool) -> None:
    """Export a saved run as text, CSV, JSON or a self-contained HTML report.

    The JSON layout is documented by `ntrader report schema` (it carries "schema_version").

    \b
    Examples:
      ntrader report export 1 --format html
      ntrader report export 1 --format csv -o trades.csv
      ntrader report export 1 --format json --equity > run-1.json
    """
    export = export_run(run_id, fmt, output, equity=equity)
    if export.path is None:
        click.echo(export.content or "", nl=False)
    else:
        click.echo(f"Wrote {export.path}")


@report.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of `report export --format json`.

    \b
    Example:
      ntrader report schema > run-export.schema.json
    """
    click.echo(json.dumps(RUN_EXPORT_SCHEMA, indent=2, ensure_ascii=False))


@report.command("recompute")
@click.argument("run_ids", nargs=-1, type=int)
@click.option("--all", "all_runs", is_flag=True, help="Every saved run.")
@click.option("--risk-free-rate", type=float, help="Annual rate, e.g. 0.04 (default: each run's own).")
@click.option("--dry-run", is_flag=True, help="Say what would change, save nothing.")
def recompute_command(
    run_ids: tuple[int, ...], all_runs: bool, risk_free_rate: float | None, dry_run: bool
) -> None:
    """Recompute metrics from the stored equity curve and trades (no rerun) and save them.

    Brings runs saved by an older ntrader up to the current metrics and JSON layout.

    \b
    Examples:
      ntrader report recompute 3
      ntrader report recompute --all --dry-run
    """
    if bool(run_ids) == all_runs:
        raise click.UsageError("give run ids or --all (not both)")
    results = recompute_runs(None if all_runs else run_ids, risk_free_rate=risk_free_rate, dry_run=dry_run)
    verb = "would change" if dry_run else "updated"
    for result in results:
        if result.error:
            click.echo(f"Run {result.run_id}: skipped: {result.error}")
        elif result.changed:
            names = ", ".join(result.changed[:6]) + (", …" if len(result.changed) > 6 else "")
            click.echo(f"Run {result.run_id}: {len(result.changed)} figure(s) {verb} ({names})")
        else:
            click.echo(f"Run {result.run_id}: up to date")
    if not results:
        click.echo("No saved runs.")
    if any(not r.ok for r in results):
        raise click.exceptions.Exit(1)


@click.command("compare")
@click.argument("run_ids", nargs=-1, required=True, type=int)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(COMPARE_FORMATS, case_sensitive=False),
    default="text",
    show_default=True,
    help="text: a table; html: table and overlaid equity curves.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=True, path_type=Path),
    help="File (or existing directory) to write. Default: stdout; html: $NTRADER_HOME/reports.",
)
def compare_command(run_ids: tuple[int, ...], fmt: str, output: Path | None) -> None:
    """Compare saved runs: every metric side by side, equity curves overlaid (start = 1).

    \b
    Examples:
      ntrader backtest compare 1 2 3
      ntrader backtest compare 1 2 --format html
    """
    export = export_comparison(run_ids, fmt, output)
    if export.path is None:
        click.echo(export.content or "", nl=False)
    else:
        click.echo(f"Wrote {export.path}")
