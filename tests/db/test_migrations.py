"""Migrations keep what is stored: upgrading a database with runs loses no trades or equity."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from ntrader.backtest import run_backtest
from ntrader.db.engine import _alembic_config, get_engine, upgrade
from tests.conftest import count_rows

TABLES = ("backtest_runs", "trades", "equity_curve")


def test_upgrade_from_an_older_revision_keeps_runs_trades_and_equity(database_url):
    run_backtest("sma", "AAPL", "2023-01-01", "2023-12-31", bar_size="1-DAY")
    before = [count_rows(database_url, t) for t in TABLES]
    assert before[1] > 0 and before[2] == 250  # an equity point per NYSE session of 2023

    engine = get_engine(database_url)
    with engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        with connection.begin():
            config = _alembic_config(database_url)
            config.attributes["connection"] = connection
            command.downgrade(config, "0002")
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"

    assert upgrade(engine) == "0003"
    assert [count_rows(database_url, t) for t in TABLES] == before
