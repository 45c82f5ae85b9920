"""Parameter sweeps: one row per sweep, ranked results as JSON.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("strategy", sa.String(200), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("bar_type", sa.String(64), nullable=False),
        sa.Column("data_source", sa.String(32), nullable=False),
        sa.Column("start", TS, nullable=False),
        sa.Column("end", TS, nullable=False),
        sa.Column("bars", sa.Integer, nullable=False),
        sa.Column("capital", sa.Numeric(20, 8), nullable=False),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("grid", sa.JSON, nullable=False),
        sa.Column("constraints", sa.JSON, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("results", sa.JSON, nullable=False),
        sa.Column("run_ids", sa.JSON, nullable=False),
    )
    op.create_index("ix_sweeps_strategy", "sweeps", ["strategy"])
    op.create_index("ix_sweeps_symbol", "sweeps", ["symbol"])


def downgrade() -> None:
    op.drop_index("ix_sweeps_symbol", table_name="sweeps")
    op.drop_index("ix_sweeps_strategy", table_name="sweeps")
    op.drop_table("sweeps")
