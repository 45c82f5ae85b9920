"""Initial schema: market_data, backtest_runs, trades, equity_curve.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MONEY = sa.Numeric(20, 8)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "market_data",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("bar_type", sa.String(32), nullable=False),
        sa.Column("timestamp", TS, nullable=False),
        sa.Column("open", sa.Float, nullable=False),
        sa.Column("high", sa.Float, nullable=False),
        sa.Column("low", sa.Float, nullable=False),
        sa.Column("close", sa.Float, nullable=False),
        sa.Column("volume", sa.Float, nullable=False),
        sa.Column("data_source", sa.String(32), nullable=False),
        sa.UniqueConstraint("symbol", "bar_type", "timestamp", "data_source", name="uq_market_data_bar"),
    )
    op.create_index("ix_market_data_symbol_ts", "market_data", ["symbol", "timestamp"])
    op.create_table(
        "backtest_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("strategy", sa.String(200), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("bar_type", sa.String(32), nullable=False),
        sa.Column("data_source", sa.String(32), nullable=False),
        sa.Column("start", TS, nullable=False),
        sa.Column("end", TS, nullable=False),
        sa.Column("bars", sa.Integer, nullable=False),
        sa.Column("capital", MONEY, nullable=False),
        sa.Column("final_equity", MONEY, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("engine_version", sa.String(64), nullable=False),
    )
    op.create_index("ix_backtest_runs_strategy", "backtest_runs", ["strategy"])
    op.create_index("ix_backtest_runs_symbol", "backtest_runs", ["symbol"])
    op.create_table(
        "trades",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("backtest_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("quantity", MONEY, nullable=False),
        sa.Column("entry_time", TS, nullable=False),
        sa.Column("entry_price", MONEY, nullable=False),
        sa.Column("exit_time", TS, nullable=True),
        sa.Column("exit_price", MONEY, nullable=True),
        sa.Column("pnl", MONEY, nullable=False),
        sa.Column("commission", MONEY, nullable=False),
    )
    op.create_index("ix_trades_run_id", "trades", ["run_id"])
    op.create_table(
        "equity_curve",
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("backtest_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("timestamp", TS, primary_key=True),
        sa.Column("equity", MONEY, nullable=False),
    )
    _maybe_hypertable()


def _maybe_hypertable() -> None:
    """Make market_data a TimescaleDB hypertable when the extension is installed; else skip."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    ).first()
    if not available:
        return
    bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS timescaledb"))
    # A hypertable's unique keys must include the time column; ours does, the serial id does not.
    bind.execute(sa.text("ALTER TABLE market_data DROP CONSTRAINT market_data_pkey"))
    bind.execute(
        sa.text(
            "SELECT create_hypertable('market_data', 'timestamp', migrate_data => true, "
            "if_not_exists => true)"
        )
    )


def downgrade() -> None:
    op.drop_table("equity_curve")
    op.drop_table("trades")
    op.drop_table("backtest_runs")
    op.drop_index("ix_market_data_symbol_ts", table_name="market_data")
    op.drop_table("market_data")
