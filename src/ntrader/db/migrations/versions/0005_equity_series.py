"""Compact equity curves: equity_series holds a run's whole per-bar curve in one compressed row.

New runs keep only their daily closes in equity_curve (for SQL and daily metrics); runs saved before
this revision keep their per-bar rows there and are read as before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "equity_series",
        sa.Column(
            "run_id", sa.Integer, sa.ForeignKey("backtest_runs.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("codec", sa.String(32), nullable=False),
        sa.Column("stamps", sa.LargeBinary, nullable=False),
        sa.Column("equity", sa.LargeBinary, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Already compressed: spare the server pglz's attempt at compressing it again (TOAST, out of line).
        for column in ("stamps", "equity"):
            op.execute(f"ALTER TABLE equity_series ALTER COLUMN {column} SET STORAGE EXTERNAL")


def downgrade() -> None:
    """Expand each compressed curve back into one equity_curve row per bar, then drop the table."""
    from ntrader.db.bulk import decode_curve, write_points

    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT run_id, points, codec, stamps, equity FROM equity_series")).all()
    for run_id, *packed in rows:
        bind.execute(sa.text("DELETE FROM equity_curve WHERE run_id = :run_id"), {"run_id": run_id})
        write_points(bind, run_id, decode_curve(*packed))
    op.drop_table("equity_series")
