"""Corporate actions and portfolio runs: bar_events, run_symbols and a symbol on every trade.

- ``bar_events``: the splits and dividends of one stored series, keyed by (series, ex-date in UTC
  nanoseconds, kind); ``value`` is the split ratio (new shares per old share, 4.0 for a 4:1 split) or
  the cash dividend per share. ``source`` says where the event came from (csv, ibkr, inferred).
- ``run_symbols``: every symbol a run traded (one row for a single-symbol run, N for a portfolio), so
  ``list-results --symbol MSFT`` finds a portfolio run that holds MSFT.
- ``trades.symbol``: the instrument of each round trip.

Existing runs get their one symbol in run_symbols and on each of their trades.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bar_events",
        sa.Column(
            "series_id", sa.Integer, sa.ForeignKey("bar_series.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("source", sa.String(16), nullable=False, server_default="csv"),
        sa.PrimaryKeyConstraint("series_id", "ts", "kind", name="pk_bar_events"),
    )
    op.create_table(
        "run_symbols",
        sa.Column(
            "run_id", sa.Integer, sa.ForeignKey("backtest_runs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("run_id", "symbol", name="pk_run_symbols"),
    )
    op.create_index("ix_run_symbols_symbol", "run_symbols", ["symbol"])
    with op.batch_alter_table("trades") as batch:
        batch.add_column(sa.Column("symbol", sa.String(32), nullable=True))
    op.execute("INSERT INTO run_symbols (run_id, symbol, position) SELECT id, symbol, 0 FROM backtest_runs")
    op.execute("UPDATE trades SET symbol = (SELECT r.symbol FROM backtest_runs r WHERE r.id = trades.run_id)")


def downgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.drop_column("symbol")
    op.drop_index("ix_run_symbols_symbol", table_name="run_symbols")
    op.drop_table("run_symbols")
    op.drop_table("bar_events")
