"""Several fetch processes at once: one catalog, one manifest, one pacing budget, real processes."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ntrader.data.store import read_bars
from ntrader.ibkr.catalog import (
    Manifest,
    SeriesKey,
    catalog_lock,
    open_catalog,
    read_catalog_bars,
    recover,
    write_catalog_bars,
)
from ntrader.ibkr.fake import FakeGateway, FaultPlan, synthetic_bars
from ntrader.ibkr.pacing import PacingLimiter, PacingRules, SharedLedger, historical_key


def _fetch_process(port: int, start: str, end: str, client_id: int) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-c",
        "from ntrader.cli import main; main()",
        "data",
        "fetch",
        "--instruments",
        "AAPL",
        "--start",
        start,
        "--end",
        end,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--client-id",
        str(client_id),
        "--json",
    ]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ
    )


def test_two_fetch_processes_at_once_leave_one_consistent_catalog_and_manifest(
    make_gateway: Callable[..., FakeGateway], database_url: str, isolated_home: Path
) -> None:
    # Both processes' answers arrive together (the reply delay outlasts both start-ups' skew),
    # and their periods overlap: the second writer's bars touch the first one's file.
    gateway = make_gateway(faults=FaultPlan(reply_delay=1.5, enforce_pacing=True))
    first = _fetch_process(gateway.port, "2024-01-02", "2024-03-28", 11)
    second = _fetch_process(gateway.port, "2024-02-01", "2024-04-30", 12)
    outs = [p.communicate(timeout=120) for p in (first, second)]
    for proc, (_out, err) in zip((first, second), outs, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    assert [r.outcome for r in gateway.historical_requests] == ["bars", "bars"]
    catalog = open_catalog()
    from nautilus_trader.model.data import Bar

    bar_type = "AAPL.NASDAQ-1-DAY-LAST-EXTERNAL"
    raw = catalog.bars(bar_types=[bar_type])
    stamps = [b.ts_event for b in raw]
    assert len(stamps) == len(set(stamps))  # no bar stored twice
    intervals = catalog.get_intervals(Bar, bar_type)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(intervals))  # disjoint files
    lo, hi = pd.Timestamp("2024-01-02", tz="UTC"), pd.Timestamp("2024-05-01", tz="UTC")
    expected = synthetic_bars("AAPL", lo, hi, pd.Timedelta(days=1))
    stored = read_catalog_bars(catalog, bar_type)
    assert stored.index.equals(expected.index)
    # The manifest kept both processes' windows: a third fetch of the union asks IB nothing.
    fetched = Manifest.load().fetched(SeriesKey("AAPL.NASDAQ", "1-DAY"))
    assert fetched == [(lo, hi)]
    assert len(read_bars("AAPL", "1-DAY", "ibkr", url=database_url)) == len(expected)
    third = _fetch_process(gateway.port, "2024-01-02", "2024-04-30", 13)
    out, err = third.communicate(timeout=120)
    assert third.returncode == 0, err
    assert json.loads(out)["requests"] == 0 and len(gateway.historical_requests) == 2


def _acquire_many(ledger_path: str, count: int, queue: multiprocessing.Queue[list[float]]) -> None:
    import asyncio

    rules = PacingRules(same_contract_window=0.5, same_contract_slack=0.05, max_same_contract=3)
    limiter = PacingLimiter(rules, ledger=SharedLedger(Path(ledger_path)))

    async def run() -> list[float]:
        sent = []
        for i in range(count):
            key = historical_key("AAPL", "SMART", "TRADES", f"{os.getpid()}-{i}", "1 D", "1 min", True)
            await limiter.acquire(key)
            sent.append(time.time())
            limiter.release()
        return sent

    queue.put(asyncio.run(run()))


def test_pacing_is_shared_between_processes(tmp_path: Path) -> None:
    # Two processes, each keeping the rule on its own, would send six same-contract requests
    # within half a second; sharing the ledger, no window of 0.5 s holds more than three.
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[float]] = ctx.Queue()
    path = str(tmp_path / "pacing" / "gw.json")
    procs = [ctx.Process(target=_acquire_many, args=(path, 3, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    times = sorted(queue.get(timeout=60) + queue.get(timeout=60))
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert len(times) == 6
    for i in range(len(times) - 3):
        assert times[i + 3] - times[i] >= 0.5  # a fourth only once the first has aged out


def test_a_writer_that_crashed_mid_write_is_recovered(tmp_path: Path) -> None:
    from nautilus_trader.model.data import Bar

    from ntrader.data.bars import parse_bar_size
    from ntrader.ibkr.fake.bars import stock_info  # noqa: F401  (the fake's contract facts)
    from ntrader.ibkr.instruments import to_instrument

    catalog = open_catalog(tmp_path)
    size = parse_bar_size("1-DAY")
    bar_type = "AAPL.NASDAQ-1-DAY-LAST-EXTERNAL"
    frame = synthetic_bars(
        "AAPL",
        pd.Timestamp("2024-01-02", tz="UTC"),
        pd.Timestamp("2024-02-01", tz="UTC"),
        pd.Timedelta(days=1),
    )
    instrument = _instrument(to_instrument)
    with catalog_lock(tmp_path):
        write_catalog_bars(catalog, instrument, bar_type, size, frame.iloc[:10])
    directory = Path(catalog._make_path(Bar, bar_type))
    [whole] = list(directory.glob("*.parquet"))
    # A process died while writing the next file: a torn file and its journal are left behind.
    torn = directory / "2024-01-20T00-00-00-000000000Z_2024-01-31T00-00-00-000000000Z.parquet"
    torn.write_bytes(whole.read_bytes()[:100])
    journal = Path(catalog.path) / ".ntrader-write.json"
    journal.write_text(
        json.dumps({"directory": str(directory), "before": [whole.name], "mode": "append", "new": ""})
    )
    with catalog_lock(tmp_path):
        assert recover(catalog)
        assert not journal.exists() and not torn.exists()
        write_catalog_bars(catalog, instrument, bar_type, size, frame)
    stored = read_catalog_bars(catalog, bar_type)
    assert stored.index.equals(frame.index)


def _instrument(to_instrument: Callable[..., object]) -> object:
    from ibapi.contract import Contract, ContractDetails

    details = ContractDetails()
    details.contract = Contract()
    details.contract.symbol, details.contract.secType = "AAPL", "STK"
    details.contract.primaryExchange, details.contract.currency = "NASDAQ", "USD"
    details.minTick = 0.01
    return to_instrument(details)
