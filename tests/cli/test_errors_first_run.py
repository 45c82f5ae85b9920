"""Four first runs at once on a brand-new database, in four real processes: all succeed (issue 14 §2).

Each process used to run the migrations itself; on PostgreSQL two of four then failed after computing
their backtest ("duplicate key … pg_type_typname_nsp_index"). Migrations now take turns on a lock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL, _pg_unavailable

PROCESSES = 4
RUN = ("backtest", "run", "--strategy", "sma", "--start", "2023-01-01", "--end", "2023-06-30", "--json")

# Each process starts the real CLI once the test says go, so the first uses of the database overlap.
DRIVER = """
import sys, time
from pathlib import Path
from ntrader.cli import main
import ntrader.backtest.service, ntrader.db.engine  # the heavy imports happen before the start line
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.005)
sys.argv = ["ntrader", *sys.argv[3:]]
main()
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nobody has used yet: a SQLite path that does not exist, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'first' / 'ntrader.db'}"
        return
    import psycopg

    name = f"ntrader_first_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        _pg_unavailable(str(exc).splitlines()[0])
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_four_first_runs_at_once_on_a_new_database_all_succeed(new_database_url: str, tmp_path: Path):
    go = tmp_path / "go"
    readies = [tmp_path / f"ready-{i}" for i in range(PROCESSES)]
    env = {**os.environ, "DATABASE_URL": new_database_url}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(ready), str(go), *RUN, "--symbol", f"FIRST{i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i, ready in enumerate(readies)
    ]
    deadline = time.monotonic() + 180
    while not all(r.exists() for r in readies):
        assert time.monotonic() < deadline, "the processes did not start"
        assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
        time.sleep(0.01)
    go.touch()
    outcomes = [p.communicate(timeout=600) for p in processes]
    for process, (_, err) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, err
        assert "Traceback" not in err
    ids = sorted(json.loads(out)["id"] for out, _ in outcomes)
    assert ids == [1, 2, 3, 4]
    engine = create_engine(new_database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            symbols = conn.execute(text("SELECT symbol FROM backtest_runs ORDER BY symbol")).scalars().all()
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()
    assert symbols == [f"FIRST{i}" for i in range(PROCESSES)]
    assert len(versions) == 1
