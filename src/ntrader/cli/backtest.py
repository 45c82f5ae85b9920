"""`ntrader backtest …`: run strategies, sweep and walk forward, list, compare and delete saved runs."""

from __future__ import annotations

from pathlib import Path

import click

from ntrader.backtest.choices import ENGINES, RAY_ADDRESS_ENV
from ntrader.cli.options import (
    RECORD_ID,
    GridOptions,
    MarketOptions,
    format_options,
    grid_options,
    json_option,
    market_options,
    verbose_option,
)
from ntrader.cli.progress import PhaseBars, RunProgress, phase_progress
from ntrader.cli.render import console, echo_export, echo_json
from ntrader.errors import RunHalted

#: `backtest compare --format` choices (ntrader.reports.compare.COMPARE_FORMATS; a test checks):
#: the reports load only when a comparison is made.
COMPARE_FORMATS = ("text", "html")

REPORT_OPTION = click.option(
    "--report",
    "report_format",
    type=click.Choice(["html"], case_sensitive=False),
    help="Also write a report: html → $NTRADER_HOME/reports/run-<id>.html.",
)


@click.group()
def backtest() -> None:
    """Run backtests, sweeps and walk-forward tests; list, compare and delete their saved results."""


@backtest.command("run")
@market_options
@click.option(
    "--benchmark",
    metavar="SYMBOL",
    help="Several symbols: also compare with this symbol's closes (alpha, beta), from the same source.",
)
@json_option
@verbose_option
@REPORT_OPTION
def run_command(
    market: MarketOptions, benchmark: str | None, as_json: bool, verbose: bool, report_format: str | None
) -> None:
    """Backtest a strategy on one symbol, or on several on one account, and save the run.

    \b
    Several symbols (--symbol AAPL,MSFT,SPY): a single-symbol strategy runs once per symbol on the
    shared cash (basket mode, see --allocation); a portfolio strategy (rotation, rebalance or
    yours) sees them all. Each symbol trades on its own bars; the account is marked at each
    symbol's last known close.

    \b
    Examples:
      ntrader backtest run --strategy sma --symbol AAPL --start 2023-01-01 --end 2023-12-31 \\
          --param fast_period=5 --param slow_period=30
      ntrader backtest run --strategy rotation --symbol SPY,QQQ,IWM,EFA,TLT,GLD \\
          --param top=2 --param lookback=126 --param rebalance=monthly
      ntrader backtest run --strategy rebalance --symbol SPY,TLT \\
          --param weights=SPY:0.6,TLT:0.4 --param rebalance=quarterly
    """
    from ntrader.backtest import run_backtest

    title = f"{market.strategy} on {market.symbol.upper().replace(' ', '')}"
    options = market.keywords()
    if benchmark:
        options["benchmark"] = benchmark
    with RunProgress(title, enabled=not (as_json or verbose)) as progress:
        outcome = run_backtest(
            market.strategy,
            market.symbol,
            market.start,
            market.end,
            verbose=verbose,
            progress=progress,
            **options,
        )
    _present(outcome.run_id, as_json, report_format)


def _present(run_id: int | None, as_json: bool, report_format: str | None) -> None:
    """Show a saved run as `backtest run` does: the summary panel or JSON, plus the report path;
    a run that did not complete ends with one red line and exit code 5."""
    from ntrader.db.runs import get_run
    from ntrader.reports import summary_panel, write_run_html

    assert run_id is not None
    record = get_run(run_id)
    report_path = write_run_html(record.id) if report_format else None
    if as_json:
        echo_json(record.to_json_dict())
    else:
        console().print(summary_panel(record))
    if report_path is not None:
        # On stderr with --json, so stdout stays one JSON document.
        click.echo(f"Report: {report_path}", err=as_json)
    if record.status != "completed":
        halt = record.settings.get("halt") or {}
        at = f" at {halt['at']}" if halt.get("at") else ""
        raise RunHalted(
            f"run #{record.id} {record.status}{at}: {halt.get('reason', 'see the run settings')}; "
            "its figures cover only the bars before that"
        )


@backtest.command("run-config")
@click.argument("config_file", type=click.Path(dir_okay=False))
@json_option
@verbose_option
@REPORT_OPTION
def run_config_command(config_file: str, as_json: bool, verbose: bool, report_format: str | None) -> None:
    """Run the backtest a YAML config file describes, and save it.

    \b
    Fields: strategy, params, symbol, start, end, data_source (mock|csv|ibkr), bar_size,
    capital, commission, fill_at (close|next-open), liquidity (bar-volume|unlimited),
    adjust (raw|splits|total-return), csv_file (relative to the config file), no_fetch.

    \b
    Example:
      ntrader backtest run-config examples/configs/sma.yaml
    """
    from ntrader.backtest import run_backtest
    from ntrader.backtest.config_file import load_run_config

    config = load_run_config(config_file)
    title = f"{config.strategy} on {config.symbol}"
    with RunProgress(title, enabled=not (as_json or verbose)) as progress:
        outcome = run_backtest(config.to_request(), verbose=verbose, progress=progress)
    _present(outcome.run_id, as_json, report_format)


@backtest.command("list-results")
@click.option("--strategy", help="Only runs of this strategy.")
@click.option("--symbol", help="Only runs on this symbol.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@json_option
def list_results_command(strategy: str | None, symbol: str | None, limit: int, as_json: bool) -> None:
    """List saved runs, newest first.

    \b
    Example:
      ntrader backtest list-results --strategy sma --limit 5
    """
    from ntrader.db.runs import list_runs
    from ntrader.reports.tables import runs_table

    name = None
    if strategy:  # resolving a name loads the strategies (and Nautilus): only when filtering
        from ntrader.strategies import get_strategy

        name = get_strategy(strategy).name
    runs = list_runs(strategy=name, symbol=symbol, limit=limit)
    if as_json:
        echo_json([r.to_json_dict() for r in runs])
    elif not runs:
        console().print("No saved runs yet. Try: ntrader backtest run --strategy sma --symbol AAPL")
    else:
        console().print(runs_table(runs))


@backtest.command("compare")
@click.argument("run_ids", nargs=-1, required=True, type=RECORD_ID)
@format_options(COMPARE_FORMATS, "text: a table; html: table and overlaid equity curves.")
@json_option
def compare_command(run_ids: tuple[int, ...], fmt: str, output: Path | None, as_json: bool) -> None:
    """Compare saved runs: every metric side by side, equity curves overlaid (start = 1).

    \b
    Examples:
      ntrader backtest compare 1 2 3
      ntrader backtest compare 1 2 --format html
      ntrader backtest compare 1 2 --json
    """
    from ntrader.reports import compare_runs, comparison_document, export_comparison

    if as_json:
        echo_json(comparison_document(compare_runs(run_ids)))
        return
    export = export_comparison(run_ids, fmt, output)
    echo_export(export)


@backtest.command("sweep")
@market_options
@grid_options
@click.option(
    "--top", type=click.IntRange(min=0), default=10, show_default=True, help="Combinations to confirm."
)
@click.option(
    "--confirm/--no-confirm",
    default=True,
    show_default=True,
    help="Rerun the top combinations in Nautilus and save them as runs.",
)
@click.option(
    "--engine",
    type=click.Choice(ENGINES, case_sensitive=False),
    default="vector",
    show_default=True,
    help="vector: screen with the vector engine; nautilus: every combination in Nautilus (any strategy).",
)
@click.option(
    "--workers", type=click.IntRange(min=1), help="Processes for Nautilus runs (default: number of cores)."
)
@click.option(
    "--ray",
    "ray_address",
    metavar="auto|ADDRESS",
    help=f"Send the Nautilus runs to a Ray cluster (default: ${RAY_ADDRESS_ENV}; needs ntrader[ray]).",
)
@click.option(
    "--trials-from-history",
    is_flag=True,
    help="Count the trials of earlier sweeps of this strategy on the same bars and period in the DSR.",
    # Kept in the context, not passed: the command already takes eight parameters.
    expose_value=False,
    callback=lambda ctx, _param, value: ctx.meta.__setitem__("trials_from_history", value),
)
@json_option
def sweep_command(
    market: MarketOptions,
    grid: GridOptions,
    top: int,
    confirm: bool,
    engine: str,
    workers: int | None,
    ray_address: str | None,
    as_json: bool,
) -> None:
    """Screen a parameter grid, confirm the best in Nautilus, save the sweep and the confirmed runs.

    \b
    Example:
      ntrader backtest sweep --strategy sma --symbol AAPL --start 2020-01-01 --end 2023-12-31 \\
          --grid fast_period=5:50:5 --grid slow_period=20:200:10 \\
          --constraint "fast_period < slow_period" --metric sharpe --top 5
    """
    with phase_progress(enabled=not as_json) as progress:
        phases = PhaseBars(progress).loading()  # before the imports: Nautilus alone takes ~1.5 s
        from ntrader.backtest.sweep import run_sweep

        outcome = run_sweep(
            market.strategy,
            market.symbol,
            market.start,
            market.end,
            grid=grid.grids,
            constraints=grid.constraints,
            metric=grid.metric,
            top=top,
            confirm=confirm,
            engine=engine,
            workers=workers,
            ray_address=ray_address,
            trials_from_history=click.get_current_context().meta.get("trials_from_history", False),
            progress=phases,
            **market.keywords(),
        )
    from ntrader.db.sweeps import get_sweep
    from ntrader.reports.sweep import render_sweep_text

    assert outcome.sweep_id is not None
    record = get_sweep(outcome.sweep_id)
    if as_json:
        echo_json({**record.to_json_dict(), "validation": outcome.validation})
        return
    click.echo(render_sweep_text(record, width=console().width, limit=max(top, 20)), nl=False)
    click.echo(
        f"Saved sweep {outcome.sweep_id}; see `ntrader report sweep {outcome.sweep_id} --format html`."
    )


@backtest.command("walk-forward")
@market_options
@grid_options
@click.option(
    "--train", type=click.IntRange(min=2), default=252, show_default=True, help="In-sample bars per fold."
)
@click.option(
    "--test", type=click.IntRange(min=1), default=63, show_default=True, help="Out-of-sample bars per fold."
)
@json_option
def walk_forward_command(
    market: MarketOptions, grid: GridOptions, train: int, test: int, as_json: bool
) -> None:
    """Optimise on rolling in-sample windows, trade each next window out of sample, save the stitched run.

    \b
    Example:
      ntrader backtest walk-forward --strategy sma --symbol AAPL --start 2018-01-01 --end 2023-12-31 \\
          --grid fast_period=5:30:5 --grid slow_period=40:200:20 --train 252 --test 63
    """
    with phase_progress(enabled=not as_json) as progress:
        phases = PhaseBars(progress).loading()
        from ntrader.backtest.walkforward import walk_forward  # loads numba: only when asked for

        outcome = walk_forward(
            market.strategy,
            market.symbol,
            market.start,
            market.end,
            grid=grid.grids,
            constraints=grid.constraints,
            train=train,
            test=test,
            metric=grid.metric,
            progress=phases,
            **market.keywords(),
        )
    from ntrader.reports.sweep import walk_forward_validation_line
    from ntrader.reports.tables import folds_table, walk_forward_line

    if as_json:
        echo_json(
            {
                "run_id": outcome.run_id,
                "strategy": outcome.strategy,
                "symbol": outcome.symbol,
                "metric": outcome.metric,
                "folds": [fold.to_json_dict() for fold in outcome.folds],
                "metrics": outcome.metrics.to_json_dict(),
                "validation": outcome.validation,
            }
        )
        return
    out = console()
    out.print(folds_table(outcome))
    out.print(walk_forward_line(outcome))
    click.echo(walk_forward_validation_line(outcome.validation))
    click.echo(f"Saved run {outcome.run_id}; see `ntrader report summary {outcome.run_id}`.")


@backtest.command("delete")
@click.argument("run_ids", nargs=-1, required=True, type=RECORD_ID)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for scripts).")
@json_option
def delete_command(run_ids: tuple[int, ...], yes: bool, as_json: bool) -> None:
    """Delete saved runs with their trades and equity curves (asks first; --yes for scripts).

    An unknown id is an error and nothing is deleted.

    \b
    Example:
      ntrader backtest delete 3 4 --yes
    """
    from ntrader.db.runs import delete_runs, get_run

    records = [get_run(run_id) for run_id in dict.fromkeys(run_ids)]  # unknown id: one line, exit 1
    if not yes:
        listed = ", ".join(f"#{r.id} ({r.strategy} {r.symbol})" for r in records)
        click.confirm(f"Delete run(s) {listed} with their trades and equity?", abort=True, err=True)
    deleted = delete_runs([r.id for r in records])
    if as_json:
        echo_json({"deleted": deleted})
    else:
        click.echo(f"Deleted run(s) {', '.join(str(i) for i in deleted)}.")
