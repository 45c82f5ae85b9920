"""`ntrader report …`: read a saved run back from the database and show it."""

from __future__ import annotations

import click
from rich.panel import Panel
from rich.table import Table

from ntrader.cli.render import NONE_MARK, console, echo_json, money, number, pct
from ntrader.db.runs import RunRecord, get_run


@click.group()
def report() -> None:
    """Show saved runs: metrics, trades, charts."""


def render_summary(record: RunRecord) -> None:
    """The result panel shown after a run and by `report summary`."""
    m = record.metrics
    params = ", ".join(f"{k}={v}" for k, v in record.params.items()) or "defaults"
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows = [
        ("Run id", str(record.id)),
        ("Strategy", f"{record.strategy} ({params})"),
        (
            "Symbol",
            f"{record.symbol}  [{record.data_source}, {record.settings.get('bar_size', '')}]",
        ),
        ("Period", f"{record.start.date()} → {record.end.date()}"),
        ("Bars", f"{record.bars:,}"),
        ("Trades", str(m.get("trade_count", NONE_MARK))),
        ("Starting capital", money(record.capital)),
        ("Final equity", money(record.final_equity)),
        ("Total return", pct(record.total_return, signed=True)),
        ("Max drawdown", pct(m.get("max_drawdown"))),
        ("Win rate", pct(m.get("win_rate"))),
        (
            "Sharpe (√252, rf " + pct(m.get("conventions", {}).get("risk_free_rate", 0.0)) + ")",
            number(m.get("sharpe")),
        ),
    ]
    for label, value in rows:
        grid.add_row(label, value)
    console().print(Panel(grid, title=f"Backtest #{record.id}", title_align="left", expand=False))


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
