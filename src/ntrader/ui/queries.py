"""The runs page's query: filter, sort (any metric column) and paginate in SQL, never in Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select

from ntrader.backtest.request import DATA_SOURCES
from ntrader.backtest.result import STATUS_COMPLETED, STATUS_HALTED, STATUS_INCONSISTENT
from ntrader.db.engine import get_engine
from ntrader.db.models import BacktestRun, RunSymbol
from ntrader.errors import InputError

PAGE_SIZES = (25, 50, 100, 200)
RUN_STATUSES = (STATUS_COMPLETED, STATUS_HALTED, STATUS_INCONSISTENT)

#: Metric columns of the runs table (JSON keys of `Metrics.to_json_dict`) and their headings.
METRIC_COLUMNS: dict[str, str] = {
    "total_return": "Return",
    "cagr": "CAGR",
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "max_drawdown": "Max DD",
    "win_rate": "Win rate",
    "trade_count": "Trades",
    "profit_factor": "Profit factor",
}
PLAIN_COLUMNS: dict[str, str] = {
    "id": "ID",
    "created_at": "Created (UTC)",
    "strategy": "Strategy",
    "symbol": "Symbol",
    "data_source": "Source",
    "status": "Status",
    "start": "Period",
    "bars": "Bars",
}
SORTABLE = {**PLAIN_COLUMNS, **METRIC_COLUMNS}


def _metric(name: str) -> ColumnElement[Any]:
    # JSON_EXTRACT on SQLite, ->> with a cast on PostgreSQL: SQLAlchemy spells it for each.
    return BacktestRun.metrics[name].as_float()


@dataclass(frozen=True)
class RunFilter:
    """What the runs page asks for; `parse` checks query-string values and says which one is wrong."""

    strategy: str = ""
    symbol: str = ""
    source: str = ""
    status: str = ""
    created_from: date | None = None
    created_to: date | None = None
    sort: str = "id"
    descending: bool = True
    page: int = 1
    per_page: int = 50

    @classmethod
    def parse(cls, query: dict[str, str]) -> RunFilter:
        sort = query.get("sort", "id") or "id"
        if sort not in SORTABLE:
            raise InputError(f"cannot sort by {sort!r}; use one of {', '.join(SORTABLE)}")
        order = (query.get("order", "desc") or "desc").lower()
        if order not in ("asc", "desc"):
            raise InputError(f"order must be asc or desc, got {order!r}")
        return cls(
            strategy=query.get("strategy", "").strip(),
            symbol=query.get("symbol", "").strip().upper(),
            source=query.get("source", "").strip().lower(),
            status=query.get("status", "").strip().lower(),
            created_from=_date(query.get("from", ""), "from"),
            created_to=_date(query.get("to", ""), "to"),
            sort=sort,
            descending=order == "desc",
            page=_int(query.get("page", "1"), "page", 1, 10**9),
            per_page=_int(query.get("per_page", "50"), "per_page", 1, max(PAGE_SIZES)),
        )

    def where(self, query: Select[Any]) -> Select[Any]:
        if self.strategy:
            query = query.where(BacktestRun.strategy == self.strategy)
        if self.symbol:
            holders = select(RunSymbol.run_id).where(RunSymbol.symbol == self.symbol)
            query = query.where(BacktestRun.id.in_(holders))
        if self.source:
            query = query.where(BacktestRun.data_source == self.source)
        if self.status:
            query = query.where(BacktestRun.status == self.status)
        if self.created_from:
            query = query.where(BacktestRun.created_at >= datetime.combine(self.created_from, time(), UTC))
        if self.created_to:
            end = datetime.combine(self.created_to + timedelta(days=1), time(), UTC)
            query = query.where(BacktestRun.created_at < end)
        return query

    def query_args(self, **changes: Any) -> dict[str, str]:
        """The query string of this filter (with `changes`), for links that keep it."""
        values = {
            "strategy": self.strategy,
            "symbol": self.symbol,
            "source": self.source,
            "status": self.status,
            "from": self.created_from.isoformat() if self.created_from else "",
            "to": self.created_to.isoformat() if self.created_to else "",
            "sort": self.sort,
            "order": "desc" if self.descending else "asc",
            "page": str(self.page),
            "per_page": str(self.per_page),
        }
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v}


@dataclass
class RunsPage:
    """One page of runs as plain dicts (only the columns the table shows), and how many match."""

    rows: list[dict[str, Any]]
    total: int
    filter: RunFilter
    choices: dict[str, list[str]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.filter.per_page))


def _date(text: str, name: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name} must be a date YYYY-MM-DD, got {text!r}") from None


def _int(text: str, name: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{name} must be a whole number, got {text!r}") from None
    if not low <= value <= high:
        raise InputError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _sort_key(name: str) -> ColumnElement[Any]:
    if name == "total_return":
        return BacktestRun.final_equity / BacktestRun.capital
    if name in METRIC_COLUMNS:
        return _metric(name)
    return getattr(BacktestRun, name)  # type: ignore[no-any-return]


def runs_page(flt: RunFilter, url: str | None = None) -> RunsPage:
    """The runs matching `flt`, sorted and cut to one page by the database (NULLs sort last).

    Two steps: the page's ids (only the sort key is computed for every matching row), then the
    shown columns for those ids alone, so the JSON metrics of 10 000 runs are never all parsed.
    """
    key = _sort_key(flt.sort)
    direction = key.desc() if flt.descending else key.asc()
    order = [direction] if flt.sort == "id" else [key.is_(None), direction, BacktestRun.id.desc()]
    page_ids = flt.where(select(BacktestRun.id)).order_by(*order)
    page_ids = page_ids.limit(flt.per_page).offset((flt.page - 1) * flt.per_page)
    columns = [
        BacktestRun.id,
        BacktestRun.created_at,
        BacktestRun.strategy,
        BacktestRun.params,
        BacktestRun.symbol,
        BacktestRun.data_source,
        BacktestRun.status,
        BacktestRun.start,
        BacktestRun.end,
        BacktestRun.bars,
        (BacktestRun.final_equity / BacktestRun.capital - 1).label("total_return"),
        *(_metric(name).label(name) for name in METRIC_COLUMNS if name != "total_return"),
    ]
    count = flt.where(select(func.count()).select_from(BacktestRun))
    with get_engine(url).connect() as connection:
        total = int(connection.execute(count).scalar_one())
        ids = list(connection.scalars(page_ids))
        found = {
            row.id: dict(row._mapping)
            for row in connection.execute(select(*columns).where(BacktestRun.id.in_(ids)))
        }
        # Strategy names come from its index; sources and statuses are fixed lists, since a DISTINCT
        # over those unindexed columns reads every (wide) row: ~50 ms each at 10 000 runs.
        choices = {
            "strategy": list(connection.scalars(select(BacktestRun.strategy).distinct())),
            "source": list(DATA_SOURCES),
            "status": list(RUN_STATUSES),
        }
    rows = [found[i] for i in ids if i in found]
    for row in rows:
        row["total_return"] = None if row["total_return"] is None else float(row["total_return"])
        for stamp in ("created_at", "start", "end"):
            value = row[stamp]
            row[stamp] = value if value.tzinfo else value.replace(tzinfo=UTC)
    return RunsPage(rows, total, flt, {k: sorted(v) for k, v in choices.items()})
