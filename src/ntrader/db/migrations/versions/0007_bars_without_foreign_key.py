"""Bars without a foreign key: ``bars.series_id`` no longer references ``bar_series`` (issue 17's COPY rate).

Measured on PostgreSQL 15 (binary COPY of 1 000 000 rows into a table shaped like ``bars``): 730 000–780 000
rows/s with the primary key alone, 150 000–170 000 rows/s with the primary key and this foreign key, whose
per-row RI trigger looks the series up for every bar. Issue 17 asks for ≥ 1 000 000 rows/s.

The key guarded nothing the writer does not: ``ntrader.db.barstore`` is the only code that writes bars, and it
creates or finds the series row in the same transaction as the bars; nothing deletes a ``bar_series`` row.
Code that ever does must delete the series' bars itself (there is no ON DELETE CASCADE any more).
``bar_events`` keeps its foreign key (a series has a few events, not millions).

The primary key ``(series_id, ts)``, ``WITHOUT ROWID`` on SQLite and every row stay. SQLite cannot drop a
constraint, so ``bars`` is rebuilt (create, copy, drop, rename) in the migration's transaction. It is
written out rather than left to alembic's batch mode: 0004's key has no name to drop it by, the views over
``bars`` must be dropped around the rename, and ``WITHOUT ROWID`` is stated rather than reflected. PostgreSQL
drops the constraint in place (on a TimescaleDB hypertable that reaches every chunk; older TimescaleDB
releases refuse DROP and ADD CONSTRAINT on a hypertable with compression enabled; untested here, where
TimescaleDB is not installed).

The downgrade restores the key; bars whose series is gone (possible only without it) are unreadable (every
read joins bar_series) and the key would refuse them, so they are deleted first.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_COLUMNS = ("series_id", "ts", "open", "high", "low", "close", "volume")
#: PostgreSQL's name for 0004's unnamed key, so a downgraded database looks like one that never upgraded.
_PG_FOREIGN_KEY = "bars_series_id_fkey"
_INDEXES = "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'bars' AND sql IS NOT NULL"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite(foreign_key=False)
        return
    for key in sa.inspect(bind).get_foreign_keys("bars"):
        if key["referred_table"] == "bar_series" and key["name"]:  # PostgreSQL names every constraint
            op.drop_constraint(key["name"], "bars", type_="foreignkey")


def downgrade() -> None:
    op.execute("DELETE FROM bars WHERE NOT EXISTS (SELECT 1 FROM bar_series s WHERE s.id = bars.series_id)")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(foreign_key=True)
        return
    op.create_foreign_key(_PG_FOREIGN_KEY, "bars", "bar_series", ["series_id"], ["id"], ondelete="CASCADE")


def _rebuild_sqlite(*, foreign_key: bool) -> None:
    """Copy bars into a new WITHOUT ROWID table with or without the key, then put it in bars' place.

    The views (market_data reads bars) are dropped and created again from their stored SQL: SQLite's
    RENAME checks every view, and one naming the dropped table fails it.
    """
    bind = op.get_bind()
    views = bind.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'view'")).all()
    for name, _ in views:
        op.execute(f'DROP VIEW "{name}"')
    references = [sa.ForeignKey("bar_series.id", ondelete="CASCADE")] if foreign_key else []
    op.create_table(
        "_bars_rebuild",
        sa.Column("series_id", sa.Integer, *references, nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        *(sa.Column(name, sa.Float, nullable=False) for name in _COLUMNS[2:]),
        sa.PrimaryKeyConstraint("series_id", "ts", name="pk_bars"),
        sqlite_with_rowid=False,
    )
    columns = ", ".join(_COLUMNS)
    op.execute(f"INSERT INTO _bars_rebuild ({columns}) SELECT {columns} FROM bars ORDER BY series_id, ts")
    # None today (the key's own index has no SQL), but one added by hand would survive the rebuild.
    indexes = bind.execute(sa.text(_INDEXES)).scalars().all()
    op.drop_table("bars")
    op.rename_table("_bars_rebuild", "bars")
    for sql in (*indexes, *(view for _, view in views)):
        op.execute(sql)
