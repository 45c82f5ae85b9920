"""The backtest service: one request through the pipeline (prepare, run, measure, save)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from ntrader.backtest import pipeline
from ntrader.backtest.engine import OwnedBars, RunResult
from ntrader.backtest.pipeline import measure, prepare, run_settings, run_strategy
from ntrader.backtest.request import BacktestRequest, about, as_request, resolve_params
from ntrader.data import Period
from ntrader.db.runs import get_run
from ntrader.metrics import Metrics

if TYPE_CHECKING:
    from ntrader.backtest.progress import Progress
    from ntrader.strategies import StrategySpec


@dataclass
class BacktestOutcome:
    """A finished run: its id in the database (None when not saved), the request, result, metrics."""

    run_id: int | None
    request: BacktestRequest
    period: Period
    result: RunResult
    metrics: Metrics
    settings: dict[str, Any]

    @property
    def spec(self) -> StrategySpec:
        return self.request.spec

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.request.params)

    @property
    def symbol(self) -> str:
        return self.request.symbol

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.request.symbols

    @property
    def data_source(self) -> str:
        return self.request.data_source

    def __repr__(self) -> str:
        saved = f"run #{self.run_id}" if self.run_id is not None else "not saved"
        return (
            f"BacktestOutcome({saved}, {self.request.strategy} on {','.join(self.request.symbols)} "
            f"{self.period.start} → {self.period.end}, status={self.result.status}, "
            f"trades={len(self.result.trades)}, return={self.result.total_return:+.2%})"
        )

    def _repr_html_(self) -> str:
        html = getattr(self.metrics, "_repr_html_", None)
        body = html() if callable(html) else f"<pre>{self.metrics!r}</pre>"
        return f"<p><b>{self!r}</b></p>{body}"


def _silent(phase: str, done: int, total: int) -> None:
    return None


def check_request(
    strategy: str,
    symbol: str,
    start: str | date | None = None,
    end: str | date | None = None,
    **options: Any,
) -> BacktestRequest:
    """Validate a request without touching data or the database (also used by config files)."""
    return BacktestRequest.build(strategy, symbol, start, end, **options)


def run_backtest(
    request: BacktestRequest | str,
    *legacy: Any,
    save: bool = True,
    verbose: bool = False,
    progress: Progress | None = None,
    **options: Any,
) -> BacktestOutcome:
    """Backtest a request and (by default) save the run; the library's front door.

    `request` is a `BacktestRequest`, or the keyword form `run_backtest("sma", "AAPL", start, end,
    bar_size=..., commission=..., ...)` (see `BacktestRequest.build`). Every field is checked
    before anything runs or is written. A run the engine stopped early is saved with status
    "halted": `outcome.result.status` says which. `progress(phase, done, total)` hears the phases
    (loading, engine, metrics, saving) and, in "engine", bars processed of the total.
    """
    req = as_request(request, legacy, options)
    report = progress or _silent
    report("loading", 0, 0)
    prepared = prepare(req)
    # The engine keeps the bars and frees all but their closes once Nautilus has run (a million
    # bars: 32 of their 48 MB); a portfolio's frames stay here.
    bars = prepared.bars if req.is_portfolio else OwnedBars(prepared.bars)
    prepared = replace(prepared, bars=None)
    result = run_strategy(bars, req, verbose=verbose, progress=progress)
    report("metrics", 0, 0)
    metrics = measure(bars, req, result)
    del bars  # (not saved with the run)
    if save:
        report("saving", 0, 0)
    run_id = pipeline.save(prepared, result, metrics) if save else None
    return BacktestOutcome(
        run_id=run_id,
        request=req,
        period=prepared.period,
        result=result,
        metrics=metrics,
        settings=run_settings(req, result),
    )


__all__ = [
    "BacktestOutcome",
    "BacktestRequest",
    "about",
    "check_request",
    "get_run",
    "resolve_params",
    "run_backtest",
    "run_settings",
]
