"""`ntrader backtest sweep`, `ntrader backtest walk-forward` and `ntrader report sweep`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ntrader.backtest.costs import DEFAULT_COMMISSION
from ntrader.backtest.fills import DEFAULT_LIQUIDITY, FILL_CLOSE, FILL_MODES, LIQUIDITY_MODES
from ntrader.backtest.parallel import RAY_ADDRESS_ENV
from ntrader.backtest.sweep import ENGINES, SCREEN_METRICS, run_sweep
from ntrader.cli.render import console, err_console, pct
from ntrader.data import DATA_SOURCES
from ntrader.db.sweeps import get_sweep
from ntrader.reports.sweep import SWEEP_FORMATS, export_sweep, fmt_metric, render_sweep_text
from ntrader.strategies import parse_param_pairs

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _market_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options a sweep shares with `backtest run`: what to trade, on which bars, at what cost."""
    options: list[Decorator] = [
        click.option("--strategy", "-s", required=True, help="Strategy name or alias, or file.py:Class."),
        click.option("--symbol", required=True, help="Ticker, e.g. AAPL."),
        click.option(
            "--start", help="First day, YYYY-MM-DD (default: 365 days before --end; csv: first bar)."
        ),
        click.option("--end", help="Last day, YYYY-MM-DD, inclusive (default: yesterday; csv: last bar)."),
        click.option(
            "--data-source",
            type=click.Choice(DATA_SOURCES, case_sensitive=False),
            default="mock",
            show_default=True,
            help="Where the bars come from.",
        ),
        click.option(
            "--bar-size", default="1-DAY", show_default=True, help="1-DAY, 1-HOUR, 5-MINUTE, 1-MINUTE."
        ),
        click.option("--csv", "csv_file", type=click.Path(dir_okay=False), help="Bars from this CSV file."),
        click.option("--no-fetch", is_flag=True, help="ibkr: stored bars only; never fetch from IB."),
        click.option("--capital", type=float, help="Starting cash in USD (default: 100000)."),
        click.option(
            "--commission",
            default=DEFAULT_COMMISSION,
            show_default=True,
            metavar="MODEL",
            help="ibkr-fixed, ibkr-tiered (with modifiers such as :no-reg-fees), none, per-share:X or bps:X "
            "(see `backtest run --help`).",
        ),
        click.option(
            "--fill-at",
            type=click.Choice(FILL_MODES, case_sensitive=False),
            default=FILL_CLOSE,
            show_default=True,
            help="close = the signal bar's close; next-open = the next bar's open.",
        ),
        click.option(
            "--liquidity",
            type=click.Choice(LIQUIDITY_MODES, case_sensitive=False),
            default=DEFAULT_LIQUIDITY,
            show_default=True,
            help="bar-volume = Nautilus's bar execution (see `backtest run --help`); unlimited = fill whole.",
        ),
        click.option(
            "--grid",
            "grids",
            multiple=True,
            required=True,
            metavar="NAME=START:STOP:STEP|A,B,C",
            help="Values of one parameter (repeatable); a range includes STOP when a step lands on it.",
        ),
        click.option(
            "--constraint",
            "constraints",
            multiple=True,
            metavar="EXPR",
            help="Keep combinations where EXPR holds, e.g. 'fast_period < slow_period' (repeatable).",
        ),
        click.option(
            "--metric",
            type=click.Choice(SCREEN_METRICS, case_sensitive=False),
            default="sharpe",
            show_default=True,
            help="What ranks the combinations.",
        ),
        click.option(
            "--param",
            "-p",
            "params",
            multiple=True,
            metavar="KEY=VALUE",
            help="A fixed parameter (repeatable).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


class _Bars:
    """A rich progress display fed by the library's (phase, advance, total) callbacks."""

    LABELS: ClassVar[dict[str, str]] = {
        "screen": "Screening",
        "confirm": "Confirming in Nautilus",
        "folds": "Walk-forward folds",
    }

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def __call__(self, phase: str, advance: int, total: int) -> None:
        if phase not in self.tasks:
            self.tasks[phase] = self.progress.add_task(self.LABELS.get(phase, phase), total=total)
        self.progress.update(self.tasks[phase], advance=advance)


def _progress() -> Progress:
    console = err_console()
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        # In a pipe or a log a live bar is noise (and leaves a blank line before any error).
        disable=not console.is_terminal,
    )


@click.command("sweep")
@_market_options
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
def sweep_command(
    strategy: str,
    symbol: str,
    start: str | None,
    end: str | None,
    data_source: str,
    bar_size: str,
    csv_file: str | None,
    no_fetch: bool,
    capital: float | None,
    commission: str,
    fill_at: str,
    liquidity: str,
    grids: tuple[str, ...],
    constraints: tuple[str, ...],
    metric: str,
    params: tuple[str, ...],
    top: int,
    confirm: bool,
    engine: str,
    workers: int | None,
    ray_address: str | None,
) -> None:
    """Screen a parameter grid, confirm the best in Nautilus, save the sweep and the confirmed runs.

    \b
    Example:
      ntrader backtest sweep --strategy sma --symbol AAPL --start 2020-01-01 --end 2023-12-31 \\
          --grid fast_period=5:50:5 --grid slow_period=20:200:10 \\
          --constraint "fast_period < slow_period" --metric sharpe --top 5
    """
    with _progress() as progress:
        outcome = run_sweep(
            strategy,
            symbol,
            start,
            end,
            grid=grids,
            constraints=constraints,
            metric=metric,
            top=top,
            confirm=confirm,
            engine=engine,
            workers=workers,
            ray_address=ray_address,
            data_source=data_source,
            bar_size=bar_size,
            capital=capital,
            params=parse_param_pairs(params),
            commission=commission,
            fill_at=fill_at,
            liquidity=liquidity,
            csv_file=csv_file,
            no_fetch=no_fetch,
            progress=_Bars(progress),
        )
    assert outcome.sweep_id is not None
    record = get_sweep(outcome.sweep_id)
    click.echo(render_sweep_text(record, width=console().width, limit=max(top, 20)), nl=False)
    click.echo(
        f"Saved sweep {outcome.sweep_id}; see `ntrader report sweep {outcome.sweep_id} --format html`."
    )


@click.command("walk-forward")
@_market_options
@click.option(
    "--train", type=click.IntRange(min=2), default=252, show_default=True, help="In-sample bars per fold."
)
@click.option(
    "--test", type=click.IntRange(min=1), default=63, show_default=True, help="Out-of-sample bars per fold."
)
def walk_forward_command(
    strategy: str,
    symbol: str,
    start: str | None,
    end: str | None,
    data_source: str,
    bar_size: str,
    csv_file: str | None,
    no_fetch: bool,
    capital: float | None,
    commission: str,
    fill_at: str,
    liquidity: str,
    grids: tuple[str, ...],
    constraints: tuple[str, ...],
    metric: str,
    params: tuple[str, ...],
    train: int,
    test: int,
) -> None:
    """Optimise on rolling in-sample windows, trade each next window out of sample, save the stitched run.

    \b
    Example:
      ntrader backtest walk-forward --strategy sma --symbol AAPL --start 2018-01-01 --end 2023-12-31 \\
          --grid fast_period=5:30:5 --grid slow_period=40:200:20 --train 252 --test 63
    """
    from ntrader.backtest.walkforward import walk_forward  # loads numba: only when asked for

    with _progress() as progress:
        outcome = walk_forward(
            strategy,
            symbol,
            start,
            end,
            grid=grids,
            constraints=constraints,
            train=train,
            test=test,
            metric=metric,
            data_source=data_source,
            bar_size=bar_size,
            capital=capital,
            params=parse_param_pairs(params),
            commission=commission,
            fill_at=fill_at,
            liquidity=liquidity,
            csv_file=csv_file,
            no_fetch=no_fetch,
            progress=_Bars(progress),
        )
    table = Table(
        title=f"Walk-forward: {outcome.strategy} on {outcome.symbol}, chosen by {metric} (in-sample)",
        title_justify="left",
    )
    for column in (
        "Fold",
        "Test window",
        "Parameters",
        f"IS {metric}",
        "OOS return",
        "OOS Sharpe",
        "OOS max DD",
        "Trades",
    ):
        table.add_column(column, justify="left" if column in {"Test window", "Parameters"} else "right")
    for fold in outcome.folds:
        table.add_row(
            str(fold.number),
            f"{fold.test_start.date()} → {fold.test_end.date()}",
            " ".join(f"{k}={v}" for k, v in fold.params.items()),
            fmt_metric(metric, fold.in_sample),
            pct(fold.oos_return, signed=True),
            fmt_metric("sharpe", fold.oos_sharpe),
            pct(fold.oos_max_drawdown),
            str(fold.trades),
        )
    out = console()
    out.print(table)
    m = outcome.metrics
    out.print(
        f"Out of sample, stitched: return {pct(m.total_return, signed=True)}, CAGR {pct(m.cagr)}, "
        f"Sharpe {fmt_metric('sharpe', m.sharpe)}, max drawdown {pct(m.max_drawdown)}, "
        f"{m.trade_count} trades."
    )
    click.echo(f"Saved run {outcome.run_id}; see `ntrader report summary {outcome.run_id}`.")


@click.command("sweep")
@click.argument("sweep_id", type=int)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(SWEEP_FORMATS, case_sensitive=False),
    default="text",
    show_default=True,
    help="text: the ranked table; html: table and, for two-parameter grids, a heatmap.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=True, path_type=Path),
    help="File (or existing directory). Default: stdout; html: $NTRADER_HOME/reports/sweep-<id>.html.",
)
def report_sweep_command(sweep_id: int, fmt: str, output: Path | None) -> None:
    """A saved sweep: ranked table with screened and confirmed figures; HTML adds a heatmap.

    \b
    Examples:
      ntrader report sweep 1
      ntrader report sweep 1 --format html -o sweep.html
    """
    export = export_sweep(sweep_id, fmt, output)
    if export.path is None:
        click.echo(export.content or "", nl=False)
    else:
        click.echo(f"Wrote {export.path}")
