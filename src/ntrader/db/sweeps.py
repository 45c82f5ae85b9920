"""Parameter sweeps: the `sweeps` table (one row per sweep, its ranked results as JSON) and its access."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from ntrader.db.engine import session_scope
from ntrader.db.models import MONEY, Base
from ntrader.errors import NotFoundError


class Sweep(Base):
    """A grid screened (vector engine or Nautilus) and ranked; the confirmed runs are normal runs."""

    __tablename__ = "sweeps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(16))
    strategy: Mapped[str] = mapped_column(String(200), index=True)
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    bar_type: Mapped[str] = mapped_column(String(64))
    data_source: Mapped[str] = mapped_column(String(32))
    start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    bars: Mapped[int] = mapped_column(Integer)
    capital: Mapped[Decimal] = mapped_column(MONEY)
    engine: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str] = mapped_column(String(32))
    grid: Mapped[dict[str, Any]] = mapped_column(JSON)
    constraints: Mapped[list[str]] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    run_ids: Mapped[list[int]] = mapped_column(JSON)


@dataclass(frozen=True, kw_only=True)
class NewSweep:
    """A finished sweep (or walk-forward) as it is saved: what was swept and the whole ranking."""

    kind: str
    strategy: str
    symbol: str
    bar_type: str
    data_source: str
    start: datetime
    end: datetime
    bars: int
    capital: float
    engine: str
    metric: str
    grid: dict[str, Any]
    constraints: list[str]
    settings: dict[str, Any]
    results: list[dict[str, Any]]
    run_ids: list[int]


@dataclass(frozen=True, kw_only=True)
class SweepRecord(NewSweep):
    """A stored sweep as plain values. `results` are ranked rows: rank, params, screened, run_id,
    confirmed (metrics of the confirmed run, or None)."""

    id: int
    created_at: datetime

    def to_json_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "created_at": self.created_at, **dict(self.__dict__)}
        for key in ("created_at", "start", "end"):
            out[key] = out[key].isoformat()
        return out


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def save_sweep(sweep: NewSweep | None = None, *, url: str | None = None, **fields: Any) -> int:
    """Store one sweep (a `NewSweep`, or its fields as keywords) and return its id."""
    new = sweep if sweep is not None else NewSweep(**fields)
    values = {f.name: getattr(new, f.name) for f in dataclass_fields(NewSweep)}
    values["capital"] = round(new.capital, 8)
    with session_scope(url) as session:
        row = Sweep(created_at=datetime.now(UTC), **values)
        session.add(row)
        session.flush()
        return row.id


def _record(row: Sweep) -> SweepRecord:
    values = {f.name: getattr(row, f.name) for f in dataclass_fields(NewSweep)}
    values.update(start=_utc(row.start), end=_utc(row.end), capital=float(row.capital))
    return SweepRecord(id=row.id, created_at=_utc(row.created_at), **values)


def get_sweep(sweep_id: int, url: str | None = None) -> SweepRecord:
    with session_scope(url) as session:
        row = session.get(Sweep, sweep_id)
        if row is None:
            raise NotFoundError(f"no sweep with id {sweep_id} (see `ntrader backtest sweep --help`)")
        return _record(row)


def list_sweeps(*, limit: int = 20, url: str | None = None) -> list[SweepRecord]:
    """Stored sweeps, newest first."""
    with session_scope(url) as session:
        query = select(Sweep).order_by(Sweep.id.desc()).limit(limit)
        return [_record(row) for row in session.scalars(query)]


def trials_screened(
    *, strategy: str, symbol: str, bar_type: str, start: datetime, end: datetime, url: str | None = None
) -> int:
    """How many trials the stored sweeps of this strategy on these bars and period screened."""
    with session_scope(url) as session:
        query = select(Sweep.settings, Sweep.results, Sweep.start, Sweep.end).where(
            Sweep.kind == "sweep",
            Sweep.strategy == strategy,
            Sweep.symbol == symbol,
            Sweep.bar_type == bar_type,
        )
        total = 0
        for settings, results, row_start, row_end in session.execute(query):
            # Compared in Python: SQLite hands back naive datetimes.
            if _utc(row_start) == start and _utc(row_end) == end:
                total += int(settings.get("trials", settings.get("combinations", len(results))))
        return total


__all__ = ["Sweep", "SweepRecord", "get_sweep", "list_sweeps", "save_sweep", "trials_screened"]
