"""The strategy's own indicators (as it declares them, `ntrader.strategies.plots`) and the volume,
drawn with the price in the HTML report."""

from __future__ import annotations

import plotly.graph_objects as go

from ntrader.reports.model import RunReport
from ntrader.strategies.plots import PRICE, Indicator, plots_of

LINE_COLORS = ("#7c3aed", "#0891b2", "#ca8a04", "#db2777", "#4b5563")


def indicators_of(report: RunReport) -> tuple[list[Indicator], str | None]:
    """The run's strategy's indicators over its bars, or none and why (a strategy that declares
    none, a user file that moved): the chart is an extra, never a reason to lose the report."""
    if report.bars is None:
        return [], None
    from ntrader.strategies import get_strategy

    try:
        function = plots_of(get_strategy(report.record.strategy).strategy_class)
        if function is None:
            return [], None
        out = function(report.bars, report.record.params)
    except Exception as exc:
        return [], f"The strategy's indicators could not be drawn ({exc})."
    return [i for i in out if len(i.values) == len(report.bars)], None


def panels(indicators: list[Indicator]) -> list[str]:
    """The panels below the price, in declaration order."""
    return list(dict.fromkeys(i.panel for i in indicators if i.panel != PRICE))


def add_indicators(fig: go.Figure, report: RunReport, indicators: list[Indicator], price_row: int) -> None:
    """Price-panel lines on `price_row`, the volume on the next row, other panels below it."""
    closes = report.closes
    assert closes is not None and report.bars is not None
    x = closes.index
    rows = {name: price_row + 2 + k for k, name in enumerate(panels(indicators))}
    for k, ind in enumerate(indicators):
        row = price_row if ind.panel == PRICE else rows[ind.panel]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=ind.values,
                name=ind.name,
                mode="lines",
                line={"color": LINE_COLORS[k % len(LINE_COLORS)], "width": 1.3, "dash": ind.dash},
                hovertemplate="%{y:,.2f}<extra>" + ind.name + "</extra>",
                meta="indicator",
            ),
            row=row,
            col=1,
        )
        for level in ind.levels:
            fig.add_hline(y=level, line={"color": "#9ca3af", "width": 1, "dash": "dot"}, row=row, col=1)
    for name, row in rows.items():
        fig.update_yaxes(title_text=name, row=row, col=1)
    fig.add_trace(
        go.Bar(
            x=x,
            y=report.bars["volume"].to_numpy(dtype="float64"),
            name="Volume",
            marker={"color": "#64748b", "line": {"width": 0}},
            hovertemplate="%{y:,.0f}<extra>Volume</extra>",
            showlegend=False,
        ),
        row=price_row + 1,
        col=1,
    )
    fig.update_yaxes(title_text="Volume", row=price_row + 1, col=1)
