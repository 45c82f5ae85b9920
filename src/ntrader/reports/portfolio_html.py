"""The portfolio cards of the HTML run report: per-symbol table, allocation over time (stacked area
of position values and cash), contribution bars, correlation, and each symbol's price with its trades.

Imported only when a portfolio run's report is drawn, so plotly loads no sooner than for any chart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from ntrader.reports.portfolio import (
    PER_SYMBOL_HEADINGS,
    PortfolioView,
    convention_rows,
    per_symbol_rows,
    summary_rows,
    symbol_closes,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from ntrader.reports.model import RunReport

# A qualitative palette for the symbols (cash is grey); it repeats after ten symbols.
PALETTE = (
    "#2563eb",
    "#16a34a",
    "#ea580c",
    "#9333ea",
    "#0891b2",
    "#ca8a04",
    "#db2777",
    "#4d7c0f",
    "#7c3aed",
    "#b91c1c",
)
CASH_COLOR = "#9ca3af"
_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 70, "r": 20, "t": 60, "b": 40},
    "title_x": 0.01,
    "title_y": 0.97,
}


def chart_id(symbol: str) -> str:
    """The div id of a symbol's price chart: ``price-`` and the symbol, safe for HTML ids."""
    return "price-" + "".join(c if c.isalnum() else "-" for c in symbol)


def allocation_figure(block: dict[str, Any]) -> go.Figure:
    """Stacked area of each symbol's position value and cash at the last bar of each day."""
    allocation = block.get("allocation") or {}
    dates = allocation.get("dates", [])
    fig = go.Figure()
    for i, symbol in enumerate(allocation.get("symbols", [])):
        fig.add_trace(
            go.Scatter(
                x=dates,
                y=allocation["values"][symbol],
                name=str(symbol),
                mode="lines",
                stackgroup="allocation",
                line={"width": 0.5, "color": PALETTE[i % len(PALETTE)]},
                hovertemplate="%{y:,.2f}<extra>" + str(symbol) + "</extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=dates,
            y=allocation.get("cash", []),
            name="Cash",
            mode="lines",
            stackgroup="allocation",
            line={"width": 0.5, "color": CASH_COLOR},
            hovertemplate="%{y:,.2f}<extra>Cash</extra>",
        )
    )
    fig.update_layout(
        title="Allocation over time (position values and cash, end of day)",
        height=380,
        yaxis={"title": "USD", "tickformat": ",.0f"},
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.15},
        **_LAYOUT,
    )
    return fig


def contribution_figure(block: dict[str, Any]) -> go.Figure:
    """Each symbol's P&L contribution (P&L over the starting capital) as a bar."""
    rows = block.get("per_symbol", [])
    values = [row.get("contribution") or 0.0 for row in rows]
    fig = go.Figure(
        go.Bar(
            x=[str(row["symbol"]) for row in rows],
            y=values,
            marker_color=["#15803d" if v >= 0 else "#b91c1c" for v in values],
            text=[f"{v:.2%}" for v in values],
            textposition="outside",
            hovertemplate="%{x}: %{y:.2%} of the starting capital<extra></extra>",
            name="Contribution",
        )
    )
    fig.update_layout(title="P&L contribution by symbol", height=320, yaxis={"tickformat": ".1%"}, **_LAYOUT)
    return fig


def correlation_figure(block: dict[str, Any]) -> go.Figure:
    corr = block.get("correlation") or {}
    symbols = [str(s) for s in corr.get("symbols", [])]
    matrix = corr.get("matrix", [])
    fig = go.Figure(
        go.Heatmap(
            x=symbols,
            y=symbols,
            z=[[float("nan") if v is None else v for v in row] for row in matrix],
            zmin=-1.0,
            zmax=1.0,
            colorscale=[[0.0, "#b91c1c"], [0.5, "#f8fafc"], [1.0, "#15803d"]],
            text=[["–" if v is None else f"{v:.2f}" for v in row] for row in matrix],
            texttemplate="%{text}",
            hovertemplate="%{y} / %{x}: %{z:.2f}<extra></extra>",
            hoverongaps=False,
        )
    )
    fig.update_layout(
        title="Correlation of daily returns",
        height=max(260, 120 + 40 * len(symbols)),
        yaxis={"autorange": "reversed"},
        **_LAYOUT,
    )
    return fig


def price_figure(report: RunReport, view: PortfolioView, symbol: str) -> go.Figure | None:
    """The symbol's closes with its own entries and exits; None without its bars."""
    from ntrader.reports.html import COLORS, _line, _thin
    from ntrader.reports.trades_html import trade_traces

    bars = view.bars.get(symbol)
    closes = None if bars is None else symbol_closes(report.record, bars)
    if closes is None:
        return None
    fig = go.Figure(_line(_thin(closes), symbol, "#374151"))
    own = symbol_trades(report, symbol)
    for trace in trade_traces(own, COLORS):
        fig.add_trace(trace)
    fig.update_layout(
        title=f"{symbol} price with its entries and exits ({len(own)} trades)",
        height=320,
        yaxis={"title": "Price"},
        legend={"orientation": "h", "y": -0.2},
        **_LAYOUT,
    )
    return fig


def symbol_trades(report: RunReport, symbol: str) -> Any:
    """The run's trades in ``symbol``."""
    trades = report.trades
    if "symbol" not in trades.columns:
        return trades.iloc[0:0]
    return trades[trades["symbol"].astype(str) == symbol]


def per_symbol_html(block: dict[str, Any]) -> str:
    from ntrader.reports.html import _e

    head = "".join(f'<th class="{"" if h == "Symbol" else "num"}">{_e(h)}</th>' for h in PER_SYMBOL_HEADINGS)
    body = []
    for row in per_symbol_rows(block):
        pnl = row[1].replace(",", "")
        tone = "down" if pnl.startswith("-") else "up" if pnl not in ("0.00", "–") else ""
        cells = [f"<td>{_e(row[0])}</td>", f'<td class="num {tone}">{_e(row[1])}</td>']
        cells += [f'<td class="num">{_e(c)}</td>' for c in row[2:]]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table class="wide" id="per-symbol"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def portfolio_cards(report: RunReport, figure_html: Callable[..., str]) -> tuple[list[str], int]:
    """HTML cards of a portfolio run and how many charts they hold (plotly.js already on the page)."""
    from ntrader.reports.html import kv_table
    from ntrader.reports.trades_html import zoom_script

    view = report.portfolio
    assert view is not None
    block = view.block

    def chart(fig: go.Figure, div_id: str) -> str:
        return figure_html(fig, div_id, include_plotlyjs=False)

    prices = [(s, price_figure(report, view, s)) for s in view.symbols]
    drawn = [(s, fig) for s, fig in prices if fig is not None]
    cards = [
        f'<div class="card" id="portfolio"><h2>Per symbol</h2>{per_symbol_html(block)}</div>',
        f'<div class="card">{chart(allocation_figure(block), "allocation")}</div>',
        '<div class="cols2">',
        f'<div class="card">{chart(contribution_figure(block), "contribution")}</div>',
        f'<div class="card">{chart(correlation_figure(block), "correlation")}</div>',
        "</div>",
        '<div class="cols2">',
        f'<div class="card" id="portfolio-figures"><h2>Portfolio</h2>{kv_table(summary_rows(block))}</div>',
        f'<div class="card" id="portfolio-conventions"><h2>Portfolio conventions</h2>'
        f"{kv_table(convention_rows(block))}</div>",
        "</div>",
        *(
            f'<div class="card">{chart(fig, chart_id(symbol))}'
            f"{zoom_script(chart_id(symbol), symbol_trades(report, symbol))}</div>"
            for symbol, fig in drawn
        ),
    ]
    return cards, 3 + len(drawn)
