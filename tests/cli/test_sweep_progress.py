"""`backtest sweep` and `backtest walk-forward` say how far they are (issue 14 §4): the Nautilus
confirmation runs report bars processed from inside their worker processes (not only "0/N" until
every run is done), walk-forward counts its folds; on stderr, on a terminal only."""

from __future__ import annotations

import json
import re

from ntrader.db.sweeps import list_sweeps
from tests.cli.test_errors_progress import ANSI, MINUTES, run_on_a_terminal

SWEEP = ("backtest", "sweep", "--strategy", "sma", "--symbol", "AAPL", *MINUTES)
GRID = ("--grid", "fast_period=5:10:5", "--grid", "slow_period=20:30:10", "--top", "2")
BAR_COUNTS = re.compile(r"([\d,]+)/([\d,]+) bars\b")


def _numbers(pairs: list[tuple[str, str]]) -> list[tuple[int, int]]:
    return [(int(a.replace(",", "")), int(b.replace(",", ""))) for a, b in pairs]


def test_sweep_confirmation_in_worker_processes_shows_bars_within_the_runs(database_url):
    code, out, terminal = run_on_a_terminal(*SWEEP, *GRID, "--workers", "2")
    assert code == 0, terminal
    (sweep,) = list_sweeps()
    frames = ANSI.sub("", terminal).replace("\r", "\n")
    assert "Confirming in Nautilus" in frames
    runs = re.findall(r"Confirming in Nautilus .*? (\d+)/2 runs", frames)
    assert "0" in runs, frames  # the runs row is drawn before any run ends
    counts = _numbers(BAR_COUNTS.findall(frames))
    assert counts, frames
    # Two runs of the sweep's bars each, counted across both worker processes.
    assert {total for _, total in counts} == {2 * sweep.bars}
    assert any(0 < done < 2 * sweep.bars for done, _ in counts), counts  # drawn while the runs ran
    assert re.search(r"[\d,]+ bars/s", frames), frames
    assert "bars/s" not in out and "Confirming" not in out
    assert f"Saved sweep {sweep.id}" in out
    # The first line comes at once, before the bars are loaded and the engine is imported.
    assert 0 <= frames.find("Loading the bars") < frames.find("Screening"), frames
    assert "Loading the bars" not in frames[frames.find("Screening") :], "the loading line is removed"


def test_sweep_confirmation_in_this_process_shows_bars_too(database_url):
    code, _, terminal = run_on_a_terminal(*SWEEP, *GRID, "--workers", "1")
    assert code == 0, terminal
    (sweep,) = list_sweeps()
    counts = _numbers(BAR_COUNTS.findall(ANSI.sub("", terminal).replace("\r", "\n")))
    assert {total for _, total in counts} == {2 * sweep.bars}
    assert any(0 < done < 2 * sweep.bars for done, _ in counts), counts


def test_sweep_json_on_a_terminal_prints_no_progress(database_url):
    code, out, terminal = run_on_a_terminal(*SWEEP, *GRID, "--workers", "2", "--json")
    assert code == 0, terminal
    assert json.loads(out)["id"] == list_sweeps()[0].id
    assert "Confirming" not in terminal and "bars/s" not in terminal


def test_walk_forward_on_a_terminal_counts_its_folds(database_url):
    from ntrader.backtest.walkforward import walk_forward

    period = ("2018-01-01", "2023-12-31")
    code, out, terminal = run_on_a_terminal(
        "backtest", "walk-forward", "--strategy", "sma", "--symbol", "AAPL", "--start", period[0],
        "--end", period[1], "--train", "252", "--test", "63", *GRID[:4],
    )  # fmt: skip
    assert code == 0, terminal
    expected = walk_forward(
        "sma",
        "AAPL",
        *period,
        grid=["fast_period=5:10:5", "slow_period=20:30:10"],
        train=252,
        test=63,
        save=False,
    )
    folds = len(expected.folds)
    frames = ANSI.sub("", terminal).replace("\r", "\n")
    shown = {int(k) for k in re.findall(rf"Walk-forward fold (\d+) of {folds}\b", frames)}
    assert 1 in shown and shown <= set(range(1, folds + 1)), frames
    assert 0 <= frames.find("Loading the bars") < frames.find("Walk-forward fold"), frames
    assert "Walk-forward fold" not in out
