"""Terminal tables the CLI prints: saved runs, sweeps, walk-forward folds, fetches, stored bars, strategies.

Plain functions from library values to rich Tables (or lines), so commands only parse, call and print.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table

from ntrader.db.runs import RunRecord
from ntrader.db.sweeps import SweepRecord
from ntrader.reports.display import METRIC_LABELS, fmt_metric

if TYPE_CHECKING:
    import pandas as pd

    from ntrader.backtest.walkforward import WalkForwardOutcome
    from ntrader.data.check import QualityReport
    from ntrader.data.store import StoredSeries
    from ntrader.ibkr.fetch import FetchReport
    from ntrader.strategies.registry import StrategySpec

NONE_MARK = "–"
_NUMERIC = {"ID", "Trades", "Return", "Max DD", "Bars", "Requests", "Cached windows", "Gaps", "Combinations"}


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return NONE_MARK
    return f"{value:+.2%}" if signed else f"{value:.2%}"


def _table(title: str | None, columns: Iterable[str], *, left: Iterable[str] = (), **kwargs: Any) -> Table:
    """A table whose numeric columns (the `_NUMERIC` names, or any not in `left`) are right-aligned."""
    left_set = set(left)
    table = Table(title=title, title_justify="left", **kwargs)
    for column in columns:
        right = column in _NUMERIC or (left_set and column not in left_set)
        table.add_column(column, justify="right" if right else "left")
    return table


def _when(stamp: pd.Timestamp | None, daily: bool) -> str:
    if stamp is None:
        return NONE_MARK
    return stamp.strftime("%Y-%m-%d") if daily else stamp.strftime("%Y-%m-%d %H:%M")


def params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


# Runs -------------------------------------------------------------------------------------------------


def runs_table(runs: Sequence[RunRecord]) -> Table:
    """`backtest list-results`: one row per saved run, newest first."""
    columns = ("ID", "Created (UTC)", "Strategy", "Symbol", "Source", "Status", "Period", "Trades")
    table = _table("Backtest runs (newest first)", (*columns, "Return", "Max DD"))
    for r in runs:
        table.add_row(
            str(r.id),
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            r.strategy,
            r.symbol,
            r.data_source,
            r.status if r.status == "completed" else f"[red]{r.status}[/red]",
            f"{r.start.date()} → {r.end.date()}",
            str(r.metrics.get("trade_count", "")),
            _pct(r.total_return, signed=True),
            _pct(r.metrics.get("max_drawdown")),
        )
    return table


# Sweeps -----------------------------------------------------------------------------------------------


def sweep_summary(record: SweepRecord) -> dict[str, Any]:
    """One saved sweep in a line: what it swept, how many combinations, and its best row."""
    best = record.results[0] if record.results else None
    return {
        "id": record.id,
        "created_at": record.created_at.isoformat(),
        "kind": record.kind,
        "strategy": record.strategy,
        "symbol": record.symbol,
        "engine": record.engine,
        "metric": record.metric,
        "combinations": record.settings.get("combinations", len(record.results)),
        "best": None
        if best is None
        else {
            "params": best.get("params", {}),
            "value": (best.get("screened") or {}).get(record.metric),
            "run_id": best.get("run_id"),
        },
    }


def sweeps_table(sweeps: Sequence[SweepRecord]) -> Table:
    """`report sweeps`: one row per saved sweep, newest first, with its best combination."""
    table = _table(
        "Saved sweeps (newest first)",
        ("ID", "Created (UTC)", "Strategy", "Symbol", "Engine", "Metric", "Combinations", "Best", "Value"),
    )
    for record in sweeps:
        row = sweep_summary(record)
        best = row["best"] or {}
        table.add_row(
            str(record.id),
            record.created_at.strftime("%Y-%m-%d %H:%M"),
            record.strategy,
            record.symbol,
            record.engine,
            METRIC_LABELS.get(record.metric, record.metric),
            f"{row['combinations']:,}",
            params_text(best.get("params", {})) or NONE_MARK,
            fmt_metric(record.metric, best.get("value")),
        )
    return table


# Walk-forward -----------------------------------------------------------------------------------------


def folds_table(outcome: WalkForwardOutcome) -> Table:
    """`backtest walk-forward`: each fold's test window, chosen parameters and out-of-sample figures."""
    metric = outcome.metric
    columns = ("Fold", "Test window", "Parameters", f"IS {metric}", "OOS return", "OOS Sharpe", "OOS max DD")
    table = _table(
        f"Walk-forward: {outcome.strategy} on {outcome.symbol}, chosen by {metric} (in-sample)",
        (*columns, "Trades"),
        left=("Test window", "Parameters"),
    )
    for fold in outcome.folds:
        table.add_row(
            str(fold.number),
            f"{fold.test_start.date()} → {fold.test_end.date()}",
            params_text(fold.params),
            fmt_metric(metric, fold.in_sample),
            _pct(fold.oos_return, signed=True),
            fmt_metric("sharpe", fold.oos_sharpe),
            _pct(fold.oos_max_drawdown),
            str(fold.trades),
        )
    return table


def walk_forward_line(outcome: WalkForwardOutcome) -> str:
    """The stitched out-of-sample figures in one sentence."""
    m = outcome.metrics
    return (
        f"Out of sample, stitched: return {_pct(m.total_return, signed=True)}, CAGR {_pct(m.cagr)}, "
        f"Sharpe {fmt_metric('sharpe', m.sharpe)}, max drawdown {_pct(m.max_drawdown)}, "
        f"{m.trade_count} trades."
    )


# Bars -------------------------------------------------------------------------------------------------


def fetch_table(report: FetchReport) -> Table:
    """`data fetch`: bars stored, range, requests and gaps per symbol."""
    table = _table(
        "IBKR fetch (UTC)",
        ("Symbol", "Bar size", "Bars", "Range", "Requests (minimum)", "Cached windows", "Gaps"),
    )
    for r in report.results:
        daily = r.bar_size == "1-DAY"
        span = f"{_when(r.first, daily)} → {_when(r.last, daily)}" if r.first is not None else NONE_MARK
        table.add_row(
            r.symbol,
            r.bar_size,
            f"{r.bars_stored:,}",
            span if not r.error else f"error: {r.error}",
            f"{r.requests} ({r.minimum_requests})",
            str(r.cached_windows),
            str(len(r.gaps)),
        )
    return table


def fetch_problems(report: FetchReport) -> list[str]:
    """One line per failed window and per gap a fetch left, for under its table."""
    lines = []
    for r in report.results:
        for (a, b), why in r.failed_windows:
            lines.append(f"{r.symbol}: window {a:%Y-%m-%d %H:%M} → {b:%Y-%m-%d %H:%M} failed: {why}")
        for a, b in r.gaps:
            empty = any(x <= a and b <= y for x, y in r.empty_windows)
            lines.append(
                f"{r.symbol}: missing {a:%Y-%m-%d %H:%M} → {b:%Y-%m-%d %H:%M}"
                + (" (IB: no data)" if empty else "")
            )
    return lines


def stored_bars_table(series: Sequence[StoredSeries]) -> Table:
    """`data list`: one row per symbol, bar size and source."""
    table = _table("Stored bars (UTC)", ("Symbol", "Bar size", "Source", "First", "Last", "Bars"))
    for s in series:
        daily = s.bar_size == "1-DAY"
        table.add_row(
            s.symbol, s.bar_size, s.source, _when(s.first, daily), _when(s.last, daily), f"{s.rows:,}"
        )
    return table


def quality_table(report: QualityReport, shown: int = 3) -> Table:
    """`data check`: one row per check with its count and the first windows it flagged (UTC)."""
    from ntrader.data.check import CHECKS

    daily = report.bar_size == "1-DAY"
    title = f"Data check: {report.symbol} {report.bar_size} from {report.source}"
    caption = (
        f"{_when(report.first, daily)} → {_when(report.last, daily)}: {report.rows:,} bars, "
        f"{report.sessions:,} sessions, {report.hours} hours"
    )
    table = _table(
        title, ("Check", "Found", "Where (UTC)"), left=("Check", "Where (UTC)"), caption=caption,
        caption_justify="left",
    )  # fmt: skip
    for finding in report.findings:
        where = [
            f"{_when(a, daily)} → {_when(b, daily)}" + (f" ({detail})" if detail else "")
            for a, b, detail in finding.windows[:shown]
        ]
        if len(finding.windows) > shown:
            where.append(f"… {len(finding.windows) - shown} more windows (--json lists up to 100)")
        table.add_row(CHECKS[finding.check], f"{finding.count:,}", "\n".join(where) or NONE_MARK)
    return table


def key_value_table(title: str, rows: Iterable[tuple[str, str]]) -> Table:
    """Two columns without a header, e.g. `data connect`'s connection facts."""
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("Field")
    table.add_column("Value")
    for name, value in rows:
        table.add_row(name, value)
    return table


# Strategies -------------------------------------------------------------------------------------------


def strategy_summary(spec: StrategySpec) -> dict[str, Any]:
    """A strategy as `strategy list --json` shows it."""
    return {
        "name": spec.name,
        "aliases": list(spec.aliases),
        "description": spec.description,
        "parameters": {p.name: p.default for p in spec.parameters},
    }


def strategy_detail(spec: StrategySpec) -> dict[str, Any]:
    """A strategy as `strategy show --json` shows it: the summary, its rule, typed parameters."""
    return {
        **strategy_summary(spec),
        "rule": spec.rule,
        "parameters": [
            {
                "name": p.name,
                "type": p.type.__name__,
                "default": p.default,
                "bounds": spec.bounds.get(p.name, ""),
            }
            for p in spec.parameters
        ],
    }


def strategies_table(specs: Sequence[StrategySpec]) -> Table:
    from ntrader.cli.catalog import summaries_table

    return summaries_table([strategy_summary(spec) for spec in specs])


def strategy_parameters_table(spec: StrategySpec) -> Table:
    table = Table(title="Parameters", title_justify="left")
    for column in ("Name", "Type", "Default", "Bounds"):
        table.add_column(column)
    for p in spec.parameters:
        table.add_row(p.name, p.type.__name__, str(p.default), spec.bounds.get(p.name, ""))
    return table
