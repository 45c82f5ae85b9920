"""Sweep reports: the ranked table (screened beside confirmed figures) and, for two-parameter
grids, a heatmap of the metric; text for the terminal, a self-contained HTML page for a browser."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from rich.console import Console
from rich.table import Table

from ntrader.db.sweeps import SweepRecord, get_sweep
from ntrader.reports.display import METRIC_LABELS, PERCENT_METRICS, fmt_metric
from ntrader.reports.export import Export, resolve_output, write_text
from ntrader.reports.html import _e, figure_html, kv_table, page

SWEEP_FORMATS = ("text", "html")
NONE_MARK = "–"
# Rows in the ranked tables; the heatmap always shows every combination.
MAX_ROWS = 50


def _params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def sweep_table(record: SweepRecord, limit: int = MAX_ROWS) -> Table:
    """Ranked rows: parameters, screened figures, and for confirmed rows Nautilus's figures and run id."""
    metric = record.metric
    confirming = record.engine == "vector" and any(r.get("confirmed") for r in record.results)
    caption = (
        "Figures from the vector screen; NT: the same combination rerun in Nautilus (saved as run Run)."
        if confirming
        else "Figures from Nautilus runs."
        if record.engine == "nautilus"
        else "Figures from the vector screen."
    )
    table = Table(
        title=f"Sweep {record.id}: {record.strategy} on {record.symbol}, ranked by {METRIC_LABELS[metric]}",
        title_justify="left",
        caption=caption,
        caption_justify="left",
    )
    table.add_column("#", justify="right")
    for name in record.grid:
        table.add_column(name, justify="right")
    shown = [metric] + [m for m in ("total_return", "max_drawdown") if m != metric]
    for name in shown:
        table.add_column(METRIC_LABELS[name], justify="right", no_wrap=True)
    if confirming:
        for name in shown:
            table.add_column(f"NT {METRIC_LABELS[name]}", justify="right", no_wrap=True)
    table.add_column("Run", justify="right")
    for row in record.results[:limit]:
        cells = [str(row["rank"]), *(_value(row["params"].get(n)) for n in record.grid)]
        cells += [fmt_metric(m, row["screened"].get(m)) for m in shown]
        if confirming:
            confirmed = row.get("confirmed") or {}
            cells += [fmt_metric(m, confirmed.get(m)) if confirmed else "" for m in shown]
        run = str(row["run_id"]) if row.get("run_id") else ""
        status = (row.get("confirmed") or {}).get("status", "completed")
        cells.append(run if status == "completed" else f"{run} [red]{status}[/red]")
        table.add_row(*cells)
    return table


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe(record: SweepRecord) -> list[tuple[str, str]]:
    s = record.settings
    return [
        ("Strategy", record.strategy),
        ("Symbol", record.symbol),
        ("Data", f"{record.data_source} · {s.get('bar_size', '')} · {record.bars:,} bars"),
        ("Period", f"{record.start.date()} → {record.end.date()}"),
        ("Grid", "; ".join(f"{k}: {', '.join(_value(v) for v in vals)}" for k, vals in record.grid.items())),
        ("Constraints", "; ".join(record.constraints) or "none"),
        (
            "Combinations",
            f"{s.get('combinations', len(record.results)):,} run, "
            f"{s.get('excluded_by_constraints', 0):,} excluded by constraints, "
            f"{s.get('invalid', 0):,} invalid for the strategy",
        ),
        ("Engine", "vector screen, top confirmed in Nautilus" if record.engine == "vector" else "Nautilus"),
        ("Capital", f"{record.capital:,.2f}"),
        ("Commission", str(s.get("commission_description", s.get("commission", "")))),
        ("Fills", str(s.get("fill_at", ""))),
    ]


def _num(value: Any, digits: int = 2) -> str:
    return NONE_MARK if value is None else f"{value:.{digits}f}"


def verdict_lines(validation: dict[str, Any] | None, *, full: bool = False) -> list[str]:
    """The overfitting gate as text: trials, best Sharpe, DSR, PBO, stability and the sentence;
    `full` adds what went into each figure."""
    if not validation:
        return ["Validation: not recorded for this sweep (saved before the overfitting gate existed)."]
    details = validation.get("details") or {}
    trials = f"{validation['trials']:,}"
    earlier = validation.get("trials_earlier_sweeps") or 0
    if earlier:
        trials += f" ({validation.get('trials_this_sweep', 0):,} here + {earlier:,} in earlier sweeps)"
    lines = [
        "Validation (is this edge real?)",
        f"  Trials          {trials}",
        f"  Best Sharpe     {_num(validation.get('best_sharpe'))}",
        f"  DSR             {_num(validation.get('dsr'))}   "
        "(deflated Sharpe: P[true Sharpe > 0]; pass >= 0.95)",
        f"  PBO             {_num(validation.get('pbo'))}   "
        "(probability of backtest overfitting, CSCV; pass < 0.5)",
        f"  Stability       {_num(validation.get('stability'))}   (grid neighbours' Sharpe / best's)",
    ]
    if full:
        dsr = details.get("dsr") or {}
        if dsr:
            lines.append(
                f"  DSR inputs      hurdle Sharpe {_num(dsr.get('hurdle_annual'))} (expected best of "
                f"{dsr.get('trials')} skill-less trials, trials' Sharpe std "
                f"{_num(dsr.get('trials_sharpe_std_annual'))}), {dsr.get('observations')} daily returns, "
                f"skew {_num(dsr.get('skew'))}, kurtosis {_num(dsr.get('kurtosis'))}"
            )
        pbo = details.get("pbo") or {}
        if pbo:
            lines.append(
                f"  PBO inputs      {pbo.get('blocks')} blocks, {pbo.get('combinations'):,} splits, "
                f"{pbo.get('trials')} trials; degradation slope {_num(pbo.get('degradation_slope'))}, "
                f"P[OOS loss] {_num(pbo.get('probability_of_loss'))}"
            )
        stability = details.get("stability") or {}
        if stability:
            lines.append(
                f"  Stability       best {_num(stability.get('best'))}, {stability.get('neighbours')} "
                f"neighbours averaging {_num(stability.get('neighbour_mean'))}"
            )
    for note in details.get("notes", []):
        lines.append(f"  Note: {note}")
    lines.append(f"  Verdict: {validation.get('sentence', '')}")
    return lines


def walk_forward_validation_line(validation: dict[str, Any] | None) -> str:
    """`backtest walk-forward`: the efficiency (OOS Sharpe / IS Sharpe) and the stitched DSR."""
    if not validation:
        return "Walk-forward efficiency: not recorded."
    eff = validation.get("efficiency") or {}
    folds = [v for v in eff.get("folds", []) if v is not None]
    median = float(np.median(folds)) if folds else None
    dsr = validation.get("dsr") or {}
    return (
        f"Walk-forward efficiency (OOS Sharpe / IS Sharpe): {_num(eff.get('overall'))} overall, median "
        f"{_num(median)} over the {len(folds)} of {len(eff.get('folds', []))} folds with a positive "
        f"in-sample Sharpe. Stitched out-of-sample DSR {_num(validation.get('stitched_dsr'))} "
        f"(best of {dsr.get('trials', NONE_MARK)} trials per fold)."
    )


def render_sweep_text(
    record: SweepRecord, width: int = 160, limit: int = MAX_ROWS, *, full_validation: bool = False
) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, highlight=False, soft_wrap=False)
    for label, value in describe(record):
        console.print(f"{label + ':':<14}{value}")
    for note in record.settings.get("notes", []):
        console.print(f"Note: {note}")
    console.print(sweep_table(record, limit))
    if len(record.results) > limit:
        console.print(f"First {limit} of {len(record.results):,} combinations.")
    for line in verdict_lines(record.settings.get("validation"), full=full_validation):
        console.print(line, markup=False)
    return buffer.getvalue()


def heatmap_figure(record: SweepRecord) -> go.Figure | None:
    """The metric over a two-parameter grid (x: first parameter, y: second); None otherwise."""
    if len(record.grid) != 2:
        return None
    x_name, y_name = list(record.grid)
    xs, ys = list(record.grid[x_name]), list(record.grid[y_name])
    z = np.full((len(ys), len(xs)), np.nan)
    runs: list[list[str]] = [["" for _ in xs] for _ in ys]
    for row in record.results:
        params, value = row["params"], row["screened"].get(record.metric)
        if params.get(x_name) in xs and params.get(y_name) in ys and value is not None:
            yi, xi = ys.index(params[y_name]), xs.index(params[x_name])
            z[yi, xi] = value
            runs[yi][xi] = f"#{row['rank']}"
    label = METRIC_LABELS[record.metric]
    percent = record.metric in PERCENT_METRICS
    values = [["" if np.isnan(v) else fmt_metric(record.metric, float(v)) for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            x=[_value(v) for v in xs],
            y=[_value(v) for v in ys],
            z=z,
            customdata=runs,
            text=values,
            texttemplate="%{text}",
            # Centred on 0: a negative figure is red whatever the grid's range, a positive green.
            zmid=0.0,
            colorscale=[[0.0, "#b91c1c"], [0.5, "#f8fafc"], [1.0, "#15803d"]],
            colorbar={"title": {"text": label}, "tickformat": ".0%" if percent else ".2f"},
            hovertemplate=(
                f"{x_name}=%{{x}}<br>{y_name}=%{{y}}<br>{label}=%{{z:.4f}}<br>rank %{{customdata}}"
                "<extra></extra>"
            ),
            hoverongaps=False,
        )
    )
    best = next((r for r in record.results if r["screened"].get(record.metric) is not None), None)
    if best is not None and best["params"].get(x_name) in xs and best["params"].get(y_name) in ys:
        fig.add_trace(
            go.Scatter(
                x=[_value(best["params"][x_name])],
                y=[_value(best["params"][y_name])],
                mode="markers",
                name="best",
                # An outline around the best cell, its value still readable inside.
                marker={"symbol": "square-open", "size": 36, "color": "#111827", "line": {"width": 3}},
                hovertemplate="best (rank 1)<extra></extra>",
                showlegend=False,
            )
        )
    fig.update_layout(
        template="plotly_white",
        title=f"{label} by {x_name} and {y_name} (blank: excluded or undefined)",
        xaxis={"title": {"text": x_name}, "type": "category"},
        yaxis={"title": {"text": y_name}, "type": "category"},
        height=560,
        margin={"l": 70, "r": 20, "t": 50, "b": 50},
    )
    return fig


_MARKUP = re.compile(r"\[/?[a-z]+\]")  # rich markup around a status ("[red]halted[/red]")


def _run_cell(text: str) -> str:
    """A run id links to its report, saved side by side as run-<id>.html (`report export`)."""
    match = re.match(r"^(\d+)(.*)$", text)
    if not match:
        return _e(text)
    run_id, rest = match.groups()
    status = _e(_MARKUP.sub("", rest))
    return f'<a href="run-{run_id}.html">{run_id}</a>{status}'


def _html_table(record: SweepRecord) -> str:
    table = sweep_table(record)
    heads = "".join(f'<th class="num">{_e(str(c.header))}</th>' for c in table.columns)
    body = []
    columns = [list(c.cells) for c in table.columns]
    last = len(columns) - 1
    for r in range(len(columns[0]) if columns else 0):
        cells = [_run_cell(str(col[r])) if k == last else _e(str(col[r])) for k, col in enumerate(columns)]
        body.append("<tr>" + "".join(f'<td class="num">{c}</td>' for c in cells) + "</tr>")
    return (
        f'<div class="scroll"><table class="wide" id="sweep-table"><thead><tr>{heads}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def render_sweep_html(record: SweepRecord) -> str:
    """A self-contained page: settings, heatmap (two-parameter grids) and the ranked table."""
    title = f"Sweep {record.id}: {record.strategy} on {record.symbol}"
    figure = heatmap_figure(record)
    notes = [f'<div class="note">{_e(n)}</div>' for n in record.settings.get("notes", [])]
    parts = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="sub">ranked by {_e(METRIC_LABELS[record.metric])}; confirmed rows were rerun in '
        "Nautilus and saved as runs</p>",
        *notes,
        f'<div class="card"><h2>Sweep</h2>{kv_table(describe(record))}</div>',
        '<div class="card" id="validation"><h2>Validation</h2><pre class="verdict">'
        f"{_e(chr(10).join(verdict_lines(record.settings.get('validation'), full=True)))}</pre></div>",
    ]
    if figure is not None:
        parts.append(f'<div class="card" id="heatmap">{figure_html(figure, "sweep-heatmap")}</div>')
    parts.append(f'<div class="card"><h2>Ranking</h2>{_html_table(record)}</div>')
    if figure is None:
        # No chart to wait for: the page is complete once it has parsed without a script error.
        parts.append(
            "<script>if (!window.__reportErrors.length) "
            '{ document.body.setAttribute("data-report-status", "rendered"); }</script>'
        )
    return page(title, "\n".join(parts), charts=1 if figure is not None else 0)


def export_sweep(
    sweep_id: int, fmt: str = "text", output: str | Path | None = None, *, url: str | None = None
) -> Export:
    """Text to stdout (or a file); HTML to a file, `$NTRADER_HOME/reports/sweep-<id>.html` by default."""
    record = get_sweep(sweep_id, url=url)
    fmt = fmt.lower()
    if fmt == "html":
        path = resolve_output(output, f"sweep-{sweep_id}.html", to_reports_dir=True)
        assert path is not None
        return Export("html", write_text(path, render_sweep_html(record)))
    content = render_sweep_text(record, full_validation=True)
    path = resolve_output(output, f"sweep-{sweep_id}.txt")
    if path is None:
        return Export("text", None, content)
    return Export("text", write_text(path, content))


__all__ = [
    "SWEEP_FORMATS",
    "export_sweep",
    "heatmap_figure",
    "render_sweep_html",
    "render_sweep_text",
    "sweep_table",
    "verdict_lines",
    "walk_forward_validation_line",
]
