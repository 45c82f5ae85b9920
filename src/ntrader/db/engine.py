"""Database engines: one per URL, migrated to the newest schema on first use."""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.exc import NoSuchModuleError as NoSuchDriverError
from sqlalchemy.orm import Session, sessionmaker

from ntrader.config import get_settings, mask_url
from ntrader.errors import DatabaseUnavailable, InputError, NtraderError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

MIGRATIONS = Path(__file__).with_name("migrations")
#: The databases ntrader ships a driver for (a `mysql://` URL would fail deep in SQLAlchemy).
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
#: pg_advisory_xact_lock key that serializes migrations across processes ("ntrader" in ASCII).
MIGRATION_LOCK_KEY = 0x6E747261646572
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


class SchemaTooNew(NtraderError):
    """The database was migrated by a newer ntrader than this one."""


def _alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _describe(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database}"
    return f"{parsed.get_backend_name()} at {parsed.host or 'localhost'}:{parsed.port or 5432}"


def _create(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InputError(f"DATABASE_URL is not a database URL: {mask_url(url)}") from exc
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise InputError(
            f"DATABASE_URL uses an unsupported database {backend!r}: {mask_url(url)} "
            "(use sqlite:///path/to/file.db or postgresql://user:password@host/db)"
        )
    kwargs: dict[str, object] = {"future": True}
    if backend == "sqlite":
        kwargs["connect_args"] = {"timeout": 30}  # wait for another process's write (e.g. a migration)
        if parsed.database not in (None, "", ":memory:"):
            _sqlite_folder(Path(parsed.database).expanduser())
    elif backend == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": 5}
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)  # type: ignore[arg-type]
    except NoSuchDriverError as exc:
        raise InputError(f"DATABASE_URL names an unknown database driver: {mask_url(url)}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_folder(file: Path) -> None:
    """Create the SQLite file's folder, or say in one line why it cannot be (naming the setting)."""
    setting = "DATABASE_URL" if get_settings().database_url else "NTRADER_HOME"
    folder = file.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in (folder, *folder.parents) if p.exists()), folder)
        why = f"{blocker} is a file, not a folder" if blocker.is_file() else exc.strerror
        raise InputError(f"{setting}: cannot create the folder {folder} for the database: {why}") from None
    try:
        if file.exists():
            if not os.access(file, os.W_OK):
                raise PermissionError(13, "permission denied")
        else:
            file.touch()  # what SQLite would do on connect: an empty file is an empty database
    except OSError as exc:
        raise InputError(f"{setting}: cannot write the database {file}: {exc.strerror}") from None


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def get_engine(url: str | None = None, *, migrate: bool = True) -> Engine:
    """The engine for `url` (default: the configured one), migrated to head on first use."""
    url = url or get_settings().resolved_database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create(url)
            if migrate and not _at_head(engine):
                upgrade(engine)
            _engines[url] = engine
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests and long-lived processes switching databases)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


_REVISION_LINE = re.compile(r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*["']?([\w.-]+|None)["']?""", re.M)


@functools.cache
def head_revision() -> str | None:
    """The newest migration we ship, read from the files without importing alembic (one linear chain;
    a test checks it agrees with alembic's own answer)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for file in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((key, value) for key, value in _REVISION_LINE.findall(file.read_text()))
        if "revision" in found:
            revisions.add(found["revision"])
            parents.add(found.get("down_revision", "None"))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _at_head(engine: Engine) -> bool:
    """Already migrated? One query, so most commands never import alembic."""
    head = head_revision()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            current = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    except OperationalError as exc:
        if engine.dialect.name == "sqlite" and "no such table" in str(exc.orig):
            return False  # a new file
        raise DatabaseUnavailable(
            f"cannot reach the database ({_describe(engine.url.render_as_string(False))}): "
            f"{_first_line(exc.orig)}"
        ) from exc
    except DBAPIError:
        return False  # PostgreSQL without the table yet: a new database
    return current == [head]


def upgrade(engine: Engine) -> str:
    """Run every pending migration; returns the revision the database is at.

    Serialized across processes (several first runs at once on a new database would each create the
    tables): PostgreSQL takes a transaction-level advisory lock, SQLite a write lock (BEGIN IMMEDIATE)
    before alembic looks at the schema, so the second process finds it migrated.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as connection:
            if sqlite:
                # SQLite migrations rebuild tables (copy, drop, rename); with foreign keys on, dropping
                # backtest_runs would cascade-delete every run's trades and equity curve.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            try:
                with connection.begin():
                    _lock_migrations(connection)
                    config = _alembic_config(engine.url.render_as_string(hide_password=False))
                    _refuse_newer_schema(connection, config, engine)
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
                    revision = MigrationContext.configure(connection).get_current_revision() or "base"
            finally:
                if sqlite:
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()
            return revision
    except OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot reach the database ({_describe(engine.url.render_as_string(False))}): "
            f"{_first_line(exc.orig)}"
        ) from exc


def _lock_migrations(connection: Connection) -> None:
    """Hold the migration lock until this transaction ends."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
    elif connection.dialect.name == "sqlite" and not _in_transaction(connection):
        # pysqlite begins transactions lazily (and not before DDL); BEGIN IMMEDIATE takes SQLite's
        # write lock now (others wait up to the busy timeout), so one process at a time reads and migrates.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _in_transaction(connection: Connection) -> bool:
    return bool(getattr(connection.connection.dbapi_connection, "in_transaction", False))


def _refuse_newer_schema(connection: Connection, config: Config, engine: Engine) -> None:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        return
    script = ScriptDirectory.from_config(config)
    known = {rev.revision for rev in script.walk_revisions()}
    if current not in known:
        raise SchemaTooNew(
            f"the database ({_describe(engine.url.render_as_string(False))}) has schema revision "
            f"{current!r}, newer than this ntrader knows (up to {script.get_current_head()!r}): "
            "upgrade ntrader, or point DATABASE_URL elsewhere"
        )


def status(url: str | None = None) -> dict[str, str]:
    """The database URL (password masked), its current revision and the newest one we ship."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    url = url or get_settings().resolved_database_url
    engine = _create(url)
    head = ScriptDirectory.from_config(_alembic_config(url)).get_current_head() or "base"
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision() or "none"
    except OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot reach the database ({_describe(url)}): {_first_line(exc.orig)}"
        ) from exc
    finally:
        engine.dispose()
    return {"url": mask_url(url), "backend": engine.dialect.name, "revision": current, "head": head}


def _first_line(error: object) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


_sessionmakers: dict[Engine, sessionmaker[Session]] = {}


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    engine = get_engine(url)
    maker = _sessionmakers.setdefault(engine, sessionmaker(engine, expire_on_commit=False))
    session = maker()
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise DatabaseUnavailable(
            f"database error ({_describe(url or get_settings().resolved_database_url)}): "
            f"{_first_line(exc.orig)}"
        ) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
