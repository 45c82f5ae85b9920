"""`backtest run` says what it is doing (issue 14 §4): the phase at once, then bars processed of the
total, the rate and the time left, on stderr and only on a terminal; `--json` stays clean."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys

import pytest

from ntrader.backtest import run_backtest

# About 24 000 one-minute bars: a few seconds in the engine, long enough for several frames.
MINUTES = ("--bar-size", "1-MINUTE", "--start", "2024-01-02", "--end", "2024-03-28")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_on_a_terminal(*args: str) -> tuple[int, str, str]:
    """The real CLI with stderr on a pseudo-terminal, stdout a pipe: exit code, stdout, the terminal."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "160"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from ntrader.cli import main; main()", *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    seen = bytearray()
    while True:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif process.poll() is not None:
            break
    os.close(leader)
    assert process.stdout is not None
    out = process.stdout.read().decode()
    return process.wait(timeout=300), out, seen.decode(errors="replace")


def test_backtest_run_on_a_terminal_shows_phases_bars_rate_and_eta(database_url):
    code, out, terminal = run_on_a_terminal(
        "backtest", "run", "--strategy", "sma", "--symbol", "AAPL", *MINUTES
    )
    assert code == 0, terminal
    assert "Run id" in out  # the summary panel on stdout, the progress on the terminal only
    frames = ANSI.sub("", terminal).replace("\r", "\n")
    assert "sma on AAPL · Loading bars" in frames
    bars = int(re.search(r"Bars\s+([\d,]+)", out).group(1).replace(",", ""))  # type: ignore[union-attr]
    engine = re.findall(r"· Engine .*? ([\d,]+)/([\d,]+) bars +([\d,]+) bars/s", frames)
    assert engine, frames
    assert {int(total.replace(",", "")) for _, total, _ in engine} == {bars}
    assert "Computing metrics" in frames and "Saving the run" in frames
    assert "Engine" not in out and "bars/s" not in out


def test_backtest_run_json_on_a_terminal_prints_no_progress(database_url):
    code, out, terminal = run_on_a_terminal(
        "backtest", "run", "--strategy", "sma", "--symbol", "AAPL", *MINUTES, "--json"
    )
    assert code == 0, terminal
    assert json.loads(out)["status"] == "completed"
    assert "Loading bars" not in terminal and "bars/s" not in terminal
    assert "Error" not in terminal


def test_progress_reports_every_phase_and_the_bar_count_without_changing_the_run(
    database_url, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("ntrader.backtest.progress.REPORT_EVERY", 0.0)  # every bar
    heard: list[tuple[str, int, int]] = []
    args = ("sma", "AAPL", "2023-01-01", "2023-12-31")
    watched = run_backtest(*args, save=False, progress=lambda *event: heard.append(event))
    plain = run_backtest(*args, save=False)
    phases = list(dict.fromkeys(phase for phase, _, _ in heard))
    assert phases == ["loading", "engine", "metrics"]  # not saved: no "saving"
    engine = [(done, total) for phase, done, total in heard if phase == "engine"]
    assert engine[0] == (0, 250) and engine[-1] == (250, 250)
    assert [done for done, _ in engine] == list(range(251))
    assert watched.result.trades.equals(plain.result.trades)
    assert watched.result.equity.equals(plain.result.equity)


BIG = ("--symbol", "BIG", "--bar-size", "1-MINUTE")


def test_a_large_csv_import_says_so_at_once_on_a_terminal(database_url, tmp_path):
    from ntrader.data.mock import generate_bars

    bars = generate_bars("BIG", "2024-01-02", "2024-03-28", "1-MINUTE")
    path = tmp_path / "big.csv"
    bars.to_csv(path, index_label="timestamp", date_format="%Y-%m-%dT%H:%M:%SZ")
    assert path.stat().st_size > 1_000_000
    code, out, terminal = run_on_a_terminal("data", "import-csv", str(path), *BIG)
    assert code == 0, terminal
    frames = ANSI.sub("", terminal)
    assert f"Reading and checking {path}" in frames
    assert f"Inserted {len(bars):,} bars" in out and "Reading" not in out
    code, out, terminal = run_on_a_terminal("data", "import-csv", str(path), *BIG, "--json")
    assert code == 0 and json.loads(out)["inserted"] == 0
