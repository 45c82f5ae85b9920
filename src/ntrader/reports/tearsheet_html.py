"""The tearsheet section of the HTML run report: monthly heatmap, yearly returns, rolling Sharpe and
volatility, the daily-return distribution against a normal, worst drawdowns, costs, validation."""

from __future__ import annotations

import calendar
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ntrader.reports.model import COST_LABELS
from ntrader.reports.tearsheet import Tearsheet

MONTHS = [calendar.month_abbr[m] for m in range(1, 13)]
# Red below zero, white at zero, green above: the scale is centred on 0 (`zmid`).
DIVERGING = [[0.0, "#b91c1c"], [0.5, "#f8fafc"], [1.0, "#15803d"]]
# Titles on the left and a top margin that keeps them clear of plotly's toolbar.
_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 70, "b": 40},
    "title_x": 0.01,
    "title_y": 0.98,
}


def monthly_figure(sheet: Tearsheet) -> go.Figure:
    """Years × months of compounded returns, the value in each cell, colours centred on 0."""
    m = sheet.monthly
    z = m.to_numpy(dtype=float) if len(m) else np.zeros((0, 12))
    text = [["" if np.isnan(v) else f"{v:.1%}" for v in row] for row in z]
    years = [str(y) for y in m.index]
    fig = go.Figure(
        go.Heatmap(
            x=MONTHS,
            y=years,
            z=z,
            zmid=0.0,
            colorscale=DIVERGING,
            text=text,
            texttemplate="%{text}",
            hovertemplate="%{y} %{x}: %{z:.2%}<extra></extra>",
            colorbar={"tickformat": ".0%"},
            hoverongaps=False,
        )
    )
    fig.update_layout(
        title="Monthly returns",
        height=max(220, 60 + 28 * len(years)),
        yaxis={"type": "category", "autorange": "reversed"},
        **_LAYOUT,
    )
    return fig


def yearly_figure(sheet: Tearsheet) -> go.Figure:
    y = sheet.yearly
    values = y.to_numpy(dtype=float)
    fig = go.Figure(
        go.Bar(
            x=[str(v) for v in y.index],
            y=values,
            marker_color=["#15803d" if v >= 0 else "#b91c1c" for v in values],
            text=[f"{v:.1%}" for v in values],
            textposition="outside",
            hovertemplate="%{x}: %{y:.2%}<extra></extra>",
            name="Yearly return",
        )
    )
    fig.update_layout(title="Yearly returns", height=300, yaxis={"tickformat": ".0%"}, **_LAYOUT)
    return fig


def rolling_figure(sheet: Tearsheet) -> go.Figure:
    window = f"{sheet.window}-day window, annualised with √{sheet.periods_per_year}"
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=[f"Rolling Sharpe ({window})", f"Rolling volatility ({window})"],
    )
    s, v = sheet.rolling_sharpe.dropna(), sheet.rolling_volatility.dropna()
    fig.add_trace(
        go.Scatter(x=s.index, y=s.to_numpy(), name="Rolling Sharpe", line={"color": "#2563eb", "width": 1.2}),
        row=1,
        col=1,
    )
    fig.add_hline(y=0.0, line={"color": "#9ca3af", "width": 1}, row=1, col=1)
    fig.add_trace(
        go.Scatter(
            x=v.index, y=v.to_numpy(), name="Rolling volatility", line={"color": "#ea580c", "width": 1.2}
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    fig.update_layout(height=420, showlegend=False, **_LAYOUT)
    return fig


def distribution_figure(sheet: Tearsheet) -> go.Figure:
    d = sheet.distribution()
    edges = np.asarray(d["edges"])
    fig = go.Figure()
    if edges.size:
        centres = (edges[:-1] + edges[1:]) / 2
        fig.add_trace(
            go.Bar(
                x=centres,
                y=d["density"],
                width=np.diff(edges),
                name="Daily returns",
                marker_color="#93c5fd",
                hovertemplate="%{x:.2%}: density %{y:.1f}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=d["normal_x"],
                y=d["normal_density"],
                name=f"Normal (mean {d['mean'][0]:.3%}, std {d['std'][0]:.3%})",
                line={"color": "#1e3a8a", "width": 2},
            )
        )
    fig.update_layout(
        title="Daily returns vs normal",
        height=320,
        bargap=0,
        xaxis={"tickformat": ".1%"},
        legend={"orientation": "h", "y": -0.2},
        **_LAYOUT,
    )
    return fig


def _table(head: list[str], rows: list[list[str]], table_id: str) -> str:
    from ntrader.reports.html import _e

    th = "".join(f'<th class="num">{_e(h)}</th>' for h in head)
    body = "".join("<tr>" + "".join(f'<td class="num">{_e(c)}</td>' for c in r) + "</tr>" for r in rows)
    return f'<table class="wide" id="{table_id}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def drawdowns_html(sheet: Tearsheet) -> str:
    if not sheet.worst_drawdowns:
        return "<p>Never under water.</p>"
    rows = [
        [
            str(i + 1),
            (d["start"] or "")[:10],
            (d["trough"] or "")[:10],
            (d["recovery"] or "not recovered")[:13],
            f"{d['depth']:.2%}",
            f"{d['length_days']:,.0f}",
        ]
        for i, d in enumerate(sheet.worst_drawdowns)
    ]
    return _table(["#", "Start", "Trough", "Recovery", "Depth", "Length (days)"], rows, "worst-drawdowns")


def costs_html(sheet: Tearsheet) -> str:
    if sheet.costs is None:
        return "<p>No cost breakdown stored for this run.</p>"
    total = sheet.costs.get("total", 0.0)
    rows = [
        [
            label,
            f"{sheet.costs.get(key, 0.0):,.2f}",
            f"{sheet.costs.get(key, 0.0) / total:.1%}" if total else "–",
        ]
        for key, label in COST_LABELS
    ]
    rows.append(["total", f"{total:,.2f}", "100.0%" if total else "–"])
    return _table(["Cost", "USD", "Share"], rows, "cost-breakdown")


def _spread(block: dict[str, Any] | None, key: str, pct: bool) -> str:
    if not block or not block.get(key):
        return "–"
    s = block[key]
    fmt = (lambda v: f"{v:.1%}") if pct else (lambda v: f"{v:.2f}")
    return f"{fmt(s['p5'])} / {fmt(s['p50'])} / {fmt(s['p95'])}"


def validation_html(block: dict[str, Any] | None) -> str:
    """The run's validation block (PSR, Monte Carlo percentiles, random-entry baseline)."""
    from ntrader.reports.html import kv_table

    if not block:
        return "<p>Not validated yet: <code>ntrader report validate RUN_ID</code>.</p>"
    boot, shuffle, base = block.get("bootstrap"), block.get("reshuffle"), block.get("random_entry")
    rows = [
        ("PSR (P[Sharpe > 0])", "–" if block.get("psr") is None else f"{block['psr']:.2f}"),
        ("Monte Carlo samples", f"{block.get('samples', 0):,} (5th / 50th / 95th percentile)"),
        ("Bootstrap CAGR", _spread(boot, "cagr", True)),
        ("Bootstrap max drawdown", _spread(boot, "max_drawdown", True)),
        ("Bootstrap Sharpe", _spread(boot, "sharpe", False)),
        ("Reshuffled trades: max drawdown", _spread(shuffle, "max_drawdown", True)),
    ]
    if base:
        rows.append(("Random entries: total return", _spread(base, "total_return", True)))
        rows.append(("Strategy vs random entries", f"beats {base['percentile']:.1f}% (percentile)"))
    return kv_table(rows)


def tearsheet_sections(sheet: Tearsheet, figure_html: Any) -> tuple[list[str], int]:
    """HTML cards of the tearsheet and how many charts they hold (plotly.js already on the page)."""
    figures = [
        ("monthly-returns", monthly_figure(sheet)),
        ("yearly-returns", yearly_figure(sheet)),
        ("rolling", rolling_figure(sheet)),
        ("return-distribution", distribution_figure(sheet)),
    ]
    charts = {name: figure_html(fig, name, include_plotlyjs=False) for name, fig in figures}
    cards = [
        '<div class="cols2">',
        f'<div class="card">{charts["monthly-returns"]}</div>',
        f'<div class="card">{charts["yearly-returns"]}</div>',
        "</div>",
        '<div class="cols2">',
        f'<div class="card">{charts["rolling"]}</div>',
        f'<div class="card">{charts["return-distribution"]}</div>',
        "</div>",
        '<div class="cols2">',
        f'<div class="card" id="drawdowns"><h2>Worst {len(sheet.worst_drawdowns)} drawdowns</h2>'
        f"{drawdowns_html(sheet)}</div>",
        f'<div class="card" id="costs"><h2>Costs</h2>{costs_html(sheet)}</div>',
        "</div>",
        f'<div class="card" id="validation"><h2>Validation</h2>{validation_html(sheet.validation)}</div>',
    ]
    return cards, len(figures)
