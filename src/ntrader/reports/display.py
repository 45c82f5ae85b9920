"""How results print in a terminal (`repr`) and in Jupyter (`_repr_html_`): labelled figures by group."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ntrader.metrics import Metrics

Rows = Sequence[tuple[str, str]]

PERCENT_METRICS = {"total_return", "cagr", "max_drawdown"}
#: Short labels of the metrics a sweep ranks by (tables, sweep reports, the web UI).
METRIC_LABELS = {
    "sharpe": "Sharpe",
    "cagr": "CAGR",
    "calmar": "Calmar",
    "total_return": "Return",
    "max_drawdown": "Max DD",
}


def fmt_metric(name: str, value: Any) -> str:
    """A ranked metric as the sweep tables show it (percent for returns and drawdowns)."""
    if value is None:
        return "–"
    return f"{value:.2%}" if name in PERCENT_METRICS else f"{value:.2f}"


def _text_block(sections: Iterable[tuple[str | None, Rows]]) -> str:
    sections = list(sections)
    width = max((len(label) for _, rows in sections for label, _ in rows), default=0)
    lines: list[str] = []
    for title, rows in sections:
        if title:
            lines.append(f"{title}:")
        lines.extend(f"  {label:<{width}}  {value}" for label, value in rows)
    return "\n".join(lines)


def _html_block(sections: Iterable[tuple[str | None, Rows]]) -> str:
    body = []
    for title, rows in sections:
        if title:
            body.append(f'<tr><th colspan="2" style="text-align:left">{html.escape(title)}</th></tr>')
        body.extend(
            f'<tr><td style="text-align:left">{html.escape(label)}</td>'
            f'<td style="text-align:right">{html.escape(value)}</td></tr>'
            for label, value in rows
        )
    return f'<table class="ntrader">{"".join(body)}</table>'


def _metric_sections(metrics: Metrics) -> list[tuple[str | None, Rows]]:
    return [(group, rows) for group, rows in metrics.groups().items()]


def metrics_text(metrics: Metrics) -> str:
    """Every figure, labelled and formatted as the reports show it, grouped Returns / Risk / Trades."""
    return _text_block(_metric_sections(metrics))


def metrics_html(metrics: Metrics) -> str:
    return _html_block(_metric_sections(metrics))
