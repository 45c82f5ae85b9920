"""Many Nautilus runs on the same bars: in this process, a local process pool, or a Ray cluster.

Workers only run the engine and compute metrics; they return the results and the parent saves
them (no database connection ever crosses a process boundary). The bars travel once per worker:
the pool hands them to each process through its initializer, Ray puts them in the object store
once (`ray.put`) and every task reads the same object. Nautilus initialises its logger once per
process; the engine runs with logging bypassed, which is safe in every fresh worker.

The pool uses the "spawn" start method: a forked child would inherit the parent's Nautilus/pyo3
runtime state (threads, the Rust logger), which fork does not copy safely.

Progress: `progress(k)` hears that k more runs finished; `bar_progress(done, total)` hears the bars
the engines have processed, summed over every run (each run's engine reports its count about ten
times a second). Pool workers send their counts to the parent through a queue handed over with the
bars; the parent reads it while it waits for results. Ray tasks report only when they finish (their
bars count as done then).

Ray: `ray_address` "auto" joins a running cluster (`ray start --head` on this machine or
`RAY_ADDRESS`), "ray://host:10001" a remote one through Ray Client, "local" starts a private
local instance. When Ray is already initialised in this process (a notebook, a test) that
session is used as it is, and left running.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ntrader.backtest.engine import RunResult
from ntrader.backtest.request import BacktestRequest
from ntrader.errors import ConnectionFailure, InputError, NtraderError
from ntrader.metrics import Metrics

RAY_ADDRESS_ENV = "NTRADER_RAY_ADDRESS"

Progress = Callable[[int], None]
#: (bars done, bars total) over all the tasks' engine runs, called in this process.
BarProgress = Callable[[int, int], None]
#: What an engine reports: (phase, bars done, bars total), see `ntrader.backtest.progress`.
EngineReport = Callable[[str, int, int], None]


@dataclass(frozen=True)
class EngineTask:
    """One Nautilus run: a request (it pickles to any worker: the strategy travels as its
    reference, which the worker resolves itself) and the typed, complete parameters to run."""

    request: BacktestRequest
    params: dict[str, Any]
    risk_free_rate: float = 0.0


@dataclass
class EngineOutput:
    """What a worker sends back: the run and its metrics (nothing saved yet)."""

    task: EngineTask
    result: RunResult
    metrics: Metrics


def run_task(bars: pd.DataFrame, task: EngineTask, report: EngineReport | None = None) -> EngineOutput:
    """Run one task in this process (what every worker calls); `report` hears the engine's bars."""
    from ntrader.backtest.pipeline import measure, run_strategy

    # Writable arrays: Ray hands out the object store's read-only buffers (zero copy), and
    # Nautilus's tick builder needs writable ones.
    bars = bars.copy()
    result = run_strategy(bars, task.request, params=task.params, progress=report)
    metrics = measure(bars, task.request, result, risk_free_rate=task.risk_free_rate)
    return EngineOutput(task=task, result=result, metrics=metrics)


def default_workers() -> int:
    return os.cpu_count() or 1


def resolve_ray_address(ray_address: str | None) -> str | None:
    """`--ray` if given, else `NTRADER_RAY_ADDRESS`, else None (no Ray)."""
    address = ray_address if ray_address is not None else os.environ.get(RAY_ADDRESS_ENV)
    address = (address or "").strip()
    return address or None


def run_tasks(
    bars: Any,
    tasks: Sequence[EngineTask],
    *,
    workers: int | None = None,
    ray_address: str | None = None,
    progress: Progress | None = None,
    bar_progress: BarProgress | None = None,
) -> list[EngineOutput]:
    """Every task on the same bars (a frame; a portfolio: one frame per symbol), results in the
    order of `tasks`.

    Ray when `ray_address` (or `NTRADER_RAY_ADDRESS`) is set; else a process pool of `workers`
    processes (default: the number of cores); one worker or one task runs in this process.
    """
    if not tasks:
        return []
    from ntrader.backtest.portfolio_data import bar_count

    tally = _BarTally(len(tasks), bar_count(bars), progress, bar_progress)
    address = resolve_ray_address(ray_address)
    if address is not None:
        return _run_ray(bars, tasks, address, tally)
    count = default_workers() if workers is None else workers
    if count < 1:
        raise InputError(f"workers must be at least 1, got {count}")
    if count == 1 or len(tasks) == 1:
        outputs = []
        for k, task in enumerate(tasks):
            outputs.append(run_task(bars, task, tally.reporter(k)))
            tally.finished(k)
        return outputs
    return _run_pool(bars, tasks, min(count, len(tasks)), tally)


class _BarTally:
    """The runs' bar counts, each as its engine last reported it, summed for `bar_progress`."""

    def __init__(self, runs: int, bars: int, progress: Progress | None, bar_progress: BarProgress | None):
        self.done = [0] * runs
        self.total = [bars] * runs  # until a run's engine says how many it has
        self.progress = progress
        self.bar_progress = bar_progress
        if bar_progress is not None:
            bar_progress(0, sum(self.total))

    @property
    def wanted(self) -> bool:
        return self.bar_progress is not None

    def heard(self, k: int, done: int, total: int) -> None:
        if total:
            self.total[k] = total
        self.done[k] = max(self.done[k], min(done, self.total[k]))
        if self.bar_progress is not None:
            self.bar_progress(sum(self.done), sum(self.total))

    def reporter(self, k: int) -> EngineReport | None:
        if self.bar_progress is None:
            return None
        return lambda phase, done, total: self.heard(k, done, total) if phase == "engine" else None

    def finished(self, k: int) -> None:
        self.heard(k, self.total[k], 0)
        if self.progress is not None:
            self.progress(1)


# Process pool ------------------------------------------------------------------------------------

_worker_bars: pd.DataFrame | None = None
_worker_reports: Any = None  # the parent's queue of (task number, bars done, bars total), or None

#: How long the parent waits for a result before it reads the workers' bar counts again.
POLL_SECONDS = 0.1


def _init_worker(bars: pd.DataFrame, reports: Any = None) -> None:
    global _worker_bars, _worker_reports
    _worker_bars = bars
    _worker_reports = reports


def _pool_task(k: int, task: EngineTask) -> EngineOutput:
    assert _worker_bars is not None, "worker started without bars"
    reports = _worker_reports
    if reports is None:
        return run_task(_worker_bars, task)

    def report(phase: str, done: int, total: int) -> None:
        if phase == "engine":
            reports.put_nowait((k, done, total))

    return run_task(_worker_bars, task, report)


def _run_pool(
    bars: pd.DataFrame, tasks: Sequence[EngineTask], workers: int, tally: _BarTally
) -> list[EngineOutput]:
    context = multiprocessing.get_context("spawn")
    # A plain queue travels to the workers with the bars, when each process starts.
    reports = context.Queue() if tally.wanted else None
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(bars, reports)
    ) as pool:
        futures: dict[Future[EngineOutput], int] = {
            pool.submit(_pool_task, k, t): k for k, t in enumerate(tasks)
        }
        outputs: list[EngineOutput | None] = [None] * len(tasks)
        pending = set(futures)
        while pending:
            timeout = POLL_SECONDS if reports is not None else None
            done, pending = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
            _drain(reports, tally)
            for future in done:
                k = futures[future]
                outputs[k] = _unwrap(future)
                tally.finished(k)
    if reports is not None:
        reports.close()
    return [out for out in outputs if out is not None]


def _drain(reports: Any, tally: _BarTally) -> None:
    """Pass on every bar count the workers have sent so far."""
    if reports is None:
        return
    while True:
        try:
            k, done, total = reports.get_nowait()
        except queue.Empty:
            return
        tally.heard(k, done, total)


def _unwrap(future: Future[EngineOutput]) -> EngineOutput:
    try:
        return future.result()
    except NtraderError:
        raise
    except Exception as exc:  # a crashed worker (BrokenProcessPool) or an engine error
        raise NtraderError(f"a backtest worker failed: {type(exc).__name__}: {exc}") from exc


# Ray -------------------------------------------------------------------------------------------


def _run_ray(
    bars: pd.DataFrame, tasks: Sequence[EngineTask], address: str, tally: _BarTally
) -> list[EngineOutput]:
    if address == "local":
        # Ray would start workers of a `uv run` driver with `uv run` in the current directory,
        # which fails outside the project: a private local instance uses this interpreter.
        os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    try:
        import ray
    except ImportError:
        raise InputError(
            "Ray is not installed: install the extra (pip install 'ntrader[ray]') or drop --ray"
        ) from None
    if not ray.is_initialized():
        try:
            ray.init(
                address=None if address == "local" else address,
                include_dashboard=False,
                log_to_driver=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConnectionFailure(f"cannot connect to the Ray cluster at {address!r}: {exc}") from exc
    remote = ray.remote(num_cpus=1)(run_task)
    # Once into the object store; each task gets a reference, never its own copy of the bars.
    bars_ref = ray.put(bars)
    refs = [remote.remote(bars_ref, task) for task in tasks]
    # No queue back from Ray's workers: a run's bars count when it finishes.
    number = {ref: k for k, ref in enumerate(refs)}
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for ref in done:
            tally.finished(number[ref])
    try:
        return list(ray.get(refs))
    except ray.exceptions.RayTaskError as exc:
        raise NtraderError(f"a Ray backtest task failed: {exc}") from exc


__all__ = [
    "RAY_ADDRESS_ENV",
    "BarProgress",
    "EngineOutput",
    "EngineTask",
    "default_workers",
    "resolve_ray_address",
    "run_task",
    "run_tasks",
]
