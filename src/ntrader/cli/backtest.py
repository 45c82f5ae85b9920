"""`ntrader backtest …`: run a strategy and list the saved runs."""

from __future__ import annotations

from contextlib import nullcontext

import click
from rich.table import Table

from ntrader.backtest import run_backtest
from ntrader.cli.render import console, echo_json, err_console, pct
from ntrader.cli.report import render_summary
from ntrader.data import DATA_SOURCES
from ntrader.db.runs import get_run, list_runs
from ntrader.strategies import get_strategy, parse_param_pairs


@click.group()
def backtest() -> None:
    """Run backtests and list their saved results."""


@backtest.command("run")
@click.option("--strategy", "-s", required=True, help="Strategy name or alias (see `strategy list`).")
@click.option("--symbol", required=True, help="Ticker, e.g. AAPL.")
@click.option("--start", help="First day, YYYY-MM-DD (default: 365 days before --end).")
@click.option("--end", help="Last day, YYYY-MM-DD, inclusive (default: yesterday).")
@click.option(
    "--data-source",
    type=click.Choice(DATA_SOURCES, case_sensitive=False),
    default="mock",
    show_default=True,
    help="Where the bars come from.",
)
@click.option("--bar-size", default="1-DAY", show_default=True, help="1-DAY, 1-HOUR, 5-MINUTE, 1-MINUTE.")
@click.option("--capital", type=float, help="Starting cash in USD (default: 100000).")
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Strategy parameter (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--verbose", "-v", is_flag=True, help="Show the Nautilus engine's log.")
def run_command(
    strategy: str,
    symbol: str,
    start: str | None,
    end: str | None,
    data_source: str,
    bar_size: str,
    capital: float | None,
    params: tuple[str, ...],
    as_json: bool,
    verbose: bool,
) -> None:
    """Backtest a strategy on one symbol and save the run.

    \b
    Example:
      ntrader backtest run --strategy sma --symbol AAPL --start 2023-01-01 --end 2023-12-31 \\
          --param fast_period=5 --param slow_period=30
    """
    raw_params = parse_param_pairs(params)
    status = err_console().status(f"Backtesting {strategy} on {symbol.upper()}…", spinner="dots")
    with status if not (as_json or verbose) else nullcontext():
        outcome = run_backtest(
            strategy,
            symbol,
            start,
            end,
            data_source=data_source,
            bar_size=bar_size,
            capital=capital,
            params=raw_params,
            verbose=verbose,
        )
    assert outcome.run_id is not None
    record = get_run(outcome.run_id)
    if as_json:
        echo_json(record.to_json_dict())
        return
    render_summary(record)


@backtest.command("list-results")
@click.option("--strategy", help="Only runs of this strategy.")
@click.option("--symbol", help="Only runs on this symbol.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_results_command(strategy: str | None, symbol: str | None, limit: int, as_json: bool) -> None:
    """List saved runs, newest first.

    \b
    Example:
      ntrader backtest list-results --strategy sma --limit 5
    """
    name = get_strategy(strategy).name if strategy else None
    runs = list_runs(strategy=name, symbol=symbol, limit=limit)
    if as_json:
        echo_json([r.to_json_dict() for r in runs])
        return
    if not runs:
        console().print("No saved runs yet. Try: ntrader backtest run --strategy sma --symbol AAPL")
        return
    table = Table(title="Backtest runs (newest first)", title_justify="left")
    for column in (
        "ID",
        "Created (UTC)",
        "Strategy",
        "Symbol",
        "Source",
        "Period",
        "Trades",
        "Return",
        "Max DD",
    ):
        table.add_column(
            column, justify="right" if column in {"ID", "Trades", "Return", "Max DD"} else "left"
        )
    for r in runs:
        table.add_row(
            str(r.id),
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            r.strategy,
            r.symbol,
            r.data_source,
            f"{r.start.date()} → {r.end.date()}",
            str(r.metrics.get("trade_count", "")),
            pct(r.total_return, signed=True),
            pct(r.metrics.get("max_drawdown")),
        )
    console().print(table)
