"""Migrations keep what is stored: upgrading a database with runs loses no trades or equity."""

from __future__ import annotations

import pandas as pd
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, insert, text

from ntrader.backtest import run_backtest
from ntrader.data.bars import BAR_COLUMNS
from ntrader.data.mock import generate_bars
from ntrader.data.store import list_stored, read_bars
from ntrader.db.engine import _alembic_config, get_engine, upgrade
from tests.conftest import count_rows

TABLES = ("backtest_runs", "trades", "equity_curve")
HEAD = ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()


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

    assert upgrade(engine) == HEAD
    assert [count_rows(database_url, t) for t in TABLES] == before


def _downgrade(engine, url: str, revision: str) -> None:
    with engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        with connection.begin():
            config = _alembic_config(url)
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def test_bar_store_migration_moves_every_stored_bar(database_url):
    """A populated 0003 database (market_data rows written as the old code wrote them) upgrades to
    bar_series + bars with every bar, exactly, and market_data stays readable as a view."""
    engine = get_engine(database_url)
    _downgrade(engine, database_url, "0003")
    old = Table(
        "market_data",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("symbol", String(32)),
        Column("bar_type", String(32)),
        Column("timestamp", DateTime(timezone=True)),
        *(Column(name, Float) for name in BAR_COLUMNS),
        Column("data_source", String(32)),
    )
    minutes = generate_bars("MIG", "2024-03-08", "2024-03-12", "1-MINUTE")  # across the DST change
    days = generate_bars("MIG", "2023-01-01", "2023-12-31")
    odd = pd.DataFrame([[1.5, 2.0, 1.0, 1.25, 7.0]], columns=BAR_COLUMNS)
    odd.index = pd.DatetimeIndex(
        [pd.Timestamp("2024-03-13 14:30:00.123456", tz="UTC")], name="timestamp"
    ).as_unit("ns")  # stored bars read back in ns (pandas 3 parses this string to us)
    series = [(minutes, "1-MINUTE", "csv"), (days, "1-DAY", "csv"), (days.iloc[:20], "1-DAY", "ibkr"),
              (odd, "1-MINUTE", "ibkr")]  # fmt: skip
    with engine.begin() as connection:
        for frame, size, source in series:
            connection.execute(
                insert(old),
                [
                    {"symbol": "MIG", "bar_type": size, "data_source": source,
                     "timestamp": stamp.to_pydatetime(), **dict(zip(BAR_COLUMNS, row, strict=True))}
                    for stamp, row in zip(frame.index, frame.to_numpy().tolist(), strict=True)
                ],
            )  # fmt: skip
    total = sum(len(frame) for frame, _, _ in series)
    assert count_rows(database_url, "market_data") == total

    assert upgrade(engine) == HEAD
    assert count_rows(database_url, "bars") == count_rows(database_url, "market_data") == total
    assert count_rows(database_url, "bar_series") == 4
    for frame, size, source in series:
        pd.testing.assert_frame_equal(read_bars("MIG", size, source), frame, check_freq=False)
    assert [(s.bar_size, s.source, s.rows) for s in list_stored("MIG")] == [
        ("1-DAY", "csv", len(days)),
        ("1-DAY", "ibkr", 20),
        ("1-MINUTE", "csv", len(minutes)),
        ("1-MINUTE", "ibkr", 1),
    ]
    with engine.connect() as connection:
        sources = connection.execute(
            text("SELECT DISTINCT data_source FROM market_data ORDER BY 1")
        ).scalars()
        assert list(sources) == ["csv", "ibkr"]
    # And back: the downgrade restores market_data as a table with the same bars.
    _downgrade(engine, database_url, "0003")
    assert count_rows(database_url, "market_data") == total
    assert upgrade(engine) == HEAD
    pd.testing.assert_frame_equal(read_bars("MIG", "1-MINUTE", "ibkr"), odd, check_freq=False)


def test_run_symbols_migration_gives_every_stored_run_and_trade_its_symbol(database_url):
    """Runs saved before 0006 get their one symbol in run_symbols and on every trade; downgrading and
    upgrading again loses nothing."""
    run_id = run_backtest("sma", "AAPL", "2023-01-01", "2023-12-31", bar_size="1-DAY").run_id
    engine = get_engine(database_url)
    _downgrade(engine, database_url, "0005")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0005"
    assert upgrade(engine) == HEAD
    with engine.connect() as connection:
        symbols = connection.execute(text("SELECT run_id, symbol FROM run_symbols")).all()
        trade_symbols = connection.execute(text("SELECT DISTINCT symbol FROM trades")).scalars().all()
    assert symbols == [(run_id, "AAPL")]
    assert trade_symbols == ["AAPL"]
