"""Bar store for bulk work: a bar_series table and bars keyed by (series_id, ts) with integer timestamps.

market_data (one wide string-keyed unique index per bar) becomes two tables:

- ``bar_series``: one row per symbol, bar size, data source and price adjustment;
- ``bars``: ``(series_id, ts)`` primary key, ``ts`` = the bar's open time in UTC nanoseconds since
  1970, clustered on that key (``WITHOUT ROWID`` on SQLite; on PostgreSQL a hypertable with
  compression segmented by series when TimescaleDB is installed, else a plain primary key).

Every stored bar moves across. ``market_data`` stays as a view with the seed plan's columns
(``symbol, bar_type, timestamp, …, data_source``), so ad-hoc SQL and tools that read it still work.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NS_PER_DAY = 86_400 * 10**9
_VIEW = {
    "sqlite": "datetime(b.ts / 1000000000, 'unixepoch')",
    "postgresql": "to_timestamp(b.ts / 1e9)",
}
# market_data's text/timestamptz stamps as integer nanoseconds (exact to the microsecond stored).
_TO_NS = {
    "sqlite": (
        "(CAST(strftime('%s', m.timestamp) AS INTEGER) * 1000000000 + "
        "CASE WHEN length(m.timestamp) > 19 THEN CAST(substr(m.timestamp || '000000', 21, 6) AS INTEGER) "
        "* 1000 ELSE 0 END)"
    ),
    "postgresql": "(EXTRACT(EPOCH FROM m.timestamp) * 1000000)::bigint * 1000",
}
_FROM_NS = {
    "sqlite": (
        "strftime('%Y-%m-%d %H:%M:%S', b.ts / 1000000000, 'unixepoch') || '.' || "
        "substr('000000' || ((b.ts / 1000) % 1000000), -6)"
    ),
    "postgresql": "to_timestamp(0) + (b.ts / 1000) * interval '1 microsecond'",
}
_PRICES = ("open", "high", "low", "close", "volume")


def _create_view(dialect: str) -> None:
    op.execute(
        f"CREATE VIEW market_data AS SELECT s.symbol, s.bar_type, {_VIEW[dialect]} AS timestamp, "
        "b.open, b.high, b.low, b.close, b.volume, s.data_source, s.adjustment "
        "FROM bars b JOIN bar_series s ON s.id = b.series_id"
    )


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.create_table(
        "bar_series",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("bar_type", sa.String(32), nullable=False),
        sa.Column("data_source", sa.String(32), nullable=False),
        sa.Column("adjustment", sa.String(16), nullable=False, server_default="raw"),
        sa.UniqueConstraint("symbol", "bar_type", "data_source", "adjustment", name="uq_bar_series"),
    )
    op.create_table(
        "bars",
        sa.Column(
            "series_id", sa.Integer, sa.ForeignKey("bar_series.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("ts", sa.BigInteger, nullable=False),
        *(sa.Column(name, sa.Float, nullable=False) for name in _PRICES),
        sa.PrimaryKeyConstraint("series_id", "ts", name="pk_bars"),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO bar_series (symbol, bar_type, data_source, adjustment) "
        "SELECT DISTINCT symbol, bar_type, data_source, 'raw' FROM market_data"
    )
    op.execute(
        f"INSERT INTO bars (series_id, ts, {', '.join(_PRICES)}) "
        f"SELECT s.id, {_TO_NS[dialect]}, {', '.join('m.' + p for p in _PRICES)} FROM market_data m "
        "JOIN bar_series s ON s.symbol = m.symbol AND s.bar_type = m.bar_type "
        "AND s.data_source = m.data_source"
    )
    op.drop_table("market_data")
    _create_view(dialect)
    _maybe_hypertable()


def _maybe_hypertable() -> None:
    """With TimescaleDB: bars become a hypertable on integer time, compressed per series after 30 days."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    installed = bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).first()
    if not installed:
        return
    bind.execute(
        sa.text(
            "SELECT create_hypertable('bars', 'ts', chunk_time_interval => :chunk, migrate_data => true, "
            "if_not_exists => true)"
        ),
        {"chunk": 30 * NS_PER_DAY},
    )
    bind.execute(
        sa.text(
            "CREATE OR REPLACE FUNCTION ntrader_now_ns() RETURNS bigint LANGUAGE sql STABLE AS "
            "$$ SELECT (extract(epoch FROM now()) * 1000000000)::bigint $$"
        )
    )
    bind.execute(sa.text("SELECT set_integer_now_func('bars', 'ntrader_now_ns')"))
    bind.execute(
        sa.text(
            "ALTER TABLE bars SET (timescaledb.compress, timescaledb.compress_segmentby = 'series_id', "
            "timescaledb.compress_orderby = 'ts')"
        )
    )
    bind.execute(
        sa.text("SELECT add_compression_policy('bars', compress_after => :after, if_not_exists => true)"),
        {"after": 30 * NS_PER_DAY},
    )


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.execute("DROP VIEW market_data")
    op.create_table(
        "market_data",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("bar_type", sa.String(32), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        *(sa.Column(name, sa.Float, nullable=False) for name in _PRICES),
        sa.Column("data_source", sa.String(32), nullable=False),
        sa.UniqueConstraint("symbol", "bar_type", "timestamp", "data_source", name="uq_market_data_bar"),
    )
    op.create_index("ix_market_data_symbol_ts", "market_data", ["symbol", "timestamp"])
    op.execute(
        f"INSERT INTO market_data (symbol, bar_type, timestamp, {', '.join(_PRICES)}, data_source) "
        f"SELECT s.symbol, s.bar_type, {_FROM_NS[dialect]}, {', '.join('b.' + p for p in _PRICES)}, "
        "s.data_source FROM bars b JOIN bar_series s ON s.id = b.series_id WHERE s.adjustment = 'raw'"
    )
    op.drop_table("bars")
    op.drop_table("bar_series")
