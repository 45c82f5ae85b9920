"""Self-contained HTML reports: metrics tables and plotly charts, plotly.js embedded in the file.

A report opens offline (no CDN, no fonts or images fetched). The page records its own health for
people and tests alike: ``<body data-report-status>`` turns from "loading" to "rendered" once every
chart has drawn, or "error" when a script failed; errors are also written into ``#js-errors``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ntrader.reports.model import NUMERIC_HEADINGS, TRADE_HEADINGS, RunReport, trade_rows
from ntrader.reports.trades_html import TABLE_SCRIPT, filter_box, trade_traces, zoom_script

# Lines with more points than this are thinned for drawing (markers and tables keep every row):
# SVG charts of a million points freeze a browser and show nothing more than 20 000 would.
MAX_LINE_POINTS = 20_000
# Candles stay readable up to about this many bars; beyond it the price is drawn as a line.
MAX_CANDLES = 600
# Every trade of a long run fits (about 300 bytes a row); the table sorts and filters.
MAX_TRADE_ROWS = 10_000

COLORS = {
    "equity": "#2563eb",
    "hold": "#9ca3af",
    "drawdown": "#dc2626",
    "price": "#374151",
    "entry": "#16a34a",
    "short": "#ea580c",
    "exit": "#dc2626",
}

_CSS = """
:root { --fg:#111827; --muted:#6b7280; --line:#e5e7eb; --bg:#f9fafb; --card:#fff;
        --up:#15803d; --down:#b91c1c; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
       font:14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width:1320px; margin:0 auto; padding:24px 28px 40px; }
h1 { font-size:22px; margin:0 0 4px; }
h2 { font-size:15px; margin:0 0 10px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
h2.group { margin:10px 0 0; }
.sub { color:var(--muted); margin:0 0 18px; }
.kpis { display:grid; grid-template-columns:repeat(6, 1fr); gap:12px; margin-bottom:18px; }
.kpi { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 14px; }
.kpi .label { color:var(--muted); font-size:12px; }
.kpi .value { font-size:20px; font-weight:600; font-variant-numeric:tabular-nums; }
.up { color:var(--up); } .down { color:var(--down); }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px;
        margin-bottom:18px; }
.cols { display:grid; grid-template-columns:repeat(3, 1fr); gap:18px; }
.cols2 { display:grid; grid-template-columns:3fr 2fr; gap:18px; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { padding:4px 8px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
td.num, th.num { text-align:right; white-space:nowrap; }
table.kv th { font-weight:500; color:var(--muted); width:52%; }
table.kv td.num { white-space:normal; overflow-wrap:anywhere; }
pre.verdict { white-space:pre-wrap; margin:0; font-size:13px; }
table.compare { table-layout:fixed; }
table.compare col.label { width:190px; }
table.compare td.num, table.compare th.num { white-space:normal; overflow-wrap:anywhere; }
table.wide thead th { position:sticky; top:0; background:var(--card); }
.scroll { max-height:520px; overflow:auto; }
.note { background:#fffbeb; border:1px solid #fde68a; color:#92400e; border-radius:8px;
        padding:8px 12px; margin-bottom:12px; }
#js-errors { background:#fef2f2; border:1px solid #fecaca; color:#991b1b; white-space:pre-wrap;
             padding:8px 12px; border-radius:8px; margin-bottom:12px; }
footer { color:var(--muted); font-size:12px; margin-top:8px; }
"""

# Runs before anything else on the page so that a failure in plotly.js is caught too.
_ERROR_CAPTURE = """
window.__reportErrors = [];
function __reportError(message) {
  window.__reportErrors.push(String(message));
  document.documentElement.setAttribute("data-js-errors", String(window.__reportErrors.length));
  var box = document.getElementById("js-errors");
  if (box) { box.hidden = false; box.textContent += String(message) + "\\n"; }
  if (document.body) { document.body.setAttribute("data-report-status", "error"); }
}
window.addEventListener("error", function (e) { __reportError(e.message || e); });
window.addEventListener("unhandledrejection", function (e) { __reportError(e.reason || e); });
"""

# Runs after each chart has drawn (plotly's post_script hook).
_CHART_DONE = """
var body = document.body;
var done = Number(body.getAttribute("data-charts-rendered") || "0") + 1;
body.setAttribute("data-charts-rendered", String(done));
if (!window.__reportErrors.length && done >= Number(body.getAttribute("data-charts-expected"))) {
  body.setAttribute("data-report-status", "rendered");
}
"""


def render_run_html(report: RunReport) -> str:
    """The HTML report of one run as a string (about 5 MB: plotly.js is inside)."""
    r, m = report.record, report.metrics
    subtitle = (
        f"{report.symbols_text} · {r.data_source} · {r.settings.get('bar_size', r.bar_type)} · "
        f"{r.start.date()} → {r.end.date()} · {r.bars:,} bars · "
        f"parameters: {', '.join(f'{k}={v}' for k, v in r.params.items()) or 'defaults'}"
    )
    groups = m.groups()
    text = {label: value for rows in groups.values() for label, value in rows}
    hold = ("Buy & hold", text["Buy & hold return"], m.buy_and_hold_return)
    if report.portfolio is not None:
        from ntrader.reports.portfolio import benchmark_return

        equal = benchmark_return(report.portfolio.block)
        hold = ("Equal-weight buy & hold", "–" if equal is None else f"{equal * 100:.2f}%", equal)
    kpis = [
        ("Total return", text["Total return"], m.total_return),
        ("CAGR", text["CAGR"], m.cagr),
        hold,
        ("Sharpe ratio", text["Sharpe ratio"], m.sharpe),
        ("Max drawdown", text["Max drawdown"], m.max_drawdown),
        ("Trades · win rate", f"{m.trade_count} · {text['Win rate']}", None),
    ]
    notes = report.notes()
    # A portfolio's prices are drawn per symbol (its own cards say which could not be loaded).
    if report.portfolio is None and report.bars is None and not any("price chart" in n for n in notes):
        notes.append("No price chart: the bars were not loaded for this report.")
    body = [
        f"<h1>{_e(report.title)}</h1>",
        f'<p class="sub">{_e(subtitle)}</p>',
        '<div class="kpis" id="kpis">',
        *(_kpi(label, text, value) for label, text, value in kpis),
        "</div>",
        *(f'<div class="note">{_e(note)}</div>' for note in notes),
        '<div class="card" id="charts">',
        figure_html(run_figure(report), "report-chart"),
        zoom_script("report-chart", report.trades) if report.closes is not None else "",
        "</div>",
        '<div class="card"><h2>Metrics</h2><div class="cols" id="metrics">',
        *(
            f"<div><h2>{_e(name)}</h2>{kv_table(rows, css_class='kv metrics-table')}</div>"
            for name, rows in groups.items()
        ),
        "</div></div>",
        '<div class="cols2">',
        f'<div class="card"><h2>Run</h2>{kv_table(report.settings_rows())}</div>',
        f'<div class="card" id="conventions"><h2>Conventions</h2>{kv_table(report.convention_rows())}</div>',
        "</div>",
        f'<div class="card"><h2>Trades ({len(report.trades)})</h2>'
        f"{_trades_html(report.trades, with_symbol=report.portfolio is not None)}</div>",
    ]
    cards, charts = tearsheet_cards(report)
    if report.portfolio is not None:
        from ntrader.reports.portfolio_html import portfolio_cards

        own, count = portfolio_cards(report, figure_html)
        cards, charts = own + cards, charts + count
    # The tearsheet goes under the main chart, before the metric tables.
    at = body.index('<div class="card"><h2>Metrics</h2><div class="cols" id="metrics">')
    body[at:at] = cards
    return page(report.title, "\n".join(body), charts=1 + charts)


def tearsheet_cards(report: RunReport) -> tuple[list[str], int]:
    """The tearsheet cards of a run; its validation block as stored, else computed for this page."""
    from dataclasses import replace

    from ntrader.reports.tearsheet import tearsheet
    from ntrader.reports.tearsheet_html import tearsheet_sections
    from ntrader.reports.validation import run_validation

    sheet = tearsheet(report)
    if sheet.validation is None:
        sheet = replace(sheet, validation={**run_validation(report, 1000), "source": "computed"})
    return tearsheet_sections(sheet, figure_html)


def run_figure(report: RunReport) -> go.Figure:
    """Equity against buy & hold, drawdown under it, and the price with entries and exits."""
    from ntrader.reports.indicators_html import add_indicators, indicators_of, panels

    with_price = report.closes is not None
    indicators, _ = indicators_of(report)
    below = panels(indicators)
    titles = ["Equity vs buy & hold", "Drawdown"]
    heights = [0.45, 0.2]
    if with_price:
        titles += [f"{report.record.symbol} price with entries and exits", "Volume", *below]
        heights = [0.34, 0.14, 0.3, 0.08, *(0.12 for _ in below)]
    fig = make_subplots(
        rows=len(titles),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.045 if with_price else 0.06,
        row_heights=heights,
        subplot_titles=titles,
    )
    equity = _thin(report.equity)
    fig.add_trace(_line(equity, "Strategy equity", COLORS["equity"], width=2), row=1, col=1)
    hold, hold_name = report.buy_and_hold(), "Buy & hold"
    if report.portfolio is not None:
        from ntrader.reports.portfolio import benchmark_curve

        hold, hold_name = benchmark_curve(report.portfolio.block, report.equity), "Equal-weight buy & hold"
    if hold is not None:
        fig.add_trace(_line(_thin(hold), hold_name, COLORS["hold"], dash="dash"), row=1, col=1)
    drawdown = _thin(report.drawdown())
    fig.add_trace(
        go.Scatter(
            x=drawdown.index,
            y=drawdown.to_numpy(),
            name="Drawdown",
            mode="lines",
            line={"color": COLORS["drawdown"], "width": 1},
            fill="tozeroy",
            fillcolor="rgba(220, 38, 38, 0.18)",
            hovertemplate="%{x}<br>%{y:.2%}<extra>Drawdown</extra>",
        ),
        row=2,
        col=1,
    )
    if with_price:
        _add_price(fig, report, row=3)
        add_indicators(fig, report, indicators, price_row=3)
    fig.update_yaxes(title_text="Equity", tickformat=",.0f", row=1, col=1)
    fig.update_yaxes(title_text="Drawdown", tickformat=".0%", row=2, col=1)
    fig.update_xaxes(rangeslider_visible=False)
    fig.update_layout(
        template="plotly_white",
        height=(1080 + 160 * len(below)) if with_price else 640,
        margin={"l": 70, "r": 20, "t": 40, "b": 30},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.025, "xanchor": "left", "x": 0},
        hovermode="x unified",
    )
    return fig


def page(title: str, body: str, *, charts: int) -> str:
    """A complete HTML document around ``body`` that expects ``charts`` plotly charts to draw."""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="ntrader">
<title>{_e(title)}</title>
<style>{_CSS}</style>
<script>{_ERROR_CAPTURE}</script>
</head>
<body data-report-status="loading" data-charts-expected="{charts}" data-charts-rendered="0">
<main>
<div id="js-errors" hidden></div>
{body}
<footer>Generated by ntrader on {generated}. Self-contained: opens without a network.</footer>
</main>
</body>
</html>
"""


def figure_html(fig: go.Figure, div_id: str, include_plotlyjs: bool = True) -> str:
    """A figure as an HTML fragment; plotly.js inline unless an earlier chart of the page has it."""
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=include_plotlyjs,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
            post_script=_CHART_DONE,
        )
    )


def _add_price(fig: go.Figure, report: RunReport, row: int) -> None:
    closes = report.closes
    bars = report.bars
    assert closes is not None and bars is not None
    if len(bars) <= MAX_CANDLES:
        fig.add_trace(
            go.Candlestick(
                x=closes.index,
                open=bars["open"].to_numpy(),
                high=bars["high"].to_numpy(),
                low=bars["low"].to_numpy(),
                close=bars["close"].to_numpy(),
                name=report.record.symbol,
                increasing={"line": {"color": "#94a3b8", "width": 1}, "fillcolor": "#e2e8f0"},
                decreasing={"line": {"color": "#475569", "width": 1}, "fillcolor": "#64748b"},
                showlegend=False,
            ),
            row=row,
            col=1,
        )
    else:
        fig.add_trace(_line(_thin(closes), report.record.symbol, COLORS["price"]), row=row, col=1)
    for trace in trade_traces(report.trades, COLORS):
        fig.add_trace(trace, row=row, col=1)
    fig.update_yaxes(title_text="Price", row=row, col=1)


def _line(series: pd.Series, name: str, color: str, width: float = 1.5, dash: str = "solid") -> go.Scatter:
    return go.Scatter(
        x=series.index,
        y=series.to_numpy(dtype="float64"),
        name=name,
        mode="lines",
        line={"color": color, "width": width, "dash": dash},
        hovertemplate="%{y:,.2f}<extra>" + html.escape(name) + "</extra>",
    )


def _thin(series: pd.Series, limit: int = MAX_LINE_POINTS) -> pd.Series:
    """Every k-th point (and the last) so a line has at most about ``limit`` points."""
    if len(series) <= limit:
        return series
    step = -(-len(series) // limit)
    keep = np.arange(0, len(series), step)
    if keep[-1] != len(series) - 1:
        keep = np.append(keep, len(series) - 1)
    return series.iloc[keep]


def _kpi(label: str, text: str, value: float | None) -> str:
    tone = "" if value is None or value == 0 else (" up" if value > 0 else " down")
    return (
        f'<div class="kpi"><div class="label">{_e(label)}</div>'
        f'<div class="value{tone}">{_e(text)}</div></div>'
    )


def kv_table(rows: Iterable[tuple[str, str]], css_class: str = "kv") -> str:
    """Label/value rows as an HTML table."""
    body = "".join(f'<tr><th>{_e(k)}</th><td class="num">{_e(v)}</td></tr>' for k, v in rows)
    return f'<table class="{css_class}">{body}</table>'


def _trades_html(trades: pd.DataFrame, *, with_symbol: bool = False) -> str:
    """The trade table; ``with_symbol`` adds a Symbol column after "#" (a portfolio's trades)."""
    if trades.empty:
        return "<p>No trades.</p>"
    headings = (TRADE_HEADINGS[0], "Symbol", *TRADE_HEADINGS[1:]) if with_symbol else TRADE_HEADINGS
    head = "".join(f'<th class="{"num" if h in NUMERIC_HEADINGS else ""}">{_e(h)}</th>' for h in headings)
    body = []
    rows = trade_rows(trades, MAX_TRADE_ROWS)
    symbols = [str(s) for s in trades["symbol"].head(len(rows))] if with_symbol else []
    for i, row in enumerate(rows):
        tone = "up" if row.pnl > 0 else "down" if row.pnl < 0 else ""
        classes = [
            f"{'num' if h in NUMERIC_HEADINGS else ''} {tone if h == 'P&L' else ''}".strip() for h in headings
        ]
        values = (row.cells[0], symbols[i], *row.cells[1:]) if with_symbol else row.cells
        cells = "".join(f'<td class="{c}">{_e(v)}</td>' for c, v in zip(classes, values, strict=True))
        body.append(f"<tr>{cells}</tr>")
    more = ""
    if len(trades) > MAX_TRADE_ROWS:
        more = (
            f"<p>First {MAX_TRADE_ROWS:,} of {len(trades):,} trades; "
            "<code>ntrader report export ID --format csv</code> writes them all.</p>"
        )
    table = f'<table class="wide" id="trades"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
    box = filter_box(min(len(trades), MAX_TRADE_ROWS))
    return f'{box}<div class="scroll">{table}</table></div>{more}{TABLE_SCRIPT}'


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
