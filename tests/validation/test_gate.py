"""The overfitting gate end to end: real sweeps through the CLI on a pure random walk (not
significant) and on a series with a planted trend-following edge (passes); what is stored, shown
and exported; `report validate`; walk-forward efficiency."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ntrader.backtest.vector import prepare_bars, screen
from ntrader.cli import cli
from ntrader.data import load_bars, parse_bar_size, parse_period
from ntrader.db.runs import get_run
from ntrader.db.sweeps import get_sweep

GRID = ["--grid", "fast_period=5:50:5", "--grid", "slow_period=60:240:20"]  # 10 × 10 = 100 trials


def _write_bars(path: Path, log_returns: np.ndarray) -> Path:
    days = pd.bdate_range("2015-01-01", periods=len(log_returns), tz="UTC")
    close = 100 * np.exp(np.cumsum(log_returns))
    open_ = np.concatenate(([100.0], close[:-1]))
    pd.DataFrame(
        {
            "timestamp": days.strftime("%Y-%m-%d"),
            "open": open_.round(2),
            "high": (np.maximum(open_, close) * 1.003).round(2),
            "low": (np.minimum(open_, close) * 0.997).round(2),
            "close": close.round(2),
            "volume": 1_000_000,
        }
    ).to_csv(path, index=False)
    return path


def random_walk(path: Path, seed: int = 3, n: int = 2000) -> Path:
    """A pure random walk: i.i.d. normal log returns, no drift."""
    return _write_bars(path, np.random.default_rng(seed).normal(0.0, 0.01, n))


def planted_edge(path: Path, seed: int = 7, n: int = 2000) -> Path:
    """Trends of 200 sessions alternating up and down (±0.4 % a day) under 1 % daily noise: an edge
    a slow SMA crossover catches and a random entry does not."""
    regime = np.where((np.arange(n) // 200) % 2 == 0, 1.0, -1.0)
    return _write_bars(path, 0.004 * regime + np.random.default_rng(seed).normal(0.0, 0.01, n))


def _import(csv: Path, symbol: str) -> list[str]:
    """Store the bars (so reports can reload them); the options that select them."""
    imported = CliRunner().invoke(cli, ["data", "import-csv", str(csv), "--symbol", symbol])
    assert imported.exit_code == 0, imported.output
    return ["--symbol", symbol, "--data-source", "csv", "--start", "2015-01-01", "--end", "2022-12-31"]


def _sweep(csv: Path, symbol: str, *extra: str) -> object:
    args = ["backtest", "sweep", "--strategy", "sma", *_import(csv, symbol), *GRID]
    return CliRunner().invoke(cli, [*args, "--top", "1", "--workers", "1", *extra], catch_exceptions=False)


def _saved(output: str, what: str = "sweep") -> int:
    found = re.search(rf"Saved {what} (\d+)", output)
    assert found, output
    return int(found.group(1))


def _verdict_block(output: str) -> str:
    start = output.index("Validation (is this edge real?)")
    return output[start:]


def test_noise_sweep_is_not_significant(database_url: str, tmp_path: Path) -> None:
    result = _sweep(random_walk(tmp_path / "noise.csv"), "NOISE")
    assert result.exit_code == 0, result.output
    block = _verdict_block(result.output)
    print(block)  # the closing note quotes it
    assert "Trials          100" in block
    assert "Verdict: not significant after 100 trials: DSR " in block
    record = get_sweep(_saved(result.output), url=database_url)
    gate = record.settings["validation"]
    assert record.settings["trials"] == 100
    assert gate["trials"] == 100 and gate["significant"] is False
    assert gate["dsr"] < 0.95
    assert gate["pbo"] > 0.3  # well above 0: the in-sample best is a coin toss out of sample
    assert f"DSR {gate['dsr']:.2f}, PBO {gate['pbo']:.2f}" in block
    details = gate["details"]
    assert details["pbo"]["blocks"] == 16 and details["pbo"]["combinations"] == 12870
    assert sum(details["pbo"]["logit_histogram"]["counts"]) == 12870
    assert details["dsr"]["trials"] == 100 and details["days"] > 1900


def test_planted_edge_sweep_passes(database_url: str, tmp_path: Path) -> None:
    result = _sweep(planted_edge(tmp_path / "edge.csv"), "EDGE")
    assert result.exit_code == 0, result.output
    block = _verdict_block(result.output)
    print(block)
    record = get_sweep(_saved(result.output), url=database_url)
    gate = record.settings["validation"]
    assert gate["significant"] is True, gate
    assert gate["dsr"] >= 0.95 and gate["pbo"] < 0.5
    assert "Verdict: significant after 100 trials" in block
    # The confirmed best run sits high in the random-entry baseline.
    run_id = str(record.run_ids[0])
    shown = CliRunner().invoke(cli, ["report", "validate", run_id, "--monte-carlo", "500", "--json"])
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert doc["random_entry"] is not None, doc["notes"]
    assert doc["random_entry"]["percentile"] > 90.0
    assert doc["psr"] > 0.95


def test_trials_from_history_count_earlier_sweeps(database_url: str, tmp_path: Path) -> None:
    csv = random_walk(tmp_path / "noise.csv")
    once = _sweep(csv, "NOISE")
    assert once.exit_code == 0
    again = _sweep(csv, "NOISE", "--trials-from-history", "--json")
    assert again.exit_code == 0, again.output
    doc = json.loads(again.stdout)
    first = get_sweep(_saved(once.output), url=database_url).settings["validation"]
    assert doc["validation"]["trials"] == 200
    assert doc["validation"]["trials_earlier_sweeps"] == 100
    assert doc["settings"]["validation"] == doc["validation"]
    # Same best, more trials: a higher hurdle, a lower DSR.
    assert doc["validation"]["dsr"] < first["dsr"]
    text = CliRunner().invoke(cli, ["report", "sweep", str(doc["id"])])
    assert "200 (100 here + 100 in earlier sweeps)" in text.output
    assert "DSR inputs" in text.output and "PBO inputs      16 blocks, 12,870 splits" in text.output


def test_report_validate_stores_and_redraws(database_url: str, tmp_path: Path) -> None:
    swept = _sweep(random_walk(tmp_path / "noise.csv"), "NOISE")
    sweep_id = _saved(swept.output)
    run_id = get_sweep(sweep_id, url=database_url).run_ids[0]
    first = CliRunner().invoke(cli, ["report", "validate", str(run_id), "--monte-carlo", "300"])
    assert first.exit_code == 0, first.output
    assert "300 Monte Carlo samples, computed" in first.output
    for label in ("PSR (Sharpe > 0)", "CAGR", "Max drawdown", "Trade reshuffles", "Random entries"):
        assert label in first.output
    stored = get_run(run_id, url=database_url).settings["validation"]
    assert stored["samples"] == 300 and stored["bootstrap"]["samples"] == 300
    again = CliRunner().invoke(cli, ["report", "validate", str(run_id), "--json"])
    doc = json.loads(again.stdout)
    assert doc["source"] == "stored" and doc["bootstrap"] == stored["bootstrap"]
    p = doc["bootstrap"]["sharpe"]
    assert p["p5"] <= p["p50"] <= p["p95"]
    gate = CliRunner().invoke(cli, ["report", "validate", "--sweep", str(sweep_id), "--json"])
    assert gate.exit_code == 0, gate.output
    sdoc = json.loads(gate.stdout)
    assert sdoc["gate"]["trials"] == 100 and sdoc["best_run"]["run_id"] == run_id


def test_report_validate_needs_one_target(database_url: str) -> None:
    neither = CliRunner().invoke(cli, ["report", "validate"])
    assert neither.exit_code == 2 and "RUN_ID or --sweep" in neither.output
    both = CliRunner().invoke(cli, ["report", "validate", "1", "--sweep", "1"])
    assert both.exit_code == 2
    missing = CliRunner().invoke(cli, ["report", "validate", "999999"])
    assert missing.exit_code == 1 and "no backtest run with id 999999" in missing.output


def test_walk_forward_prints_efficiency_and_stitched_dsr(database_url: str, tmp_path: Path) -> None:
    args = [
        "backtest",
        "walk-forward",
        "--strategy",
        "sma",
        *_import(planted_edge(tmp_path / "e.csv"), "EDGE"),
    ]
    grid = ["--grid", "fast_period=10,20", "--grid", "slow_period=60,120", "--train", "400", "--test", "200"]
    result = CliRunner().invoke(cli, [*args, *grid], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Walk-forward efficiency (OOS Sharpe / IS Sharpe):" in result.output
    assert "Stitched out-of-sample DSR" in result.output
    run = get_run(_saved(result.output, "run"), url=database_url)
    validation = run.settings["walk_forward"]["validation"]
    folds = run.settings["walk_forward"]["folds"]
    eff = validation["efficiency"]
    assert len(eff["folds"]) == len(folds)
    for fold, ratio in zip(folds, eff["folds"], strict=True):
        if ratio is not None:
            assert ratio == pytest.approx(fold["oos_sharpe"] / fold["in_sample_sharpe"])
    assert validation["dsr"]["trials"] == 4
    assert 0.0 <= validation["stitched_dsr"] <= 1.0


def test_screen_keeps_daily_returns_only_when_asked(tmp_path: Path) -> None:
    bars = prepare_bars(load_bars("AAPL", parse_period("2022-01-01", "2023-12-31")), parse_bar_size("1-DAY"))
    combos = [{"fast_period": 10, "slow_period": 30}, {"fast_period": 5, "slow_period": 60}]
    plain = screen(bars, "sma", combos)
    kept = screen(bars, "sma", combos, keep_daily=True)
    assert all(f.daily_returns is None for f in plain)
    for p, k in zip(plain, kept, strict=True):
        assert p == k
        r = k.daily_returns
        assert r is not None
        assert np.prod(1 + r) - 1 == pytest.approx(k.total_return, abs=1e-9)
        assert r.mean() / r.std(ddof=1) * np.sqrt(bars.periods_per_year) == pytest.approx(k.sharpe, abs=1e-9)


def test_nautilus_engine_sweeps_get_the_gate_too(database_url: str) -> None:
    """Without the vector screen the trials' daily returns come from their Nautilus equity curves."""
    from ntrader.backtest.sweep import run_sweep

    outcome = run_sweep(
        "sma",
        "AAPL",
        "2022-01-01",
        "2023-12-31",
        grid={"fast_period": [5, 10], "slow_period": [30, 60]},
        engine="nautilus",
        workers=1,
        database_url=database_url,
    )
    gate = outcome.validation
    assert gate is not None and gate["trials"] == 4
    assert gate["details"]["pbo"]["trials"] == 4 and gate["details"]["days"] > 400
    assert get_sweep(outcome.sweep_id, url=database_url).settings["validation"] == gate
