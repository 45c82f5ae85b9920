"""Migrations keep what is stored: upgrading a database with runs loses no trades or equity, nor any bar."""

from __future__ import annotations

import pandas as pd
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, insert, inspect, text
from sqlalchemy.exc import IntegrityError

from ntrader.backtest import run_backtest
from ntrader.data.bars import BAR_COLUMNS
from ntrader.data.mock import generate_bars
from ntrader.data.store import list_stored, read_bars, save_events, write_bars
from ntrader.db.engine import _alembic_config, get_engine, upgrade
from ntrader.db.models import Base
from tests.conftest import count_rows

TABLES = ("backtest_runs", "trades", "equity_curve")
BAR_KEY_COLUMNS = ("series_id", "ts", *BAR_COLUMNS)
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


def _bars_state(engine) -> dict:
    """Every stored bar, bars' primary key and foreign keys, and (SQLite) its CREATE TABLE."""
    columns = ", ".join(BAR_KEY_COLUMNS)
    with engine.connect() as connection:
        inspector = inspect(connection)
        pk = inspector.get_pk_constraint("bars")
        fks = inspector.get_foreign_keys("bars")
        state = {
            "rows": connection.execute(text(f"SELECT {columns} FROM bars ORDER BY 1, 2")).all(),
            "view_rows": connection.execute(text("SELECT COUNT(*) FROM market_data")).scalar_one(),
            "pk": (pk["name"], pk["constrained_columns"]),
            "fks": [
                (
                    fk["constrained_columns"],
                    fk["referred_table"],
                    fk["referred_columns"],
                    fk["options"].get("ondelete"),
                )
                for fk in fks
            ],
            "event_fks": [fk["referred_table"] for fk in inspector.get_foreign_keys("bar_events")],
            "sql": "",
        }
        if engine.dialect.name == "sqlite":
            state["sql"] = connection.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'bars'")
            ).scalar_one()
    return state


def _insert_orphan_bar(engine) -> None:
    """A bar of a series that does not exist, with foreign keys enforced (on SQLite too: ntrader's
    connections turn them on)."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        connection.execute(
            text(f"INSERT INTO bars ({', '.join(BAR_KEY_COLUMNS)}) VALUES (999, 0, 1, 1, 1, 1, 1)")
        )


def _upgrade_to(engine, url: str, revision: str) -> None:
    with engine.connect() as connection, connection.begin():
        config = _alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_bars_foreign_key_migration_keeps_every_bar_and_the_clustered_key(database_url):
    """0007 drops bars' foreign key to bar_series (its per-row check throttled COPY) and keeps every bar,
    the (series_id, ts) primary key and, on SQLite, WITHOUT ROWID; downgrading to 0006 restores the key
    with the bars intact. bar_events keep theirs throughout."""
    days = generate_bars("FKM", "2023-01-01", "2023-12-31")
    minutes = generate_bars("FKM", "2024-03-08", "2024-03-12", "1-MINUTE")
    write_bars(days, symbol="FKM", bar_size="1-DAY", source="csv")
    write_bars(minutes, symbol="FKM", bar_size="1-MINUTE", source="ibkr")
    split = pd.DataFrame({"ex_date": [days.index[100]], "kind": ["split"], "value": [4.0]})
    assert save_events("FKM", "1-DAY", "csv", split, source="csv") == 1
    engine = get_engine(database_url)
    _downgrade(engine, database_url, "0007")  # bars as a table again (0008 keeps them in blocks)
    at_0007 = _bars_state(engine)
    rows = at_0007["rows"]
    assert len(rows) == len(days) + len(minutes) and len({row[0] for row in rows}) == 2
    key = ("pk_bars", ["series_id", "ts"])
    restored_fk = [(["series_id"], "bar_series", ["id"], "CASCADE")]

    _downgrade(engine, database_url, "0006")
    before = _bars_state(engine)
    assert before["rows"] == rows and before["view_rows"] == len(rows)
    assert before["pk"] == key and before["fks"] == restored_fk and before["event_fks"] == ["bar_series"]
    with pytest.raises(IntegrityError):
        _insert_orphan_bar(engine)

    _upgrade_to(engine, database_url, "0007")
    after = _bars_state(engine)
    assert after["rows"] == rows and after["view_rows"] == len(rows)
    assert after["pk"] == key and after["fks"] == [] and after["event_fks"] == ["bar_series"]
    assert after == at_0007
    if engine.dialect.name == "sqlite":
        assert before["sql"].rstrip().endswith("WITHOUT ROWID") and "FOREIGN KEY" in before["sql"]
        assert after["sql"].rstrip().endswith("WITHOUT ROWID") and "FOREIGN KEY" not in after["sql"]

    _insert_orphan_bar(engine)  # nothing refuses it now; the downgrade drops it (no series, unreadable)
    _downgrade(engine, database_url, "0006")
    assert _bars_state(engine) == before
    assert upgrade(engine) == HEAD
    pd.testing.assert_frame_equal(read_bars("FKM", "1-MINUTE", "ibkr"), minutes, check_freq=False)


def test_bar_blocks_migration_moves_every_bar_into_blocks_and_back(database_url):
    """0008 moves a populated 0007 bars table into bar_blocks, every bar exactly (a series longer than a
    block included), leaves out bars of no series, and keeps bars and market_data as views with the
    same rows; the downgrade gives 0007's table back, row for row."""
    days = generate_bars("BLK", "2015-01-01", "2024-12-31")  # 2 516 bars: two blocks
    minutes = generate_bars("BLK", "2024-03-08", "2024-03-12", "1-MINUTE")
    write_bars(days, symbol="BLK", bar_size="1-DAY", source="csv")
    write_bars(minutes, symbol="BLK", bar_size="1-MINUTE", source="ibkr")
    engine = get_engine(database_url)
    _downgrade(engine, database_url, "0007")
    _insert_orphan_bar(engine)
    at_0007 = _bars_state(engine)
    assert len(at_0007["rows"]) == len(days) + len(minutes) + 1

    assert upgrade(engine) == HEAD
    columns = ", ".join(BAR_KEY_COLUMNS)
    with engine.connect() as connection:
        viewed = connection.execute(text(f"SELECT {columns} FROM bars ORDER BY 1, 2")).all()
        blocks = connection.execute(text("SELECT series_id, rows FROM bar_blocks ORDER BY 1, 2")).all()
        fks = [fk["referred_table"] for fk in inspect(connection).get_foreign_keys("bar_blocks")]
    assert viewed == [row for row in at_0007["rows"] if row[0] != 999]  # the orphan is left out
    assert sorted(rows for _, rows in blocks) == sorted([2048, len(days) - 2048, len(minutes)])
    assert fks == ["bar_series"] and count_rows(database_url, "market_data") == len(viewed)
    pd.testing.assert_frame_equal(read_bars("BLK", "1-DAY", "csv"), days, check_freq=False)
    pd.testing.assert_frame_equal(read_bars("BLK", "1-MINUTE", "ibkr"), minutes, check_freq=False)
    # A write after the move re-cuts the migrated blocks by the series' windows and keeps every bar.
    assert write_bars(minutes, symbol="BLK", bar_size="1-MINUTE", source="ibkr") == 0
    later = generate_bars("BLK", "2024-03-13", "2024-03-14", "1-MINUTE")
    assert write_bars(later, symbol="BLK", bar_size="1-MINUTE", source="ibkr") == len(later)
    both = pd.concat([minutes, later])
    pd.testing.assert_frame_equal(read_bars("BLK", "1-MINUTE", "ibkr"), both, check_freq=False)

    _downgrade(engine, database_url, "0007")
    restored = _bars_state(engine)
    assert len(restored["rows"]) == len(viewed) + len(later)
    assert restored["pk"] == at_0007["pk"] and restored["fks"] == [] and restored["sql"] == at_0007["sql"]
    assert upgrade(engine) == HEAD
    pd.testing.assert_frame_equal(read_bars("BLK", "1-MINUTE", "ibkr"), both, check_freq=False)


def test_models_match_the_migrated_schema(database_url):
    """Base.metadata (what the code believes) equals the schema the migrations build, on both backends."""
    engine = get_engine(database_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
