"""`ntrader backtest …`: run a strategy and list the saved runs."""

from __future__ import annotations

from contextlib import nullcontext

import click
from rich.table import Table

from ntrader.backtest import run_backtest
from ntrader.backtest.config_file import load_run_config
from ntrader.backtest.costs import DEFAULT_COMMISSION
from ntrader.backtest.fills import DEFAULT_LIQUIDITY, FILL_CLOSE, FILL_MODES, LIQUIDITY_MODES
from ntrader.cli.render import console, echo_json, err_console, pct
from ntrader.cli.report import render_summary
from ntrader.data import DATA_SOURCES
from ntrader.db.runs import get_run, list_runs
from ntrader.errors import RunHalted
from ntrader.reports import write_run_html
from ntrader.strategies import get_strategy, parse_param_pairs


@click.group()
def backtest() -> None:
    """Run backtests and list their saved results."""


@backtest.command("run")
@click.option("--strategy", "-s", required=True, help="Strategy name or alias (see `strategy list`).")
@click.option("--symbol", required=True, help="Ticker, e.g. AAPL.")
@click.option(
    "--start", help="First day, YYYY-MM-DD (default: 365 days before --end; csv: first stored bar)."
)
@click.option("--end", help="Last day, YYYY-MM-DD, inclusive (default: yesterday; csv: last stored bar).")
@click.option(
    "--data-source",
    type=click.Choice(DATA_SOURCES, case_sensitive=False),
    default="mock",
    show_default=True,
    help="Where the bars come from.",
)
@click.option("--bar-size", default="1-DAY", show_default=True, help="1-DAY, 1-HOUR, 5-MINUTE, 1-MINUTE.")
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False),
    help="Run on this CSV file's bars without importing them (timestamps without offset are UTC).",
)
@click.option(
    "--no-fetch",
    is_flag=True,
    help="ibkr: use stored bars only; fail instead of fetching what is missing from IB.",
)
@click.option("--capital", type=float, help="Starting cash in USD (default: 100000).")
@click.option(
    "--commission",
    default=DEFAULT_COMMISSION,
    show_default=True,
    metavar="MODEL",
    help="ibkr-fixed (USD 0.005/share, min 1.00, max 1% of value, plus SEC/FINRA TAF on sales and "
    "FINRA CAT), ibkr-tiered (IBKR's monthly-volume tiers applied marginally, min 0.35, plus exchange, "
    "clearing, pass-through and the same regulatory fees), none, per-share:X (USD X a share) or bps:X "
    "(X basis points of trade value). Modifiers after a colon: ibkr-fixed:no-reg-fees, "
    "ibkr-tiered:commission-only, LINE=RATE (e.g. ibkr-tiered:exchange=0.001); see the README.",
)
@click.option(
    "--fill-at",
    type=click.Choice(FILL_MODES, case_sensitive=False),
    default=FILL_CLOSE,
    show_default=True,
    help="When market orders fill: close = the signal bar's close; next-open = the next bar's open "
    "(decided at the signal bar's close, sized from that open; a decision on the last bar is unfilled).",
)
@click.option(
    "--liquidity",
    type=click.Choice(LIQUIDITY_MODES, case_sensitive=False),
    default=DEFAULT_LIQUIDITY,
    show_default=True,
    help="bar-volume = Nautilus's bar execution (a quarter of a bar's volume fills at the close, the "
    "bar's volume at the open, the rest one tick worse); unlimited = every order fills whole.",
)
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
@click.option(
    "--report",
    "report_format",
    type=click.Choice(["html"], case_sensitive=False),
    help="Also write a report: html → $NTRADER_HOME/reports/run-<id>.html.",
)
def run_command(
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
    params: tuple[str, ...],
    as_json: bool,
    verbose: bool,
    report_format: str | None,
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
            commission=commission,
            fill_at=fill_at,
            liquidity=liquidity,
            verbose=verbose,
            csv_file=csv_file,
            no_fetch=no_fetch,
        )
    _present(outcome.run_id, as_json, report_format)


def _present(run_id: int | None, as_json: bool, report_format: str | None) -> None:
    """Show a saved run as `backtest run` does: the summary panel or JSON, plus the report path;
    a run that did not complete ends with one red line and exit code 5."""
    assert run_id is not None
    record = get_run(run_id)
    report_path = write_run_html(record.id) if report_format else None
    if as_json:
        echo_json(record.to_json_dict())
    else:
        render_summary(record)
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
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--verbose", "-v", is_flag=True, help="Show the Nautilus engine's log.")
@click.option("--report", "report_format", type=click.Choice(["html"]), help="Also write a report.")
def run_config_command(config_file: str, as_json: bool, verbose: bool, report_format: str | None) -> None:
    """Run the backtest a YAML config file describes, and save it.

    \b
    Fields: strategy, params, symbol, start, end, data_source (mock|csv|ibkr), bar_size,
    capital, commission, fill_at (close|next-open), liquidity (bar-volume|unlimited).

    \b
    Example:
      ntrader backtest run-config examples/configs/sma.yaml
    """
    config = load_run_config(config_file)
    status = err_console().status(f"Backtesting {config.strategy} on {config.symbol}…", spinner="dots")
    with status if not (as_json or verbose) else nullcontext():
        outcome = run_backtest(
            config.strategy,
            config.symbol,
            config.start,
            config.end,
            data_source=config.data_source,
            bar_size=config.bar_size,
            capital=config.capital,
            params=config.params,
            commission=config.commission,
            fill_at=config.fill_at,
            liquidity=config.liquidity,
            verbose=verbose,
        )
    _present(outcome.run_id, as_json, report_format)


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
        "Status",
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
            r.status if r.status == "completed" else f"[red]{r.status}[/red]",
            f"{r.start.date()} → {r.end.date()}",
            str(r.metrics.get("trade_count", "")),
            pct(r.total_return, signed=True),
            pct(r.metrics.get("max_drawdown")),
        )
    console().print(table)
