"""SQLAlchemy tables: bar series and their bars, backtest runs, their trades and their equity curves."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MONEY = Numeric(20, 8)


class Base(DeclarativeBase):
    pass


class BarSeries(Base):
    """One stored series: a symbol's bars of one size from one source, with one price adjustment."""

    __tablename__ = "bar_series"
    __table_args__ = (
        UniqueConstraint("symbol", "bar_type", "data_source", "adjustment", name="uq_bar_series"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32))
    bar_type: Mapped[str] = mapped_column(String(32))
    data_source: Mapped[str] = mapped_column(String(32))
    adjustment: Mapped[str] = mapped_column(String(16), server_default="raw")


class BarBlock(Base):
    """One block of a series' bars: those of one time window, one after another in ``data``.

    ``data`` holds ``rows`` bars of 48 bytes each, in time order (stamps unique): the open time as
    little-endian int64 UTC nanoseconds, then open, high, low, close and volume as little-endian
    float64. ``start_ts`` and ``end_ts`` are its first and last stamp; a series' blocks never overlap. See
    ``ntrader.db.barstore``. The views ``bars`` (series_id, ts, open, …) and ``market_data`` (the seed
    plan's columns: symbol, bar_type, timestamp, …, data_source) show one row per bar.
    """

    __tablename__ = "bar_blocks"
    __table_args__ = (PrimaryKeyConstraint("series_id", "start_ts", name="pk_bar_blocks"),)

    series_id: Mapped[int] = mapped_column(ForeignKey("bar_series.id", ondelete="CASCADE"))
    start_ts: Mapped[int] = mapped_column(BigInteger)
    end_ts: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class BarEvent(Base):
    """A split or a dividend of one series, at its ex-date (UTC nanoseconds, like ``bars.ts``).

    ``value`` is the split ratio (new shares per old share: 4.0 for a 4:1 split) or the cash dividend
    per share; ``source`` is where it came from (csv, ibkr, inferred).
    """

    __tablename__ = "bar_events"
    __table_args__ = (PrimaryKeyConstraint("series_id", "ts", "kind", name="pk_bar_events"),)

    series_id: Mapped[int] = mapped_column(ForeignKey("bar_series.id", ondelete="CASCADE"))
    ts: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16), server_default="csv")


class BacktestRun(Base):
    """A finished backtest: what was asked, what came out, and enough to redraw every report."""

    __tablename__ = "backtest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    strategy: Mapped[str] = mapped_column(String(200), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    bar_type: Mapped[str] = mapped_column(String(128))
    data_source: Mapped[str] = mapped_column(String(32))
    start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    bars: Mapped[int] = mapped_column(Integer)
    capital: Mapped[Decimal] = mapped_column(MONEY)
    final_equity: Mapped[Decimal] = mapped_column(MONEY)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    engine_version: Mapped[str] = mapped_column(String(64))


class RunSymbol(Base):
    """One symbol a run traded: one row for a single-symbol run, one per symbol for a portfolio."""

    __tablename__ = "run_symbols"
    __table_args__ = (PrimaryKeyConstraint("run_id", "symbol", name="pk_run_symbols"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("backtest_runs.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    position: Mapped[int] = mapped_column(Integer, server_default="0")


class Trade(Base):
    """One round trip (or an open position at the end of the run, with no exit)."""

    __tablename__ = "trades"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("backtest_runs.id", ondelete="CASCADE"), index=True)
    symbol: Mapped[str | None] = mapped_column(String(32), nullable=True)
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(MONEY)
    entry_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    entry_price: Mapped[Decimal] = mapped_column(MONEY)
    exit_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    exit_price: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    pnl: Mapped[Decimal] = mapped_column(MONEY)
    commission: Mapped[Decimal] = mapped_column(MONEY)


class EquitySeries(Base):
    """A run's whole per-bar equity curve in one row: delta-encoded, LZ4-compressed int64 (db.bulk)."""

    __tablename__ = "equity_series"

    run_id: Mapped[int] = mapped_column(ForeignKey("backtest_runs.id", ondelete="CASCADE"), primary_key=True)
    points: Mapped[int] = mapped_column(Integer)
    codec: Mapped[str] = mapped_column(String(32))
    stamps: Mapped[bytes] = mapped_column(LargeBinary)
    equity: Mapped[bytes] = mapped_column(LargeBinary)


class EquityPoint(Base):
    """Mark-to-market account equity at the close of one day (the whole curve is in EquitySeries).

    Runs saved before equity_series existed hold one row per bar here instead.
    """

    __tablename__ = "equity_curve"

    run_id: Mapped[int] = mapped_column(ForeignKey("backtest_runs.id", ondelete="CASCADE"), primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    equity: Mapped[Decimal] = mapped_column(MONEY)
