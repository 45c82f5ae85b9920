"""Nautilus runs in a process pool and on a local Ray instance give identical results."""

from __future__ import annotations

import os

import pytest

from ntrader.backtest.parallel import EngineTask, resolve_ray_address, run_task, run_tasks
from ntrader.backtest.request import BacktestRequest
from ntrader.backtest.sweep import run_sweep
from ntrader.data.mock import generate_bars

# Under `uv run`, Ray would start its workers with `uv run` in the current directory, which these
# tests move to a temporary one (no project there): workers must use this very interpreter instead.
os.environ["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] = "0"
try:
    import ray
except ImportError:  # pragma: no cover - depends on the environment
    # CI installs the ray extra: there a missing Ray is a broken install, not a reason to skip.
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        raise
    pytest.skip("the ray extra is not installed (uv sync --extra ray)", allow_module_level=True)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def tasks() -> list[EngineTask]:
    return [
        EngineTask(
            BacktestRequest.build("sma", "AAPL", capital=100_000.0, commission="ibkr-fixed", fill_at=fill),
            {"fast_period": f, "slow_period": s, "allow_short": False, "position_pct": 0.95},
        )
        for f, s, fill in ((5, 20, "close"), (10, 30, "next-open"), (10, 50, "close"))
    ]


def summary(outputs) -> list[tuple]:
    return [
        (
            [(f.timestamp, f.side, f.quantity, f.price, f.commission) for f in o.result.fills],
            o.result.equity.tolist(),
            o.metrics.to_json_dict(),
        )
        for o in outputs
    ]


def test_pool_and_ray_give_the_same_results_as_one_process(local_ray):
    bars = generate_bars("AAPL", "2021-01-01", "2023-12-31")
    here = [run_task(bars, t) for t in tasks()]
    advanced: list[int] = []
    pool = run_tasks(bars, tasks(), workers=2, progress=advanced.append)
    on_ray = run_tasks(bars, tasks(), ray_address="auto")
    assert summary(pool) == summary(here) == summary(on_ray)
    assert [o.task for o in on_ray] == tasks() and sum(advanced) == 3
    assert all(len(o.result.fills) >= 4 for o in here)


def test_sweep_confirmations_on_ray_equal_the_pool(local_ray, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'ray.db'}"
    common = dict(grid=["fast_period=5,10,20", "slow_period=30,50"], top=3, database_url=url)
    pooled = run_sweep("sma", "MSFT", "2021-01-01", "2023-12-31", workers=2, **common)
    monkeypatch.setenv("NTRADER_RAY_ADDRESS", "auto")
    assert resolve_ray_address(None) == "auto"
    rayed = run_sweep("sma", "MSFT", "2021-01-01", "2023-12-31", **common)
    assert [r.confirmed for r in rayed.confirmed] == [r.confirmed for r in pooled.confirmed]
    assert len(rayed.confirmed) == 3


def test_bar_progress_sums_the_runs_bars_in_the_pool_in_process_and_on_ray(local_ray, monkeypatch):
    monkeypatch.setattr("ntrader.backtest.progress.REPORT_EVERY", 0.0)  # every bar (in this process)
    bars = generate_bars("AAPL", "2021-01-01", "2023-12-31")
    total = 3 * len(bars)
    plain = summary(run_tasks(bars, tasks(), workers=1))
    for options in ({"workers": 2}, {"workers": 1}, {"ray_address": "auto"}):
        heard: list[tuple[int, int]] = []
        runs: list[int] = []
        outputs = run_tasks(
            bars,
            tasks(),
            progress=runs.append,
            bar_progress=lambda d, t, seen=heard: seen.append((d, t)),
            **options,
        )
        assert summary(outputs) == plain, options  # counting bars changes no run
        assert heard[0] == (0, total) and heard[-1] == (total, total), options
        assert {t for _, t in heard} == {total}
        done = [d for d, _ in heard]
        assert done == sorted(done), options  # never goes back
        assert sum(runs) == 3
        if "ray_address" in options:  # Ray's tasks report when they finish: a run's bars at a time
            assert set(done) <= {0, len(bars), 2 * len(bars), total}, options
        elif options["workers"] == 1:  # from inside the engine, bar by bar
            assert done[:3] == [0, 0, 1] and len(set(done)) > total // 2, options
        # The pool's counts within runs: tests/cli/test_sweep_progress.py (longer runs than these).
