"""Shared fixtures: a fresh database per test on SQLite and on the local PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ntrader.config import get_settings
from ntrader.db import dispose_engines, get_engine
from tests.ibkr.gateway_thread import ThreadedGateway

PG_ADMIN_URL = os.environ.get("NTRADER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TABLES = ("equity_series", "equity_curve", "trades", "backtest_runs", "bar_blocks", "bar_series", "sweeps")


def _pg_unavailable(reason: str) -> None:
    # In CI a missing PostgreSQL is a broken environment, not a reason to skip half the suite.
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"PostgreSQL is required under CI=true but unreachable: {reason}")
    pytest.skip(f"PostgreSQL unreachable: {reason}")


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for the whole test session, dropped at the end."""
    import psycopg

    name = f"ntrader_test_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        _pg_unavailable(str(exc).splitlines()[0])
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    dispose_engines()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own NTRADER_HOME (so its own default SQLite file) and fresh settings."""
    home = tmp_path / "ntrader-home"
    monkeypatch.setenv("NTRADER_HOME", str(home))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """DATABASE_URL for a clean database: a new SQLite file, or the session's PostgreSQL, emptied."""
    if request.param == "sqlite":
        url = f"sqlite:///{isolated_home / 'test.db'}"
    else:
        url = request.getfixturevalue("pg_database_url")
        engine = get_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    return url


@pytest.fixture
def make_gateway() -> Iterator[Callable[..., ThreadedGateway]]:
    """Start fake IB gateways in background threads (`make_gateway(faults=...)`); all stopped after."""
    started: list[ThreadedGateway] = []

    def make(**kwargs: Any) -> ThreadedGateway:
        gateway = ThreadedGateway(**kwargs).start_in_thread()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


def count_rows(url: str, table: str) -> int:
    with get_engine(url).connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
