"""Several saved runs side by side: every metric in one table, equity curves overlaid (start = 1)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ntrader.errors import InputError
from ntrader.metrics import drawdown_series
from ntrader.metrics.summary import NONE_MARK
from ntrader.reports.export import Export, resolve_output, write_text
from ntrader.reports.html import figure_html, page
from ntrader.reports.model import RunReport, load_report
from ntrader.reports.text import compare_table, render_text

COMPARE_FORMATS = ("text", "html")
# Distinct, colour-blind-friendly line colours (Okabe-Ito), reused in order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")


@dataclass(frozen=True)
class Comparison:
    """The runs being compared, in the order the user named them."""

    reports: list[RunReport]

    def label(self, report: RunReport) -> str:
        params = ",".join(f"{k}={v}" for k, v in report.record.params.items())
        return f"#{report.run_id} {report.record.strategy} {report.record.symbol} ({params})"

    def normalized(self) -> dict[int, pd.Series]:
        """Each run's equity divided by its starting equity, so all curves start at 1."""
        return {r.run_id: r.equity / r.equity.iloc[0] for r in self.reports if not r.equity.empty}

    def metric_rows(self) -> list[tuple[str, str, list[str]]]:
        """(group, label, one formatted value per run) for every metric of every group."""
        per_run = [r.metrics.groups() for r in self.reports]
        rows = []
        for group, entries in per_run[0].items():
            for label, _ in entries:
                rows.append((group, label, [dict(g[group]).get(label, NONE_MARK) for g in per_run]))
        return rows


def compare_runs(run_ids: Sequence[int], *, url: str | None = None) -> Comparison:
    """Load runs ``run_ids`` for comparison; at least two distinct ids, each must exist."""
    ids = list(dict.fromkeys(run_ids))
    if len(ids) < 2:
        raise InputError("compare needs at least two different run ids")
    return Comparison([load_report(run_id, with_bars=False, url=url) for run_id in ids])


def comparison_document(comparison: Comparison) -> dict[str, Any]:
    """The runs compared, as JSON-safe dicts: `{"runs": [run record with its metrics, …]}`."""
    runs = []
    for report in comparison.reports:
        run = report.record.to_json_dict()
        run["metrics"] = report.metrics.to_json_dict()
        runs.append(run)
    return {"runs": runs}


def comparison_figure(comparison: Comparison) -> go.Figure:
    """Normalized equity curves overlaid, their drawdowns underneath."""
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        row_heights=[0.68, 0.32],
        subplot_titles=["Equity, normalized to starting capital = 1", "Drawdown"],
    )
    curves = comparison.normalized()
    for i, report in enumerate(comparison.reports):
        curve = curves.get(report.run_id)
        if curve is None:
            continue
        color = PALETTE[i % len(PALETTE)]
        name = comparison.label(report)
        fig.add_trace(
            go.Scatter(
                x=curve.index,
                y=curve.to_numpy(),
                name=name,
                legendgroup=name,
                mode="lines",
                line={"color": color, "width": 1.8},
                hovertemplate="%{y:.3f}<extra>#" + str(report.run_id) + "</extra>",
            ),
            row=1,
            col=1,
        )
        drawdown = drawdown_series(report.equity)
        fig.add_trace(
            go.Scatter(
                x=drawdown.index,
                y=drawdown.to_numpy(),
                name=name,
                legendgroup=name,
                showlegend=False,
                mode="lines",
                line={"color": color, "width": 1.2},
                hovertemplate="%{y:.2%}<extra>#" + str(report.run_id) + "</extra>",
            ),
            row=2,
            col=1,
        )
    fig.add_hline(y=1.0, line={"color": "#9ca3af", "width": 1, "dash": "dot"}, row=1, col=1)
    fig.update_yaxes(title_text="Growth of 1", row=1, col=1)
    fig.update_yaxes(title_text="Drawdown", tickformat=".0%", row=2, col=1)
    fig.update_layout(
        template="plotly_white",
        height=720,
        margin={"l": 70, "r": 20, "t": 40, "b": 30},
        legend={"orientation": "h", "yanchor": "top", "y": -0.06, "xanchor": "left", "x": 0},
        hovermode="x unified",
    )
    return fig


def days_since_start_figure(comparison: Comparison) -> go.Figure:
    """The normalized curves against calendar days since each run's first point, so runs of
    different periods overlap."""
    fig = go.Figure()
    for i, (run_id, curve) in enumerate(comparison.normalized().items()):
        report = next(r for r in comparison.reports if r.run_id == run_id)
        index = pd.DatetimeIndex(curve.index)
        days = (index - index[0]).total_seconds().to_numpy() / 86_400.0
        fig.add_trace(
            go.Scatter(
                x=days,
                y=curve.to_numpy(),
                name=comparison.label(report),
                mode="lines",
                line={"color": PALETTE[i % len(PALETTE)], "width": 1.8},
                hovertemplate="day %{x:.0f}: %{y:.3f}<extra>#" + str(run_id) + "</extra>",
            )
        )
    fig.add_hline(y=1.0, line={"color": "#9ca3af", "width": 1, "dash": "dot"})
    fig.update_layout(
        template="plotly_white",
        title="Equity, normalized, by days since start (runs of different periods overlap)",
        xaxis={"title": {"text": "Days since start"}},
        yaxis={"title": {"text": "Growth of 1"}},
        height=460,
        margin={"l": 70, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "yanchor": "top", "y": -0.15, "xanchor": "left", "x": 0},
        hovermode="x unified",
    )
    return fig


def render_compare_html(comparison: Comparison) -> str:
    """The comparison as one self-contained HTML page."""
    ids = ", ".join(f"#{r.run_id}" for r in comparison.reports)
    title = f"Backtest comparison: {ids}"
    head = "".join(
        f'<th class="num">#{r.run_id}<br><span class="sub">{html.escape(r.record.symbol)}</span></th>'
        for r in comparison.reports
    )
    body_rows = []
    facts = [
        ("Strategy", [r.record.strategy for r in comparison.reports]),
        (
            "Parameters",
            [", ".join(f"{k}={v}" for k, v in r.record.params.items()) for r in comparison.reports],
        ),
        ("Period", [f"{r.record.start.date()} → {r.record.end.date()}" for r in comparison.reports]),
        (
            "Bar size / source",
            [f"{r.record.settings.get('bar_size', '')} / {r.record.data_source}" for r in comparison.reports],
        ),
    ]
    for label, values in facts:
        body_rows.append(_row(label, values))
    group = None
    for name, label, values in comparison.metric_rows():
        if name != group:
            group = name
            span = len(comparison.reports) + 1
            body_rows.append(f'<tr><th colspan="{span}"><h2 class="group">{html.escape(name)}</h2></th></tr>')
        body_rows.append(_row(label, values))
    # Fixed layout: the label column and one equal column per run share the card's width, and
    # long values (parameters) wrap instead of pushing the last run's column out of the card.
    widths = "".join('<col class="run">' for _ in comparison.reports)
    table = (
        '<table class="wide metrics-table compare" id="compare-metrics">'
        f'<colgroup><col class="label">{widths}</colgroup><thead><tr><th></th>{head}</tr></thead>'
        f"<tbody>{''.join(body_rows)}</tbody></table>"
    )
    body = "\n".join(
        [
            f"<h1>{html.escape(title)}</h1>",
            '<p class="sub">Each equity curve is divided by its run\'s starting equity: all start at 1.</p>',
            f'<div class="card" id="charts">{figure_html(comparison_figure(comparison), "cmp-chart")}</div>',
            '<div class="card" id="days-chart">'
            f"{figure_html(days_since_start_figure(comparison), 'cmp-days', include_plotlyjs=False)}</div>",
            f'<div class="card"><h2>Metrics</h2>{table}</div>',
        ]
    )
    return page(title, body, charts=2)


def export_comparison(
    run_ids: Sequence[int],
    fmt: str = "text",
    output: str | Path | None = None,
    *,
    url: str | None = None,
) -> Export:
    """Compare runs as text (stdout unless ``output``) or HTML (a file, in the reports dir by default)."""
    fmt = fmt.lower()
    if fmt not in COMPARE_FORMATS:
        raise InputError(f"unknown compare format {fmt!r}; use one of {', '.join(COMPARE_FORMATS)}")
    ids = list(dict.fromkeys(run_ids))
    name = f"compare-{'-'.join(str(i) for i in ids)}.{'html' if fmt == 'html' else 'txt'}"
    path = resolve_output(output, name, to_reports_dir=fmt == "html")
    comparison = compare_runs(ids, url=url)
    if fmt == "html":
        content = render_compare_html(comparison)
    else:
        content = render_text([compare_table(comparison.reports)])
    if path is None:
        return Export(fmt, None, content)
    return Export(fmt, write_text(path, content))


def _row(label: str, values: Sequence[str]) -> str:
    cells = "".join(f'<td class="num">{html.escape(v)}</td>' for v in values)
    return f"<tr><th>{html.escape(label)}</th>{cells}</tr>"
