"""What each page shows, built from the library's reports (figures, tables, formatted values)."""

from __future__ import annotations

import json
import math
import socket
import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

from ntrader.ui.queries import METRIC_COLUMNS, PLAIN_COLUMNS, RunsPage

NONE_MARK = "–"
PERCENT = {"total_return", "cagr", "max_drawdown", "win_rate", "exposure", "annualized_return"}

#: Columns of the runs table: (key, heading, sortable key or None).
RUN_COLUMNS: list[tuple[str, str]] = [
    *((k, v) for k, v in PLAIN_COLUMNS.items()),
    ("params", "Parameters"),
    *((k, v) for k, v in METRIC_COLUMNS.items()),
]


def metric_text(name: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return NONE_MARK
    if name in PERCENT:
        return f"{float(value):+.2%}" if name == "total_return" else f"{float(value):.2%}"
    if name == "trade_count" or isinstance(value, int):
        return f"{int(value):,}"
    return f"{float(value):,.2f}"


def cell(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if key == "created_at":
        return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value)
    if key == "start":
        return f"{row['start'].date()} → {row['end'].date()}"
    if key == "params":
        return " ".join(f"{k}={v}" for k, v in (value or {}).items())
    if key == "bars":
        return f"{int(value or 0):,}"
    if key in METRIC_COLUMNS:
        return metric_text(key, value)
    return str(value)


def tone(value: Any) -> str:
    if not isinstance(value, int | float) or value == 0 or not math.isfinite(value):
        return ""
    return "up" if value > 0 else "down"


def sweep_value(value: Any, name: str) -> str:
    from ntrader.reports.sweep import fmt_metric

    return str(fmt_metric(name, value))


FILTERS = {"cell": cell, "metric_text": metric_text, "tone": tone, "sweep_value": sweep_value}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def runs_json(page: RunsPage) -> dict[str, Any]:
    return {
        "total": page.total,
        "page": page.filter.page,
        "per_page": page.filter.per_page,
        "pages": page.pages,
        "sort": page.filter.sort,
        "order": "desc" if page.filter.descending else "asc",
        "runs": [{k: _json_value(v) for k, v in row.items()} for row in page.rows],
    }


def figure_json(fig: Any) -> str:
    """A plotly figure as JSON that is safe inside a <script type="application/json"> element."""
    return str(fig.to_json()).replace("</", "<\\/")


class RunPageCache:
    """Rendered run pages by what they show: the run's id and creation time, its metrics, settings and
    status (a `report recompute` or `report validate` changes the key). Equity, trades and stored bars
    of a saved run never change, and building the report's plotly figures is most of a page's cost."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(url: str | None, record: Any) -> tuple[Any, ...]:
        state = json.dumps([record.metrics, record.settings, record.status], sort_keys=True, default=str)
        return (url, record.id, record.created_at.isoformat(), state)

    def get(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: tuple[Any, ...], value: dict[str, Any]) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


RUN_PAGES = RunPageCache()


def run_context(run_id: int, url: str | None) -> dict[str, Any]:
    """What the run page shows (cached by `RUN_PAGES`: the record is read each time, the rest once)."""
    from ntrader.db.runs import get_run

    key = RUN_PAGES.key(url, get_run(run_id, url))
    cached = RUN_PAGES.get(key)
    if cached is None:
        cached = build_run_context(run_id, url)
        RUN_PAGES.put(key, cached)
    return cached


def build_run_context(run_id: int, url: str | None) -> dict[str, Any]:
    from ntrader.reports import load_report
    from ntrader.reports.html import run_figure
    from ntrader.reports.model import NUMERIC_HEADINGS, TRADE_HEADINGS, trade_rows

    report = load_report(run_id, url=url)
    figures = {"run-chart": figure_json(run_figure(report))}
    m = report.metrics
    groups = m.groups()
    text = {label: value for rows in groups.values() for label, value in rows}
    kpis = [
        ("Total return", text["Total return"], m.total_return),
        ("CAGR", text["CAGR"], m.cagr),
        ("Buy & hold", text["Buy & hold return"], m.buy_and_hold_return),
        ("Sharpe ratio", text["Sharpe ratio"], m.sharpe),
        ("Max drawdown", text["Max drawdown"], m.max_drawdown),
        ("Trades · win rate", f"{m.trade_count} · {text['Win rate']}", None),
    ]
    return {
        "report": report,
        "record": report.record,
        "kpis": kpis,
        "groups": groups,
        "notes": report.notes(),
        "settings_rows": report.settings_rows(),
        "convention_rows": report.convention_rows(),
        "trade_headings": TRADE_HEADINGS,
        "numeric_headings": NUMERIC_HEADINGS,
        "trades": trade_rows(report.trades),
        "figures": figures,
        "tearsheet": tearsheet_cards(report, figures),
    }


def tearsheet_cards(report: Any, figures: dict[str, str]) -> list[str]:
    """The report's tearsheet cards (monthly heatmap, yearly, rolling, distribution, worst drawdowns,
    costs, stored validation), laid out by the library; their charts join `figures`, drawn by app.js.

    The validation shown is the stored one (`report validate`): a page view runs no Monte Carlo.
    """
    try:
        from ntrader.reports.tearsheet import tearsheet
        from ntrader.reports.tearsheet_html import tearsheet_sections
    except ImportError:  # an ntrader without tearsheets
        return []

    def placeholder(fig: Any, div_id: str, include_plotlyjs: bool = False) -> str:
        figures[div_id] = figure_json(fig)
        return f'<div class="chart" id="{div_id}" data-figure="{div_id}-data"></div>'

    cards, _ = tearsheet_sections(tearsheet(report), placeholder)
    return list(cards)


def compare_context(comparison: Any) -> dict[str, Any]:
    from ntrader.reports.compare import comparison_figure

    return {
        "comparison": comparison,
        "labels": [comparison.label(r) for r in comparison.reports],
        "rows": comparison.metric_rows(),
        "figures": {"compare-chart": figure_json(comparison_figure(comparison))},
    }


def sweep_context(record: Any) -> dict[str, Any]:
    from ntrader.reports.sweep import METRIC_LABELS, describe, fmt_metric, heatmap_figure

    shown = [record.metric] + [m for m in ("total_return", "max_drawdown") if m != record.metric]
    rows = []
    for result in record.results[:500]:
        confirmed = result.get("confirmed") or {}
        rows.append(
            {
                "rank": result.get("rank"),
                "params": [result["params"].get(name) for name in record.grid],
                "screened": [fmt_metric(m, result["screened"].get(m)) for m in shown],
                "confirmed": [fmt_metric(m, confirmed.get(m)) if confirmed else "" for m in shown],
                "run_id": result.get("run_id"),
                "status": confirmed.get("status", "completed") if confirmed else "",
            }
        )
    figure = heatmap_figure(record)
    verdict = _verdict(record.settings.get("validation"))
    return {
        "record": record,
        "describe": describe(record),
        "metric_headings": [METRIC_LABELS.get(m, m) for m in shown],
        "rows": rows,
        "verdict": verdict,
        "figures": {"sweep-heatmap": figure_json(figure)} if figure is not None else {},
    }


def _verdict(validation: dict[str, Any] | None) -> list[str] | None:
    """The sweep's overfitting verdict as the report prints it (the validation package's lines)."""
    try:
        from ntrader.reports.sweep import verdict_lines  # type: ignore[attr-defined]
    except ImportError:  # an ntrader without the validation gate
        return None
    return list(verdict_lines(validation, full=True))


def ibkr_status(timeout: float = 0.3) -> dict[str, Any]:
    """Where IB Gateway/TWS is expected and whether anything listens there (a TCP probe, no API
    handshake). Never includes the password or the user name."""
    from ntrader.config import get_settings

    ib = get_settings().ibkr
    try:
        with socket.create_connection((ib.host, ib.port), timeout=timeout):
            listening = True
    except OSError:
        listening = False
    return {
        "host": ib.host,
        "port": ib.port,
        "client_id": ib.client_id,
        "trading_mode": ib.trading_mode,
        "read_only": ib.read_only,
        "market_data_type": ib.market_data_type,
        "listening": listening,
    }


def data_context(url: str | None) -> dict[str, Any]:
    from ntrader.data.store import list_stored

    series = list_stored(url=url)
    return {
        "series": series,
        "series_json": [s.to_json_dict() for s in series],
        "ibkr": ibkr_status(),
    }
