"""The portfolio part of a many-symbol run's report: its symbols, their bars, the per-symbol table.

A run is reported as a portfolio when its stored metrics hold a "portfolio" block
(``ntrader.metrics.portfolio.portfolio_metrics``); single-symbol reports never reach this module.
pandas and rich are imported where they are used, so importing the reports stays quick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import RenderableType
    from rich.table import Table

    from ntrader.db.runs import RunRecord

#: ntrader.metrics.summary.NONE_MARK, not imported from there: metrics pulls in pandas at import.
NONE_MARK = "–"
PER_SYMBOL_HEADINGS = ("Symbol", "P&L", "Contribution", "Return", "Exposure", "Trades", "Open", "Win rate")


@dataclass(frozen=True)
class PortfolioView:
    """What a report shows of a portfolio run besides the account's own figures.

    ``block`` is the stored ``metrics["portfolio"]``; ``bars`` each symbol's reloaded bars
    (indexed by bar open time) when the report loaded bars; ``notes`` say what could not be loaded.
    """

    symbols: tuple[str, ...]
    block: dict[str, Any]
    bars: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def portfolio_block(record: RunRecord) -> dict[str, Any] | None:
    """The run's stored portfolio metrics, or None for a single-symbol run."""
    block = record.metrics.get("portfolio") if isinstance(record.metrics, dict) else None
    return block if isinstance(block, dict) else None


def run_symbols(record: RunRecord, url: str | None = None) -> tuple[str, ...]:
    """The run's symbols in order: ``settings["symbols"]``, else the run_symbols rows, else the block's."""
    stored = record.settings.get("symbols")
    if isinstance(stored, list | tuple) and stored:
        return tuple(str(s) for s in stored)
    from sqlalchemy import select

    from ntrader.db.engine import get_engine
    from ntrader.db.models import RunSymbol

    query = select(RunSymbol.symbol).where(RunSymbol.run_id == record.id).order_by(RunSymbol.position)
    with get_engine(url).connect() as connection:
        rows = [str(s) for s in connection.execute(query).scalars()]
    if rows:
        return tuple(rows)
    block = portfolio_block(record) or {}
    return tuple(str(s) for s in block.get("symbols", [record.symbol]))


def with_trade_symbols(trades: pd.DataFrame, run_id: int, url: str | None = None) -> pd.DataFrame:
    """``trades`` with their ``symbol`` column (read from the trades table when not loaded)."""
    if "symbol" in trades.columns:
        return trades
    from sqlalchemy import select

    from ntrader.db.engine import get_engine
    from ntrader.db.models import Trade

    query = select(Trade.symbol).where(Trade.run_id == run_id).order_by(Trade.id)
    with get_engine(url).connect() as connection:
        symbols = [str(s) for s in connection.execute(query).scalars()]
    out = trades.copy()
    out.insert(0, "symbol", symbols if len(symbols) == len(out) else [None] * len(out))
    return out


def load_portfolio(record: RunRecord, *, with_bars: bool, url: str | None = None) -> PortfolioView | None:
    """The portfolio view of a run (None for a single-symbol run), with each symbol's bars if asked."""
    block = portfolio_block(record)
    if block is None:
        return None
    symbols = run_symbols(record, url)
    if not with_bars:
        return PortfolioView(symbols, block)
    from ntrader.data import Period, load_bars
    from ntrader.reports.model import run_bar_size

    size = run_bar_size(record)
    if size is None:
        return PortfolioView(
            symbols, block, notes=(f"No price charts: bar type {record.bar_type!r} is unknown.",)
        )
    period = Period(record.start.date(), record.end.date())
    bars: dict[str, pd.DataFrame] = {}
    notes = []
    for symbol in symbols:
        try:
            bars[symbol] = load_bars(
                symbol, period, data_source=record.data_source, bar_size=size, database_url=url
            )
        except Exception as exc:
            # A price chart is an extra: a symbol whose bars cannot be reloaded loses only its chart.
            notes.append(f"No price chart for {symbol}: its bars could not be reloaded ({exc}).")
    return PortfolioView(symbols, block, bars, tuple(notes))


def symbol_closes(record: RunRecord, bars: pd.DataFrame) -> pd.Series | None:
    """A symbol's closes stamped at bar close time (the equity curve's clock)."""
    import pandas as pd

    from ntrader.reports.model import run_bar_size

    size = run_bar_size(record)
    if size is None or bars.empty:
        return None
    index = size.close_times(pd.DatetimeIndex(bars.index))
    return pd.Series(bars["close"].to_numpy(dtype="float64"), index=index, name="close")


def benchmark_curve(block: dict[str, Any], equity: pd.Series | None = None) -> pd.Series | None:
    """The equal-weight buy & hold's value at each day's end, or None if not stored.

    Stamped at the last equity point of each day when ``equity`` is given (so it lines up with
    the equity curve), else at the day's midnight UTC.
    """
    import pandas as pd

    allocation = block.get("allocation") or {}
    values = allocation.get("benchmark")
    if not values:
        return None
    index = pd.DatetimeIndex(pd.to_datetime(allocation["dates"], utc=True))
    if equity is not None:
        times = pd.DatetimeIndex(equity.index)
        ends = times[~times.normalize().duplicated(keep="last")]
        if len(ends) == len(index):
            index = ends
    return pd.Series(values, index=index, dtype="float64", name="equal_weight")


def benchmark_return(block: dict[str, Any]) -> float | None:
    """The equal-weight buy & hold's total return."""
    value = ((block.get("benchmark") or {}).get("equal_weight") or {}).get("total_return")
    return float(value) if isinstance(value, int | float) else None


def per_symbol_rows(block: dict[str, Any]) -> list[tuple[str, ...]]:
    """The per-symbol table's rows (cells in PER_SYMBOL_HEADINGS order)."""
    return [
        (
            str(row["symbol"]),
            _money(row.get("pnl")),
            _pct(row.get("contribution")),
            _pct(row.get("return")),
            _pct(row.get("exposure")),
            str(row.get("trades", 0)),
            str(row.get("open_trades", 0)),
            _pct(row.get("win_rate")),
        )
        for row in block.get("per_symbol", [])
    ]


def summary_rows(block: dict[str, Any]) -> list[tuple[str, str]]:
    """Turnover and the benchmarks with alpha and beta, as labelled text."""
    turnover = block.get("turnover") or {}
    bench = block.get("benchmark") or {}
    rows = [
        ("Turnover (annualized)", _times(turnover.get("annualized"))),
        ("Turnover (whole run)", _times(turnover.get("total"))),
    ]
    equal = bench.get("equal_weight")
    if isinstance(equal, dict):
        rows += _benchmark_rows(equal, "Equal-weight buy & hold return", "equal weight")
    external = bench.get("external")
    if isinstance(external, dict):
        name = str(external.get("name") or "benchmark")
        rows += _benchmark_rows(external, f"{name} buy & hold return", name)
    return rows


def _benchmark_rows(part: dict[str, Any], label: str, against: str) -> list[tuple[str, str]]:
    return [
        (label, _pct(part.get("total_return"))),
        (f"Alpha vs {against} (annualized)", _pct(part.get("alpha"))),
        (f"Beta vs {against}", _ratio(part.get("beta"))),
    ]


def convention_rows(block: dict[str, Any]) -> list[tuple[str, str]]:
    """The portfolio figures' definitions, labelled."""
    labels = {
        "pnl": "Symbol P&L",
        "contribution": "Contribution",
        "return": "Symbol return",
        "exposure": "Symbol exposure",
        "correlation": "Correlation",
        "turnover": "Turnover",
        "benchmark": "Benchmark",
        "alpha_beta": "Alpha and beta",
        "allocation": "Allocation",
        "clock": "Clock",
    }
    conventions = block.get("conventions") or {}
    return [(label, str(conventions[key])) for key, label in labels.items() if key in conventions]


def per_symbol_table(block: dict[str, Any]) -> Table:
    """The per-symbol table as a rich Table."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Per symbol", title_justify="left")
    for name in PER_SYMBOL_HEADINGS:
        table.add_column(name, justify="left" if name == "Symbol" else "right", no_wrap=True)
    for row in per_symbol_rows(block):
        pnl = _number(row[1])
        style = "green" if pnl > 0 else "red" if pnl < 0 else ""
        table.add_row(Text(row[0]), Text(row[1], style=style), *map(Text, row[2:]))
    return table


def correlation_table(block: dict[str, Any]) -> Table:
    from rich.table import Table
    from rich.text import Text

    corr = block.get("correlation") or {}
    symbols = [str(s) for s in corr.get("symbols", [])]
    table = Table(title="Correlation of daily returns", title_justify="left")
    table.add_column("")
    for symbol in symbols:
        table.add_column(symbol, justify="right")
    for symbol, values in zip(symbols, corr.get("matrix", []), strict=False):
        table.add_row(Text(symbol), *(Text(_ratio(v)) for v in values))
    return table


def portfolio_renderables(block: dict[str, Any]) -> list[RenderableType]:
    """The text report's portfolio part: per-symbol table, turnover and benchmarks, correlation."""
    from rich.panel import Panel

    from ntrader.reports.text import _pairs

    return [
        per_symbol_table(block),
        Panel(_pairs(summary_rows(block)), title="Portfolio", title_align="left", expand=False),
        correlation_table(block),
        Panel(
            _pairs(convention_rows(block)), title="Portfolio conventions", title_align="left", expand=False
        ),
    ]


def _number(text: str) -> float:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return 0.0


def _pct(value: Any) -> str:
    return NONE_MARK if not isinstance(value, int | float) else f"{value * 100:.2f}%"


def _money(value: Any) -> str:
    return NONE_MARK if not isinstance(value, int | float) else f"{value:,.2f}"


def _ratio(value: Any) -> str:
    return NONE_MARK if not isinstance(value, int | float) else f"{value:.2f}"


def _times(value: Any) -> str:
    return NONE_MARK if not isinstance(value, int | float) else f"{value:.2f}×"
