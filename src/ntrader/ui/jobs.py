"""Background backtests for the UI: one worker thread, stages reported as they happen, stop on shutdown.

A job runs the library's pipeline (`prepare` → `run_strategy` → `measure` → `save`, the steps of
`ntrader.backtest.service.run_backtest`), so what the browser launches is what the CLI runs. The stop
flag is checked before saving: a job stopped by the server's shutdown is never saved half-done (the
save itself is one transaction).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from ntrader.backtest.request import BacktestRequest
from ntrader.errors import NtraderError

STAGES = ("queued", "loading bars", "running", "measuring", "saving", "done")


class JobStopped(Exception):
    """The server is stopping: the job ends before anything is saved."""


@dataclass
class Job:
    """One backtest launched from the browser; `state()` is what the progress stream sends."""

    id: int
    label: str
    stage: str = "queued"
    status: str = "queued"  # queued | running | done | failed | stopped
    run_id: int | None = None
    #: "run" (a backtest: `run_id` is the saved run) or "sweep" (`sweep_id`).
    kind: str = "run"
    sweep_id: int | None = None
    #: Sweeps report combinations done per phase: (done, total) of the current phase.
    count: tuple[int, int] | None = None
    #: A fetch's closing line (bars stored, gaps), like the CLI's.
    message: str | None = None
    error: str | None = None
    created: float = field(default_factory=time.monotonic)
    finished: float | None = None
    events: int = 0

    @property
    def result_url(self) -> str | None:
        if self.kind == "fetch":
            return "/data" if self.status == "done" else None
        if self.kind == "sweep":
            return f"/sweeps/{self.sweep_id}" if self.sweep_id is not None else None
        return f"/runs/{self.run_id}" if self.run_id is not None else None

    def state(self) -> dict[str, Any]:
        end = self.finished if self.finished is not None else time.monotonic()
        return {
            "id": self.id,
            "label": self.label,
            "stage": self.stage,
            "step": STAGES.index(self.stage) if self.stage in STAGES else 0,
            "steps": len(STAGES) - 1,
            "status": self.status,
            "run_id": self.run_id,
            "sweep_id": self.sweep_id,
            "kind": self.kind,
            "count": list(self.count) if self.count else None,
            "url": self.result_url,
            "message": self.message,
            "error": self.error,
            "elapsed": round(end - self.created, 2),
        }


def run_request(request: BacktestRequest, stage: Callable[[str], None]) -> int:
    """The pipeline of `run_backtest`, reporting each stage; returns the saved run's id."""
    from ntrader.backtest import pipeline
    from ntrader.backtest.engine import OwnedBars

    stage("loading bars")
    prepared = pipeline.prepare(request)
    # As run_backtest: the engine keeps a single symbol's bars and frees what it no longer needs.
    bars = prepared.bars if request.is_portfolio else OwnedBars(prepared.bars)
    prepared = replace(prepared, bars=None)
    stage("running")
    result = pipeline.run_strategy(bars, request)
    stage("measuring")
    metrics = pipeline.measure(bars, request, result)
    del bars
    stage("saving")
    return int(pipeline.save(prepared, result, metrics))


class JobManager:
    """Queues backtests on one worker thread (Nautilus engines run one at a time in a process)."""

    def __init__(self, runner: Callable[[BacktestRequest, Callable[[str], None]], int] = run_request):
        self._runner = runner
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ntrader-ui-job")
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def submit(self, request: BacktestRequest) -> Job:
        if self._stopping.is_set():
            raise NtraderError("the server is stopping; no new jobs")
        label = f"{request.strategy} on {request.symbol}"
        with self._lock:
            job = Job(next(self._ids), label)
            self._jobs[job.id] = job
        self._pool.submit(self._work, job, request)
        return job

    def submit_sweep(self, request: BacktestRequest, plan: Any) -> Job:
        """A sweep (`ntrader.backtest.sweep.run_sweep`): screened, confirmed and saved by the library.

        The stop flag is checked at each combination's progress report, all of which come before
        the sweep saves its confirmed runs and itself: a stopped sweep saves nothing.
        """
        if self._stopping.is_set():
            raise NtraderError("the server is stopping; no new jobs")
        with self._lock:
            job = Job(next(self._ids), f"sweep of {request.strategy} on {request.symbol}", kind="sweep")
            self._jobs[job.id] = job
        self._pool.submit(self._work_sweep, job, request, plan)
        return job

    def _work_sweep(self, job: Job, request: BacktestRequest, plan: Any) -> None:
        from ntrader.backtest.sweep import run_sweep

        done: dict[str, int] = {}

        def progress(phase: str, advance: int, total: int) -> None:
            done[phase] = done.get(phase, 0) + advance
            self._stage(job, "running")
            job.count = (done[phase], total)
            job.label = f"sweep of {request.strategy} on {request.symbol}: {phase}"

        def work(stage: Callable[[str], None]) -> None:
            stage("loading bars")
            job.sweep_id = run_sweep(request, plan=plan, progress=progress).sweep_id

        self._work(job, request, work)

    def submit_fetch(self, symbol: str, start: Any, end: Any, bar_size: Any, database_url: str | None) -> Job:
        """An IBKR fetch (`ntrader.ibkr.fetch.fetch_bars`, gaps reported, not raised), windows as progress.

        A stop ends it at the next window; windows already stored stay (each is complete on its own).
        """
        if self._stopping.is_set():
            raise NtraderError("the server is stopping; no new jobs")
        with self._lock:
            job = Job(next(self._ids), f"fetch {symbol} from IBKR", kind="fetch")
            self._jobs[job.id] = job

        def progress(event: Any) -> None:
            self._stage(job, "running")
            job.count = (int(event.windows_done), int(event.windows_total or 1))
            note = f" · {event.note}" if event.note else ""
            job.label = f"fetch {symbol}: {event.bars:,} bars · {event.pacing_waits} pacing waits{note}"

        def work(stage: Callable[[str], None]) -> None:
            from ntrader.ibkr.fetch import fetch_bars

            stage("loading bars")
            report = fetch_bars(
                symbol,
                start,
                end,
                bar_size=bar_size,
                allow_gaps=True,
                database_url=database_url,
                progress=progress,
            )
            bars = sum(int(getattr(r, "bars_stored", 0) or 0) for r in report.results)
            gaps = len(report.gaps)
            job.message = f"{symbol}: {bars:,} new bars stored" + (
                f", {gaps} gap(s) left" if gaps else ", no gaps"
            )

        self._pool.submit(self._work, job, None, work)
        return job

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: -j.id)

    def _stage(self, job: Job, name: str) -> None:
        if self._stopping.is_set():
            raise JobStopped
        job.stage = name
        job.events += 1

    def _work(
        self,
        job: Job,
        request: BacktestRequest | None,
        runner: Callable[[Callable[[str], None]], int | None] | None = None,
    ) -> None:
        if self._stopping.is_set():
            self._finish(job, "stopped", "the server stopped before the job started")
            return
        job.status = "running"
        try:
            stage: Callable[[str], None] = lambda name: self._stage(job, name)  # noqa: E731
            if runner is not None:
                job.run_id = runner(stage)
            else:
                assert request is not None
                job.run_id = self._runner(request, stage)
        except JobStopped:
            self._finish(job, "stopped", "the server stopped; the run was not saved")
        except NtraderError as exc:
            self._finish(job, "failed", str(exc))  # the CLI's one line, never a traceback
        except Exception as exc:  # an engine bug: still one line for the browser
            self._finish(job, "failed", f"unexpected error: {type(exc).__name__}: {exc}")
        else:
            job.stage = "done"
            self._finish(job, "done", None)

    def _finish(self, job: Job, status: str, error: str | None) -> None:
        job.status, job.error, job.finished = status, error, time.monotonic()
        job.events += 1

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking jobs, let the running one end at its next stage (unsaved), drop the queue."""
        self._stopping.set()
        self._pool.shutdown(wait=wait, cancel_futures=False)
