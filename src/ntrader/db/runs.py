"""Saving backtest runs with their trades and equity curves, and reading them back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select

from ntrader.db.engine import get_engine, session_scope
from ntrader.db.models import BacktestRun, EquityPoint, EquitySeries, RunSymbol, Trade
from ntrader.errors import NotFoundError

if TYPE_CHECKING:
    import pandas as pd

# pandas (and numpy, via db.bulk and metrics) is imported only where a frame is built or saved, so
# listing and showing runs (`backtest list-results`, `report summary`) starts without it.


@dataclass(frozen=True, kw_only=True)
class RunFields:
    """What every run holds: what was asked and what came out (stored and read back alike)."""

    strategy: str
    params: dict[str, Any]
    symbol: str
    bar_type: str
    data_source: str
    start: datetime
    end: datetime
    bars: int
    capital: float
    final_equity: float
    settings: dict[str, Any]
    metrics: dict[str, Any]
    engine_version: str


@dataclass(frozen=True, kw_only=True)
class RunRecord(RunFields):
    """A stored run as plain values (no live database session attached)."""

    id: int
    created_at: datetime
    status: str

    @property
    def total_return(self) -> float:
        return self.final_equity / self.capital - 1.0

    def trades(self, url: str | None = None) -> pd.DataFrame:
        """The run's round trips, one row each (columns: `ntrader.metrics.TRADE_COLUMNS`)."""
        return load_trades(self.id, url)

    def equity(self, url: str | None = None) -> pd.Series:
        """The run's mark-to-market equity after each bar, indexed by UTC timestamp."""
        return load_equity(self.id, url)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "status": self.status,
            "strategy": self.strategy,
            "params": self.params,
            "symbol": self.symbol,
            "bar_type": self.bar_type,
            "data_source": self.data_source,
            "start": self.start.date().isoformat(),
            "end": self.end.date().isoformat(),
            "bars": self.bars,
            "capital": self.capital,
            "final_equity": self.final_equity,
            "total_return": self.total_return,
            "settings": self.settings,
            "metrics": self.metrics,
            "engine_version": self.engine_version,
        }


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _record(row: BacktestRun) -> RunRecord:
    values = {f.name: getattr(row, f.name) for f in dataclass_fields(RunFields)}
    values.update(
        start=_utc(row.start),
        end=_utc(row.end),
        capital=float(row.capital),
        final_equity=float(row.final_equity),
        params=dict(row.params),
        settings=dict(row.settings),
        metrics=dict(row.metrics),
    )
    return RunRecord(id=row.id, created_at=_utc(row.created_at), status=row.status, **values)


def _py_datetimes(values: pd.Series) -> list[datetime | None]:
    import pandas as pd

    stamps = pd.to_datetime(values, utc=True)
    return [None if pd.isna(v) else v.to_pydatetime() for v in stamps]


def _py_floats(values: pd.Series) -> list[float | None]:
    import pandas as pd

    return [None if pd.isna(v) else round(float(v), 8) for v in values]


TRADE_BATCH = 2_000


def _trade_rows(run_id: int, trades: pd.DataFrame, symbol: str) -> list[dict[str, Any]]:
    columns: dict[str, list[Any]] = {
        # A portfolio run's trades name their symbol; a single-symbol run's are all the run's.
        "symbol": trades["symbol"].astype(str).tolist() if "symbol" in trades else [symbol] * len(trades),
        "side": trades["side"].astype(str).tolist(),
        "entry_time": _py_datetimes(trades["entry_time"]),
        "exit_time": _py_datetimes(trades["exit_time"]),
    }
    for name in ("quantity", "entry_price", "exit_price", "pnl", "commission"):
        columns[name] = _py_floats(trades[name])
    return [
        {"run_id": run_id, **dict(zip(columns, values, strict=True))}
        for values in zip(*columns.values(), strict=True)
    ]


@dataclass(frozen=True, kw_only=True)
class NewRun(RunFields):
    """A finished run as it is saved, with its trades and equity curve."""

    trades: pd.DataFrame
    equity: pd.Series
    #: "completed", or "halted"/"inconsistent" (the reason is in `settings["halt"]`).
    status: str = "completed"
    #: Every symbol the run traded, in order (empty: just `symbol`).
    symbols: tuple[str, ...] = ()


def save_run(run: NewRun | None = None, *, url: str | None = None, **fields: Any) -> int:
    """Store a run, its trades and its equity curve in one transaction; returns the run id.

    Pass a `NewRun`, or its fields as keywords.
    """
    from ntrader.db.bulk import write_equity

    new = run if run is not None else NewRun(**fields)
    values = {f.name: getattr(new, f.name) for f in dataclass_fields(RunFields)}
    values.update(capital=round(new.capital, 8), final_equity=round(new.final_equity, 8))
    with session_scope(url) as session:
        row = BacktestRun(created_at=datetime.now(UTC), status=new.status, **values)
        session.add(row)
        session.flush()
        symbols = new.symbols or (new.symbol,)
        session.execute(
            insert(RunSymbol), [{"run_id": row.id, "symbol": s, "position": i} for i, s in enumerate(symbols)]
        )
        # A few thousand trades at a time: tens of thousands of row dicts at once cost tens of MB.
        for start in range(0, len(new.trades), TRADE_BATCH):
            batch = new.trades.iloc[start : start + TRADE_BATCH]
            session.execute(insert(Trade), _trade_rows(row.id, batch, new.symbol))
        write_equity(session.connection(), row.id, new.equity)
        return row.id


def get_run(run_id: int, url: str | None = None) -> RunRecord:
    with session_scope(url) as session:
        row = session.get(BacktestRun, run_id)
        if row is None:
            raise NotFoundError(f"no backtest run with id {run_id} (see `ntrader backtest list-results`)")
        return _record(row)


def list_runs(
    *,
    strategy: str | None = None,
    symbol: str | None = None,
    limit: int = 20,
    url: str | None = None,
) -> list[RunRecord]:
    """Stored runs, newest first."""
    query = select(BacktestRun).order_by(BacktestRun.id.desc()).limit(limit)
    if strategy:
        query = query.where(BacktestRun.strategy == strategy)
    if symbol:
        # Any run that traded the symbol, a portfolio run among them.
        holders = select(RunSymbol.run_id).where(RunSymbol.symbol == symbol.upper())
        query = query.where(BacktestRun.id.in_(holders))
    with session_scope(url) as session:
        return [_record(row) for row in session.scalars(query)]


def list_run_ids(url: str | None = None) -> list[int]:
    """Every stored run id, oldest first (cheap: no records are built)."""
    with session_scope(url) as session:
        return list(session.scalars(select(BacktestRun.id).order_by(BacktestRun.id)))


def update_metrics(run_id: int, metrics: dict[str, Any], url: str | None = None) -> None:
    with session_scope(url) as session:
        row = session.get(BacktestRun, run_id)
        if row is None:
            raise NotFoundError(f"no backtest run with id {run_id}")
        row.metrics = metrics


def update_settings(run_id: int, changes: dict[str, Any], url: str | None = None) -> None:
    """Merge `changes` into a run's settings (e.g. its stored validation)."""
    with session_scope(url) as session:
        row = session.get(BacktestRun, run_id)
        if row is None:
            raise NotFoundError(f"no backtest run with id {run_id}")
        # A new dict: the JSON column only notices an assignment.
        row.settings = {**(row.settings or {}), **changes}


def load_trades(run_id: int, url: str | None = None) -> pd.DataFrame:
    import pandas as pd

    from ntrader.metrics.trades import TRADE_COLUMNS

    query = select(*(getattr(Trade, c) for c in TRADE_COLUMNS)).where(Trade.run_id == run_id)
    with get_engine(url).connect() as connection:
        frame = pd.DataFrame(connection.execute(query.order_by(Trade.id)).all(), columns=list(TRADE_COLUMNS))
    for column in ("entry_time", "exit_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    for column in ("quantity", "entry_price", "exit_price", "pnl", "commission"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def load_equity(run_id: int, url: str | None = None) -> pd.Series:
    """The run's per-bar equity curve (from equity_series; older runs: their equity_curve rows)."""
    import pandas as pd

    from ntrader.db.bulk import decode_curve

    columns = (EquitySeries.points, EquitySeries.codec, EquitySeries.stamps, EquitySeries.equity)
    with get_engine(url).connect() as connection:
        packed = connection.execute(select(*columns).where(EquitySeries.run_id == run_id)).first()
    if packed is not None:
        return decode_curve(*packed)
    query = (
        select(EquityPoint.timestamp, EquityPoint.equity)
        .where(EquityPoint.run_id == run_id)
        .order_by(EquityPoint.timestamp)
    )
    with get_engine(url).connect() as connection:
        rows = connection.execute(query).all()
    index = pd.DatetimeIndex(pd.to_datetime([r[0] for r in rows], utc=True), name="timestamp")
    return pd.Series([float(r[1]) for r in rows], index=index, name="equity", dtype="float64")


def delete_run(run_id: int, url: str | None = None) -> None:
    delete_runs([run_id], url=url)


def delete_runs(run_ids: Sequence[int], url: str | None = None) -> list[int]:
    """Delete runs with their trades and equity curves, all or nothing; returns the ids deleted.

    An id that does not exist raises NotFoundError and deletes nothing.
    """
    wanted = sorted(set(run_ids))
    with session_scope(url) as session:
        found = set(session.scalars(select(BacktestRun.id).where(BacktestRun.id.in_(wanted))))
        missing = [i for i in wanted if i not in found]
        if missing:
            ids = ", ".join(str(i) for i in missing)
            raise NotFoundError(
                f"no backtest run with id {ids} (see `ntrader backtest list-results`); nothing deleted"
            )
        # Explicit, not only ON DELETE CASCADE: a SQLite connection without foreign_keys=ON ignores it.
        session.execute(delete(Trade).where(Trade.run_id.in_(wanted)))
        session.execute(delete(EquityPoint).where(EquityPoint.run_id.in_(wanted)))
        session.execute(delete(EquitySeries).where(EquitySeries.run_id.in_(wanted)))
        session.execute(delete(RunSymbol).where(RunSymbol.run_id.in_(wanted)))
        session.execute(delete(BacktestRun).where(BacktestRun.id.in_(wanted)))
    return wanted
