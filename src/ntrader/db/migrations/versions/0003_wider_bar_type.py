"""Widen backtest_runs.bar_type: Nautilus bar types like MSFT.NASDAQ-1-MINUTE-LAST-EXTERNAL exceed 32.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("backtest_runs") as batch:
        batch.alter_column(
            "bar_type", type_=sa.String(128), existing_type=sa.String(32), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("backtest_runs") as batch:
        batch.alter_column(
            "bar_type", type_=sa.String(32), existing_type=sa.String(128), existing_nullable=False
        )
