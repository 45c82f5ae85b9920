"""A seeded database (real runs, a real sweep, stored bars) and a client of the UI app over it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from ntrader.backtest import run_backtest
from ntrader.backtest.sweep import run_sweep
from ntrader.data.store import import_csv
from ntrader.db import get_engine
from ntrader.ui import UIConfig, create_app

EXAMPLE_CSV = Path(__file__).resolve().parents[2] / "examples" / "data" / "AAPL.csv"


@dataclass
class Seeded:
    url: str
    home: Path
    runs: list[int]
    sweep_id: int


def seed(url: str, home: Path) -> Seeded:
    """Three SMA runs (two symbols, different parameters), a small sweep, and AAPL bars from a CSV."""
    with get_engine(url).begin() as conn:  # sweeps are not in the shared fixture's TRUNCATE list
        conn.execute(text("DELETE FROM sweeps"))
    runs = []
    for symbol, fast in (("AAPL", 5), ("MSFT", 10), ("AAPL", 15)):
        outcome = run_backtest(
            "sma",
            symbol,
            "2023-01-01",
            "2023-12-31",
            params={"fast_period": fast, "slow_period": 30},
            database_url=url,
        )
        assert outcome.run_id is not None
        runs.append(outcome.run_id)
    sweep = run_sweep(
        "sma",
        "AAPL",
        "2022-01-01",
        "2023-12-31",
        grid=["fast_period=5:15:5", "slow_period=20:40:20"],
        metric="sharpe",
        top=1,
        workers=1,
        database_url=url,
    )
    assert sweep.sweep_id is not None
    import_csv(EXAMPLE_CSV, symbol="AAPL", url=url)
    return Seeded(url, home, runs, sweep.sweep_id)


@pytest.fixture
def seeded(database_url: str, isolated_home: Path) -> Seeded:
    return seed(database_url, isolated_home)


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    app = create_app(UIConfig(seeded.url, seeded.home))
    with TestClient(app, base_url=LOCAL) as test_client:
        yield test_client


LOCAL = "http://127.0.0.1:8765"  # the loopback server answers only to its own names


def csrf(client: TestClient) -> str:
    return str(client.app.state.csrf)  # type: ignore[attr-defined]
