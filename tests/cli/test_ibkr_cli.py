"""`data connect`, `data fetch`, `backtest run --data-source ibkr` and `ibkr fake-gateway` through the CLI."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.config import get_settings
from ntrader.ibkr.client import IBClient
from ntrader.ibkr.fake_gateway import FakeGateway, FaultPlan
from tests.conftest import count_rows

SECRET = "hunter2-never-print-me"


@pytest.fixture(autouse=True)
def ib_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWS_USERNAME", "someone")
    monkeypatch.setenv("TWS_PASSWORD", SECRET)
    get_settings.cache_clear()


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert SECRET not in result.output
    return result


def test_connect_prints_a_status_table(make_gateway: Callable[..., FakeGateway]) -> None:
    gateway = make_gateway()
    result = invoke("data", "connect", "--host", "127.0.0.1", "--port", str(gateway.port), "--client-id", "9")
    assert result.exit_code == 0, result.output
    for text in ("127.0.0.1", str(gateway.port), "Server version", "187", "DU1234567", "paper", "Read-only"):
        assert text in result.output
    assert gateway.client_ids == [9]


def test_connect_failure_lists_what_to_check_and_exits_3(make_gateway: Callable[..., FakeGateway]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refused = invoke("data", "connect", "--port", str(port), "--timeout", "2")
    assert refused.exit_code == 3
    assert "nothing accepted the connection" in refused.output
    assert "Troubleshooting" in refused.output and "Trusted IPs" in refused.output
    silent = make_gateway(faults=FaultPlan(silent=True))
    hung = invoke("data", "connect", "--port", str(silent.port), "--timeout", "0.3")
    assert hung.exit_code == 3 and "within 0.3 s" in hung.output


def test_fetch_table_gaps_and_refetch(make_gateway: Callable[..., FakeGateway], database_url: str) -> None:
    hole = (pd.Timestamp("2024-01-10", tz="UTC"), pd.Timestamp("2024-01-11", tz="UTC"))
    gateway = make_gateway(faults=FaultPlan(no_data_windows=(hole,)))
    args = ["data", "fetch", "--instruments", "AAPL,MSFT", "--start", "2024-01-01", "--end", "2024-01-31"]
    args += ["--port", str(gateway.port), "--timeframe", "DAILY"]
    result = invoke(*args)
    assert result.exit_code == 4, result.output
    assert "IBKR fetch" in result.output and "Cached windows" in result.output
    assert "AAPL: missing 2024-01-10 00:00 → 2024-01-11 00:00" in result.output
    assert "pass --allow-gaps" in result.output
    assert len(gateway.historical_requests) == 2

    accepted = invoke(*args, "--allow-gaps", "--json")
    assert accepted.exit_code == 0, accepted.output
    report = json.loads(accepted.output)
    assert report["requests"] == 0 and len(gateway.historical_requests) == 2
    assert [r["cached_windows"] for r in report["results"]] == [1, 1]
    assert [len(r["gaps"]) for r in report["results"]] == [1, 1]
    # 23 weekdays less New Year's Day and Martin Luther King Day (the fake follows the NYSE), 1 hole.
    assert count_rows(database_url, "market_data") == 2 * 20

    listed = invoke("data", "list", "--symbol", "AAPL")
    assert "ibkr" in listed.output and "2024-01-31" in listed.output


def test_fetch_aliases_symbol_and_bar_size(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway()
    result = invoke(
        "data", "fetch", "--symbol", "SPY", "--bar-size", "1-HOUR", "--start", "2024-01-02",
        "--end", "2024-01-03", "--port", str(gateway.port), "--what", "TRADES", "--rth",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "SPY" in result.output and "1-HOUR" in result.output
    assert gateway.historical_requests[0].bar_size == "1 hour"


def test_backtest_run_on_ibkr_bars(
    make_gateway: Callable[..., FakeGateway], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = make_gateway()
    monkeypatch.setenv("IBKR_PORT", str(gateway.port))
    get_settings.cache_clear()
    nothing = invoke("backtest", "run", "--strategy", "sma", "--symbol", "AAPL", "--data-source", "ibkr",
                     "--no-fetch")  # fmt: skip
    assert nothing.exit_code == 1 and "no 1-DAY bars stored for AAPL from ibkr" in nothing.output
    result = invoke("backtest", "run", "--strategy", "sma", "--symbol", "AAPL", "--data-source", "ibkr",
                    "--start", "2023-01-01", "--end", "2023-12-31", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)
    assert run["data_source"] == "ibkr"
    assert len(gateway.historical_requests) == 1
    again = invoke("backtest", "run", "--strategy", "sma", "--symbol", "AAPL", "--data-source", "ibkr",
                   "--no-fetch")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert len(gateway.historical_requests) == 1


def test_fake_gateway_command_serves_until_stopped() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ntrader.cli import main; main()", "ibkr", "fake-gateway", "--port", "0",
         "--symbols", "AAPL"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # bounded: the process prints this line or exits
        assert "Fake IB Gateway listening on 127.0.0.1:" in line, proc.stderr.read() if proc.stderr else ""
        port = int(line.split("127.0.0.1:")[1].split()[0])

        async def check() -> tuple[str, ...]:
            async with IBClient("127.0.0.1", port, 1, connect_timeout=10) as ib:
                assert ib.info is not None
                return ib.info.accounts

        assert asyncio.run(check()) == ("DU1234567",)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_fetch_errors_name_the_symbol_once_and_refresh_and_timeout_options(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway(faults=FaultPlan(no_data_symbols={"AAPL"}))
    base = ["data", "fetch", "--start", "2024-01-02", "--end", "2024-01-31", "--port", str(gateway.port)]
    unknown = invoke(*base, "--instruments", "NOSUCH")
    assert unknown.exit_code == 1
    assert unknown.output.count("NOSUCH") == 2  # once in the table, once in the error line
    assert "NOSUCH: IB error 200" in unknown.output and "NOSUCH: NOSUCH" not in unknown.output

    empty = invoke(*base, "--instruments", "AAPL", "--allow-gaps", "--json")
    assert json.loads(empty.output)["requests"] == 1
    again = invoke(*base, "--instruments", "AAPL", "--allow-gaps", "--json")
    assert json.loads(again.output)["requests"] == 0  # "no data" is trusted for a day...
    refreshed = invoke(*base, "--instruments", "AAPL", "--allow-gaps", "--json", "--refresh")
    assert json.loads(refreshed.output)["requests"] == 1  # ...unless asked to refresh
    assert len(gateway.historical_requests) == 2

    silent = make_gateway(faults=FaultPlan(silent=True))
    hung = invoke("data", "fetch", "--instruments", "MSFT", "--port", str(silent.port), "--timeout", "0.3")
    assert hung.exit_code == 3 and "within 0.3 s" in hung.output
    bad = invoke(*base, "--instruments", "AAPL", "--pacing-margin", "2")
    assert bad.exit_code == 2 and "--pacing-margin" in bad.output


def test_connect_to_a_host_that_does_not_resolve_says_so() -> None:
    result = invoke(
        "data", "connect", "--host", "no-such-gateway.invalid", "--port", "4002", "--timeout", "5"
    )
    assert result.exit_code == 3
    assert "cannot resolve host 'no-such-gateway.invalid'" in result.output
    assert "ib-gateway with port 4004" in result.output and "127.0.0.1" in result.output
    assert "nothing accepted the connection" not in result.output and "Trusted IPs" not in result.output
    helped = invoke("data", "connect", "--help")
    assert (
        "--host ib-gateway --port 4004" in helped.output and "--host 127.0.0.1 --port 4002" in helped.output
    )


def test_fetch_progress_has_elapsed_eta_and_a_pacing_countdown(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console
    from rich.progress import TimeElapsedColumn, TimeRemainingColumn

    from ntrader.cli import progress as progress_module
    from ntrader.ibkr.report import FetchProgress

    screen = io.StringIO()
    monkeypatch.setattr(
        progress_module, "err_console", lambda: Console(file=screen, force_terminal=True, width=200)
    )
    now = [1000.0]
    with progress_module.FetchBars(enabled=True, clock=lambda: now[0]) as bars:
        bars(FetchProgress("AAPL", 10, 3, 1170, 1, 30.0, "pacing: waiting 30.0 s", waiting=30.0))
        assert bars.bar is not None
        columns = bars.bar.columns
        assert any(isinstance(c, TimeElapsedColumn) for c in columns)
        assert any(isinstance(c, TimeRemainingColumn) for c in columns)
        countdown = columns[-1]
        task = bars.bar.tasks[0]
        assert countdown.render(task).plain == "pacing: waiting 30 s more"
        now[0] += 10.0  # the display re-renders by itself: the wait counts down without new events
        assert countdown.render(task).plain == "pacing: waiting 20 s more"
        now[0] += 25.0
        assert countdown.render(task).plain == ""  # over: the stale "waiting 30.0 s" note is not shown
        bars(FetchProgress("AAPL", 10, 4, 1560, 1, 30.0, "window failed: no answer"))
        assert countdown.render(bars.bar.tasks[0]).plain == "window failed: no answer"
    # Not on a terminal (a pipe, a log, --json): no progress display at all.
    monkeypatch.setattr(progress_module, "err_console", lambda: Console(file=io.StringIO()))
    quiet = progress_module.FetchBars(enabled=True)
    quiet(FetchProgress("AAPL", 10, 3, 1170, 1, 30.0, "", waiting=30.0))
    assert quiet.bar is None
