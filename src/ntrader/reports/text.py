"""Text reports as rich renderables: the summary panel, the full run report, the comparison table.

The CLI prints these to the terminal; ``render_text`` turns them into plain text for a file.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ntrader.db.runs import RunRecord
from ntrader.errors import NtraderError
from ntrader.metrics.summary import NONE_MARK, Metrics
from ntrader.reports.model import (
    NUMERIC_HEADINGS,
    TRADE_HEADINGS,
    RunReport,
    conventions,
    costs_text,
    halt_text,
    orders_text,
    trade_rows,
)

if TYPE_CHECKING:
    import pandas as pd
from ntrader.reports.portfolio import per_symbol_table, portfolio_block, portfolio_renderables

TEXT_WIDTH = 110
# In the summary panel these repeat the header rows (period, capital, final equity).
_SUMMARY_SKIP = {"Start", "End", "Starting equity", "Ending equity"}


def coverage_text(settings: Mapping[str, Any]) -> str | None:
    """One line on a run's data when it was partial or gappy (for the result panel), else None."""
    parts = []
    requested = settings.get("requested_period")
    if requested:
        parts.append(f"bars cover only part of the requested {requested[0]} → {requested[1]}")
    gaps = settings.get("data_gaps") or {}
    if gaps.get("count"):
        listed = gaps.get("listed") or []
        more = f" (first {listed[0][0][:16]} → {listed[0][1][:16]} UTC)" if listed else ""
        parts.append(f"{gaps['count']} known gap(s) in the bars{more}; see the run's settings")
    return "; ".join(parts) if parts else None


def summary_panel(record: RunRecord, metrics: Metrics | None = None) -> Panel:
    """The result panel shown after a run and by ``report summary``: key facts, then every metric."""
    if metrics is None:
        try:
            metrics = Metrics.from_json_dict(record.metrics)
        except NtraderError:
            metrics = None
    params = ", ".join(f"{k}={v}" for k, v in record.params.items()) or "defaults"
    portfolio = portfolio_block(record)
    symbols = record.symbol if portfolio is None else ", ".join(map(str, portfolio.get("symbols", [])))
    header = _pairs(
        [
            ("Run id", str(record.id)),
            ("Strategy", f"{record.strategy} ({params})"),
            (
                "Symbol" if portfolio is None else "Symbols",
                f"{symbols}  [{record.data_source}, {record.settings.get('bar_size', '')}]",
            ),
            ("Period", f"{record.start.date()} → {record.end.date()}"),
            ("Bars", f"{record.bars:,}"),
            ("Starting capital", f"{record.capital:,.2f}"),
            ("Final equity", f"{record.final_equity:,.2f}"),
            *([("Costs", costs)] if (costs := costs_text(record.settings)) is not None else []),
            *([("Orders", orders)] if (orders := orders_text(record.settings)) is not None else []),
        ]
    )
    parts: list[RenderableType] = [header, Text("")]
    data_note = coverage_text(record.settings)
    if data_note is not None:
        parts = [header, Text(f"Data: {data_note}", style="yellow"), Text("")]
    halted = halt_text(record)
    if halted is not None:
        parts = [Text(halted, style="bold red"), *parts]
    if metrics is None:
        # Metrics saved by an older version: show what the record still holds and say how to fix it.
        m = record.metrics
        parts.append(
            _pairs(
                [
                    ("Total return", f"{record.total_return:+.2%}"),
                    ("Max drawdown", _pct(m.get("max_drawdown"))),
                    ("Win rate", _pct(m.get("win_rate"))),
                ]
            )
        )
        parts.append(Text(f"Older metrics format: run `ntrader report recompute {record.id}`.", style="dim"))
    else:
        groups = metrics.groups()
        groups["Returns"] = [row for row in groups["Returns"] if row[0] not in _SUMMARY_SKIP]
        parts.append(metric_columns(groups))
        if portfolio is not None:
            parts += [Text(""), per_symbol_table(portfolio)]
        parts.append(Text(""))
        parts.append(Text(_conventions_line(record, metrics), style="dim"))
    return Panel(Group(*parts), title=f"Backtest #{record.id}", title_align="left", expand=False)


def metric_columns(groups: dict[str, list[tuple[str, str]]]) -> Table:
    """The metric groups in two columns: Returns over Risk on the left, Trades on the right.

    Three columns side by side would need ~135 characters before values get cut off.
    """
    tables = [_group_table(name, rows) for name, rows in groups.items()]
    left: list[RenderableType] = []
    for table in tables[:-1]:
        left += [table, Text("")]
    grid = Table.grid(padding=(0, 4))
    grid.add_column(vertical="top")
    grid.add_column(vertical="top")
    grid.add_row(Group(*left[:-1]), tables[-1])
    return grid


def run_renderables(report: RunReport, *, trades: bool = False, limit: int = 50) -> list[RenderableType]:
    """The full run report: settings, every metric grouped, conventions, notes, (trades)."""
    out: list[RenderableType] = [
        Panel(_pairs(report.settings_rows()), title=report.title, title_align="left", expand=False),
        metric_columns(report.metrics.groups()),
    ]
    if report.portfolio is not None:
        out += portfolio_renderables(report.portfolio.block)
    out.append(Panel(_pairs(report.convention_rows()), title="Conventions", title_align="left", expand=False))
    out += [Text(f"Note: {note}", style="yellow") for note in report.notes()]
    if trades:
        out.append(trade_table(report.trades, limit, with_symbol=report.portfolio is not None))
    return out


def trade_table(trades: pd.DataFrame, limit: int = 50, *, with_symbol: bool = False) -> Table:
    """The trade list, first ``limit`` trades (0 = all), with a caption when some are left out.

    ``with_symbol`` adds a Symbol column after "#" (a portfolio run's trades).
    """
    rows = trade_rows(trades, limit)
    symbols = [str(s) for s in trades["symbol"].head(len(rows))] if with_symbol else []
    table = Table(title=f"Trades ({len(trades)})", title_justify="left")
    headings = (TRADE_HEADINGS[0], "Symbol", *TRADE_HEADINGS[1:]) if with_symbol else TRADE_HEADINGS
    for name in headings:
        table.add_column(name, justify="right" if name in NUMERIC_HEADINGS else "left", no_wrap=True)
    for i, row in enumerate(rows):
        style = "green" if row.pnl > 0 else "red" if row.pnl < 0 else ""
        cells = [Text(c) for c in row.cells[:-2]]
        if with_symbol:
            cells.insert(1, Text(symbols[i]))
        table.add_row(*cells, Text(row.cells[-2], style=style), Text(row.cells[-1]))
    if len(rows) < len(trades):
        table.caption = f"first {len(rows)} of {len(trades)} trades; --limit 0 shows all"
    return table


def compare_table(reports: Sequence[RunReport]) -> Table:
    """Every metric of several runs side by side, one column per run."""
    table = Table(title="Backtest comparison", title_justify="left")
    table.add_column("")
    for report in reports:
        table.add_column(f"#{report.run_id}", justify="right")
    rows: list[tuple[str, list[str]]] = [
        ("Strategy", [r.record.strategy for r in reports]),
        ("Parameters", [", ".join(f"{k}={v}" for k, v in r.record.params.items()) for r in reports]),
        ("Symbol", [f"{r.record.symbol} ({r.record.data_source})" for r in reports]),
        ("Period", [f"{r.record.start.date()} → {r.record.end.date()}" for r in reports]),
        ("Bar size", [str(r.record.settings.get("bar_size", "")) for r in reports]),
    ]
    for label, values in rows:
        table.add_row(Text(label), *map(Text, values))
    for group, labels in _group_labels(reports[0].metrics).items():
        table.add_section()
        table.add_row(Text(group, style="bold"), *([""] * len(reports)))
        by_run = [dict(r.metrics.groups()[group]) for r in reports]
        for label in labels:
            table.add_row(Text(label), *(Text(values.get(label, NONE_MARK)) for values in by_run))
    return table


def render_text(renderables: Iterable[RenderableType], width: int = TEXT_WIDTH) -> str:
    """Plain text (no colours or terminal codes) of ``renderables``, for files and pipes."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, no_color=True, highlight=False, color_system=None)
    for item in renderables:
        console.print(item)
    return buffer.getvalue()


def _group_labels(metrics: Metrics) -> dict[str, list[str]]:
    return {group: [label for label, _ in rows] for group, rows in metrics.groups().items()}


def _group_table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", show_header=False, box=None)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    for label, value in rows:
        table.add_row(Text(label), Text(value))
    return table


def _pairs(rows: Iterable[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    # Text, not markup: "[mock, 1-DAY]" or a parameter value must print as written.
    for label, value in rows:
        grid.add_row(Text(label), Text(value))
    return grid


def _conventions_line(record: RunRecord, metrics: Metrics) -> str:
    # Two short lines rather than one long one: the panel is as wide as its widest line.
    values = dict(conventions(record, metrics))
    c = metrics.conventions
    return (
        f"Ratios: daily returns, {c.annualization_text(brief=True)}, risk-free {c.risk_free_rate * 100:.2f}%"
        f" · fills: {record.settings.get('fill_at', 'close')}"
        f" · prices: {record.settings.get('adjust', 'raw')}"
        f"\nbuy & hold: {'equal weight of the symbols, ' if 'portfolio' in record.metrics else ''}"
        "first close → last close, no costs"
        f" · wins/losses on P&L in cents\ncommission: {values['Commission']}"
    )


def _pct(value: object) -> str:
    return f"{value:.2%}" if isinstance(value, int | float) else NONE_MARK
