"""`ntrader report …`: read saved runs and sweeps back from the database and show or export them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ntrader.cli.options import RECORD_ID, format_options, json_option
from ntrader.cli.progress import Working
from ntrader.cli.render import console, echo_export, echo_json

if TYPE_CHECKING:
    from ntrader.db.runs import RunRecord
    from ntrader.reports import Recomputed

# Each command imports the part of `ntrader.reports` it uses: `report summary` must not pay for
# pandas, plotly and the exports it never touches. The choices are the library's (tests check).
EXPORT_FORMATS = ("text", "csv", "json", "html")
SWEEP_FORMATS = ("text", "html")
_FORMAT_NAMES = {"text": "text report", "csv": "CSV", "json": "JSON document", "html": "HTML report"}


@click.group()
def report() -> None:
    """Show saved runs and sweeps: metrics, trades, charts."""


def render_summary(record: RunRecord) -> None:
    """The result panel shown after a run and by `report summary`: key facts and every metric."""
    from ntrader.reports.text import summary_panel

    console().print(summary_panel(record))


@report.command("summary")
@click.argument("run_id", type=RECORD_ID)
@json_option
def summary_command(run_id: int, as_json: bool) -> None:
    """Key metrics of a saved run, read from the database (no rerun).

    \b
    Example:
      ntrader report summary 1
    """
    from ntrader.db.runs import get_run

    record = get_run(run_id)
    if as_json:
        echo_json(record.to_json_dict())
        return
    render_summary(record)


@report.command("show")
@click.argument("run_id", type=RECORD_ID)
@click.option("--trades", "with_trades", is_flag=True, help="Also list the trades.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Trades to list with --trades (0: all).",
)
@json_option
def show_command(run_id: int, with_trades: bool, limit: int, as_json: bool) -> None:
    """A saved run in full: settings, every metric grouped, conventions, optionally the trades.

    With --json: the document of `report export --format json` (see `report schema`), every trade.

    \b
    Example:
      ntrader report show 1 --trades --limit 10
    """
    from ntrader.reports import load_report, run_document, run_renderables

    report = load_report(run_id, with_bars=False)
    if as_json:
        echo_json(run_document(report))
        return
    out = console()
    for item in run_renderables(report, trades=with_trades, limit=limit):
        out.print(item)


@report.command("export")
@click.argument("run_id", type=RECORD_ID)
@format_options(
    EXPORT_FORMATS, "text: the full report; csv: the trades; json: run, metrics and trades; html: charts."
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
    with Working(f"Building the {_FORMAT_NAMES[fmt]} of run {run_id}"):
        from ntrader.reports import export_run

        export = export_run(run_id, fmt, output, equity=equity)
    echo_export(export)


@report.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of `report export --format json`.

    \b
    Example:
      ntrader report schema > run-export.schema.json
    """
    from ntrader.reports import RUN_EXPORT_SCHEMA

    click.echo(json.dumps(RUN_EXPORT_SCHEMA, indent=2, ensure_ascii=False))


@report.command("recompute")
@click.argument("run_ids", nargs=-1, type=RECORD_ID)
@click.option("--all", "all_runs", is_flag=True, help="Every saved run.")
@click.option("--risk-free-rate", type=float, help="Annual rate, e.g. 0.04 (default: each run's own).")
@click.option("--dry-run", is_flag=True, help="Say what would change, save nothing.")
@json_option
def recompute_command(
    run_ids: tuple[int, ...], all_runs: bool, risk_free_rate: float | None, dry_run: bool, as_json: bool
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
    from ntrader.reports import recompute_runs

    results = recompute_runs(None if all_runs else run_ids, risk_free_rate=risk_free_rate, dry_run=dry_run)
    if as_json:
        echo_json(
            [
                {"run_id": r.run_id, "changed": r.changed, "error": r.error, "saved": not dry_run}
                for r in results
            ]
        )
    else:
        _print_recomputed(results, dry_run)
    if any(not r.ok for r in results):
        raise click.exceptions.Exit(1)


def _print_recomputed(results: list[Recomputed], dry_run: bool) -> None:
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


@report.command("sweep")
@click.argument("sweep_id", type=RECORD_ID)
@format_options(
    SWEEP_FORMATS,
    "text: the ranked table; html: table and, for two-parameter grids, a heatmap.",
    "$NTRADER_HOME/reports/sweep-<id>.html",
)
@json_option
def sweep_command(sweep_id: int, fmt: str, output: Path | None, as_json: bool) -> None:
    """A saved sweep: ranked table with screened and confirmed figures; HTML adds a heatmap.

    \b
    Examples:
      ntrader report sweep 1
      ntrader report sweep 1 --format html -o sweep.html
      ntrader report sweep 1 --json
    """
    if as_json:
        from ntrader.db.sweeps import get_sweep

        echo_json(get_sweep(sweep_id).to_json_dict())
        return
    with Working(f"Building the {_FORMAT_NAMES[fmt]} of sweep {sweep_id}"):
        from ntrader.reports.sweep import export_sweep  # plotly, for the heatmap

        export = export_sweep(sweep_id, fmt, output)
    echo_export(export)


@report.command("validate")
@click.argument("run_id", type=RECORD_ID, required=False)
@click.option("--sweep", "sweep_id", type=RECORD_ID, help="A saved sweep instead of a run.")
@click.option(
    "--monte-carlo",
    "samples",
    type=click.IntRange(min=100, max=100_000),
    help="Monte Carlo samples (default: what is stored, else 2000); a new number recomputes and saves.",
)
@json_option
def validate_command(run_id: int | None, sweep_id: int | None, samples: int | None, as_json: bool) -> None:
    """Is this edge real? A run's PSR and Monte Carlo block, or a sweep's overfitting gate.

    \b
    Examples:
      ntrader report validate 12
      ntrader report validate 12 --monte-carlo 5000
      ntrader report validate --sweep 3 --json
    """
    if (run_id is None) == (sweep_id is None):
        raise click.UsageError("give a RUN_ID or --sweep ID (one of them)")
    what = f"sweep {sweep_id}" if sweep_id is not None else f"run {run_id}"
    with Working(f"Validating {what}", enabled=not as_json):
        from ntrader.reports.validation import run_validation_lines, validate_run, validate_sweep

        result = validate_sweep(sweep_id, samples=samples) if sweep_id is not None else None
        block = validate_run(run_id, samples=samples) if run_id is not None else None
    if sweep_id is not None:
        assert result is not None
        if as_json:
            echo_json(result)
            return
        from ntrader.db.sweeps import get_sweep
        from ntrader.reports.sweep import render_sweep_text

        record = get_sweep(sweep_id)
        click.echo(render_sweep_text(record, width=console().width, full_validation=True), nl=False)
        if result["best_run"] is not None:
            click.echo("\n".join(run_validation_lines(result["best_run"])))
        return
    assert block is not None
    if as_json:
        echo_json(block)
        return
    click.echo("\n".join(run_validation_lines(block)))


@report.command("sweeps")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@json_option
def sweeps_command(limit: int, as_json: bool) -> None:
    """List saved sweeps, newest first: what was swept, how many combinations, the best one.

    \b
    Example:
      ntrader report sweeps --limit 5
    """
    from ntrader.db.sweeps import list_sweeps
    from ntrader.reports.tables import sweep_summary, sweeps_table

    sweeps = list_sweeps(limit=limit)
    if as_json:
        echo_json([sweep_summary(s) for s in sweeps])
    elif not sweeps:
        click.echo("No saved sweeps yet. See: ntrader backtest sweep --help")
    else:
        console().print(sweeps_table(sweeps))
