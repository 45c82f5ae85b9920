"""Parameter sweeps: a grid screened with the vector engine, the best confirmed in Nautilus, all saved.

`run_sweep` loads the bars once, expands the grid (`--grid name=start:stop:step` or a comma list,
filtered by `--constraint` comparisons), screens every combination with `ntrader.backtest.vector`
(or, for strategies without a vector implementation, runs them all in Nautilus), ranks them by one
metric, reruns the top N in Nautilus in parallel (`ntrader.backtest.parallel`) and saves each of
those as a normal run plus one sweep record with the whole ranking.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from ntrader.backtest import pipeline
from ntrader.backtest.engine import DEFAULT_VENUE, RunResult

# Grid parsing lives in ntrader.backtest.grid; these names stay importable from here.
from ntrader.backtest.grid import (
    Constraint,
    Expansion,
    expand_grid,
    parse_constraint,
    parse_grid,
    parse_grid_values,
)
from ntrader.backtest.parallel import EngineOutput, EngineTask, resolve_ray_address, run_tasks
from ntrader.backtest.pipeline import PreparedBars, prepare, symbols_label
from ntrader.backtest.portfolio_data import bar_count, clock_frame
from ntrader.backtest.request import BacktestRequest, as_request
from ntrader.config import get_settings
from ntrader.db.sweeps import NewSweep, save_sweep
from ntrader.errors import InputError
from ntrader.metrics import Metrics

ENGINES = ("vector", "nautilus")
# What a sweep can rank by (the figures the vector screen computes for every combination).
SCREEN_METRICS = ("sharpe", "cagr", "calmar", "total_return")

# (phase, advance, total): phases "screen" and "confirm".
ProgressCallback = Callable[[str, int, int], None]


# Running a sweep -------------------------------------------------------------------------------------


@dataclass
class SweepRow:
    """One combination: its rank by the metric, the varying params, screened and confirmed figures."""

    rank: int
    params: dict[str, Any]
    screened: dict[str, Any]
    confirmed: dict[str, Any] | None = None
    run_id: int | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "params": self.params,
            "screened": self.screened,
            "confirmed": self.confirmed,
            "run_id": self.run_id,
        }


@dataclass
class SweepOutcome:
    sweep_id: int | None
    strategy: str
    symbol: str
    metric: str
    engine: str
    rows: list[SweepRow]
    expansion: Expansion
    grid: dict[str, list[Any]]
    bars: int
    notes: list[str] = field(default_factory=list)
    #: The overfitting gate (`ntrader.validation.sweep_verdict`), as stored with the sweep.
    validation: dict[str, Any] | None = None

    @property
    def confirmed(self) -> list[SweepRow]:
        return [row for row in self.rows if row.confirmed is not None]


def _screen_dict(figures: Any) -> dict[str, Any]:
    return {
        "sharpe": figures.sharpe,
        "cagr": figures.cagr,
        "calmar": figures.calmar,
        "total_return": figures.total_return,
        "max_drawdown": figures.max_drawdown,
        "final_equity": figures.final_equity,
    }


def _metrics_dict(metrics: Metrics, result: RunResult) -> dict[str, Any]:
    return {
        "sharpe": metrics.sharpe,
        "cagr": metrics.cagr,
        "calmar": metrics.calmar,
        "total_return": metrics.total_return,
        "max_drawdown": metrics.max_drawdown,
        "final_equity": result.final_equity,
        "trades": metrics.trade_count,
        # A confirmation the engine stopped early is flagged, never ranked as if it had completed.
        "status": result.status,
    }


def rank_key(metric: str) -> Callable[[dict[str, Any]], tuple[int, float]]:
    """Best first; an undefined figure (None, e.g. Sharpe without trades) ranks last."""

    def key(figures: dict[str, Any]) -> tuple[int, float]:
        value = figures.get(metric)
        return (1, 0.0) if value is None else (0, -float(value))

    return key


def parse_metric(metric: str) -> str:
    key = metric.strip().lower()
    if key not in SCREEN_METRICS:
        raise InputError(f"unknown metric {metric!r}; use one of {', '.join(SCREEN_METRICS)}")
    return key


@dataclass(frozen=True)
class SweepPlan:
    """What to sweep and how, apart from the request: the grid, its constraints (comparisons such
    as ``"fast_period < slow_period"`` or Python callables ``(params) -> bool``), the ranking
    metric, how many to confirm in Nautilus, the engine and where the Nautilus runs go."""

    grid: Sequence[str] | Mapping[str, Any]
    constraints: Sequence[str | Callable[[Mapping[str, Any]], bool]] = ()
    metric: str = "sharpe"
    top: int = 10
    confirm: bool = True
    engine: str = "vector"
    workers: int | None = None
    ray_address: str | None = None
    #: Count the trials of earlier sweeps of the same strategy, symbol, bars and period in the DSR.
    trials_from_history: bool = False

    def checked(self) -> SweepPlan:
        metric = parse_metric(self.metric)
        engine = self.engine.strip().lower()
        if engine not in ENGINES:
            raise InputError(f"unknown engine {self.engine!r}; use one of {', '.join(ENGINES)}")
        if self.top < 0:
            raise InputError(f"--top must be >= 0, got {self.top}")
        return replace(self, metric=metric, engine=engine)


def split_plan_options(
    options: dict[str, Any], plan_type: type = SweepPlan
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keyword options split into (`plan_type` fields, request fields): the keyword form of the API."""
    names = {f.name for f in fields(plan_type)}
    return {k: v for k, v in options.items() if k in names}, {
        k: v for k, v in options.items() if k not in names
    }


@dataclass(frozen=True)
class SweepGrid:
    """A plan's grid and constraints checked against the strategy, and the combinations to run."""

    grid: dict[str, list[Any]]
    #: Parsed comparisons (`Constraint`) and Python callables `(params) -> bool`.
    constraints: list[Any]
    fixed: dict[str, Any]
    expansion: Expansion

    @classmethod
    def of(cls, request: BacktestRequest, plan: SweepPlan) -> SweepGrid:
        spec = request.spec
        grid = parse_grid(spec, plan.grid)
        known = [p.name for p in spec.parameters]
        constraints = [c if callable(c) else parse_constraint(c, known) for c in plan.constraints]
        fixed = {k: v for k, v in request.params.items() if k not in grid}
        return cls(grid, constraints, fixed, expand_grid(spec, grid, constraints, fixed))

    @property
    def combinations(self) -> list[dict[str, Any]]:
        return self.expansion.combinations

    def constraint_texts(self) -> list[str]:
        return [getattr(c, "text", getattr(c, "__name__", repr(c))) for c in self.constraints]


def _reporter(progress: ProgressCallback | None, phase: str, total: int) -> Callable[[int], None] | None:
    if progress is None:
        return None
    progress(phase, 0, total)
    return lambda advance: progress(phase, advance, total)


def _tasks(request: BacktestRequest, combos: Sequence[dict[str, Any]]) -> list[EngineTask]:
    rfr = get_settings().risk_free_rate
    return [EngineTask(request, dict(params), rfr) for params in combos]


def _screen_vector(
    prepared: PreparedBars, combos: list[dict[str, Any]], progress: ProgressCallback | None
) -> tuple[list[dict[str, Any]], list[str], list[Any]]:
    """Every combination through the vector screen: ranking figures, notes for the reader, and
    each combination's daily returns (for the overfitting gate)."""
    # numba loads here, not whenever the CLI starts.
    from ntrader.backtest.vector import prepare_bars, screen

    request = prepared.request
    if isinstance(prepared.bars, dict):  # several symbols: basket mode on one account
        from ntrader.backtest.vector.basket_run import screen_request

        figures = screen_request(prepared.bars, request, combos, _reporter(progress, "screen", len(combos)))
    else:
        figures = screen(
            prepare_bars(prepared.bars, request.bar_size),
            request.strategy,
            combos,
            capital=request.capital,
            commission=request.commission,
            fill_at=request.fill_at,
            liquidity=request.liquidity,
            risk_free_rate=get_settings().risk_free_rate,
            progress=_reporter(progress, "screen", len(combos)),
            keep_daily=True,
        )
    notes = []
    split = sum(1 for f in figures if f.split_orders)
    if split:
        notes.append(
            f"{split} combination(s) place orders larger than a bar offers at one price: they fill in "
            f"two parts, the rest one tick worse (liquidity {request.liquidity}), as in Nautilus."
        )
    return [_screen_dict(f) for f in figures], notes, [f.daily_returns for f in figures]


def _run_nautilus(
    prepared: PreparedBars,
    combos: Sequence[dict[str, Any]],
    plan: SweepPlan,
    phase: str,
    progress: ProgressCallback | None,
) -> list[EngineOutput]:
    return run_tasks(
        prepared.bars,
        _tasks(prepared.request, combos),
        workers=plan.workers,
        ray_address=plan.ray_address,
        progress=_reporter(progress, phase, len(combos)),
        bar_progress=_bar_reporter(progress, f"{phase}-bars"),
    )


def _bar_reporter(progress: ProgressCallback | None, phase: str) -> Callable[[int, int], None] | None:
    """The runs' summed bar counts (done, total) as the (phase, advance, total) the display takes."""
    if progress is None:
        return None
    sent = 0

    def report(done: int, total: int) -> None:
        nonlocal sent
        progress(phase, done - sent, total)
        sent = done

    return report


def _verdict(
    prepared: PreparedBars,
    plan: SweepPlan,
    grid: SweepGrid,
    screened: list[dict[str, Any]],
    daily: Sequence[Any],
    best: int,
) -> dict[str, Any] | None:
    """The overfitting gate over every combination screened (see `ntrader.validation`)."""
    from ntrader.db.sweeps import trials_screened
    from ntrader.metrics import measure_annualization
    from ntrader.validation import SweepEvidence, sweep_verdict

    if not screened or any(d is None for d in daily):
        return None
    request, period = prepared.request, prepared.period
    trials = len(screened)
    earlier = 0
    if plan.trials_from_history:
        earlier = trials_screened(
            strategy=request.strategy,
            symbol=symbols_label(request.symbols),
            bar_type=request.bar_size.bar_type(
                symbol=request.symbol, venue=clock_frame(prepared.bars).attrs.get("venue", DEFAULT_VENUE)
            ),
            start=period.start_ts.to_pydatetime(),
            end=pd.Timestamp(period.end, tz="UTC").to_pydatetime(),
            url=request.database_url,
        )
    verdict = sweep_verdict(
        SweepEvidence(
            daily_returns=np.column_stack(list(daily)),
            sharpes=[s.get("sharpe") for s in screened],
            params=[{n: c[n] for n in grid.grid} for c in grid.combinations],
            grid=grid.grid,
            best=best,
            trials=trials + earlier,
            # The screen annualised the trials' Sharpe ratios with the bars' measured factor.
            periods_per_year=measure_annualization(
                request.bar_size.close_times(pd.DatetimeIndex(clock_frame(prepared.bars).index))
            ).factor,
        )
    )
    verdict["trials_this_sweep"] = trials
    verdict["trials_earlier_sweeps"] = earlier
    return verdict


def _daily_of(output: EngineOutput) -> Any:
    from ntrader.metrics import daily_returns

    return daily_returns(output.result.equity, output.result.capital).to_numpy()


def _save_sweep(
    prepared: PreparedBars,
    plan: SweepPlan,
    grid: SweepGrid,
    rows: list[SweepRow],
    notes: list[str],
    validation: dict[str, Any] | None = None,
) -> int:
    request, period = prepared.request, prepared.period
    run_ids = [row.run_id for row in rows if row.run_id is not None]
    return save_sweep(
        NewSweep(
            kind="sweep",
            strategy=request.strategy,
            symbol=symbols_label(request.symbols),
            bar_type=request.bar_size.bar_type(
                symbol=request.symbol, venue=clock_frame(prepared.bars).attrs.get("venue", DEFAULT_VENUE)
            ),
            data_source=request.data_source,
            start=period.start_ts.to_pydatetime(),
            end=pd.Timestamp(period.end, tz="UTC").to_pydatetime(),
            bars=bar_count(prepared.bars),
            capital=request.capital,
            engine=plan.engine,
            metric=plan.metric,
            grid=grid.grid,
            constraints=grid.constraint_texts(),
            settings={
                "bar_size": request.bar_size.name,
                "fill_at": request.fill_at,
                "liquidity": request.liquidity,
                "commission": request.commission.spec,
                "commission_description": request.commission.describe(),
                "fixed_params": grid.fixed,
                "top": plan.top,
                "confirm": plan.confirm,
                "combinations": len(grid.combinations),
                # Every sweep records how many trials it screened: the DSR of later sweeps on the
                # same bars can count them (`--trials-from-history`).
                "trials": len(grid.combinations),
                "validation": validation,
                "excluded_by_constraints": grid.expansion.excluded_by_constraints,
                "invalid": grid.expansion.invalid,
                "ray": resolve_ray_address(plan.ray_address) is not None,
                "notes": notes,
            },
            results=[row.to_json_dict() for row in rows],
            run_ids=run_ids,
        ),
        url=request.database_url,
    )


def run_sweep(
    request: BacktestRequest | str,
    *legacy: Any,
    plan: SweepPlan | None = None,
    save: bool = True,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> SweepOutcome:
    """Screen a grid, rank it by the plan's metric, confirm the `top` best in Nautilus, save it all.

    `request` is a `BacktestRequest` (its params fix the parameters the grid leaves out) and `plan`
    a `SweepPlan`; or the keyword form `run_sweep("sma", "AAPL", start, end, grid=[...],
    constraints=[...], metric=..., top=..., bar_size=..., ...)`. `engine`: "vector" (screen, then
    confirm the top in Nautilus) or "nautilus" (every combination in Nautilus: any strategy, also
    user files). `workers`/`ray_address`: see `ntrader.backtest.parallel.run_tasks`.
    """
    from ntrader.backtest.vector import has_vector

    plan_options, request_options = split_plan_options(options)
    plan = (plan if plan is not None else SweepPlan(**plan_options)).checked()
    req = as_request(request, legacy, request_options)
    if req.spec.is_portfolio and plan.engine == "vector":
        raise InputError(
            "the vector engine does not cover portfolio strategies yet; sweep them with --engine nautilus"
        )
    if plan.engine == "vector" and not has_vector(req.strategy):
        raise InputError(
            f"strategy {req.strategy} has no vector implementation; sweep it with --engine nautilus"
        )
    grid = SweepGrid.of(req, plan)
    prepared = prepare(req)
    combos = grid.combinations
    outputs: dict[int, EngineOutput] = {}
    notes: list[str] = []
    if plan.engine == "vector":
        screened, notes, daily = _screen_vector(prepared, combos, progress)
    else:
        outputs = dict(enumerate(_run_nautilus(prepared, combos, plan, "screen", progress)))
        screened = [_metrics_dict(o.metrics, o.result) for o in outputs.values()]
        daily = [_daily_of(o) for o in outputs.values()]
    order = sorted(range(len(combos)), key=lambda k: rank_key(plan.metric)(screened[k]))
    validation = _verdict(prepared, plan, grid, screened, daily, order[0]) if order else None
    rows = [
        SweepRow(rank=r + 1, params={n: combos[k][n] for n in grid.grid}, screened=screened[k])
        for r, k in enumerate(order)
    ]
    best = order[: min(plan.top, len(order))]
    if plan.engine == "vector" and plan.confirm and best:
        confirmed = _run_nautilus(prepared, [combos[k] for k in best], plan, "confirm", progress)
        outputs = dict(zip(best, confirmed, strict=True))
    for r, k in enumerate(best):
        output = outputs.get(k)
        if output is None:
            continue
        rows[r].confirmed = _metrics_dict(output.metrics, output.result)
        if save:
            rows[r].run_id = pipeline.save(
                prepared,
                output.result,
                output.metrics,
                params=combos[k],
                extra_settings={"sweep_rank": r + 1},
            )
    return SweepOutcome(
        sweep_id=_save_sweep(prepared, plan, grid, rows, notes, validation) if save else None,
        strategy=req.strategy,
        symbol=req.symbol,
        metric=plan.metric,
        engine=plan.engine,
        rows=rows,
        expansion=grid.expansion,
        grid=grid.grid,
        bars=bar_count(prepared.bars),
        notes=notes,
        validation=validation,
    )


__all__ = [
    "ENGINES",
    "SCREEN_METRICS",
    "Constraint",
    "Expansion",
    "SweepGrid",
    "SweepOutcome",
    "SweepPlan",
    "SweepRow",
    "expand_grid",
    "parse_constraint",
    "parse_grid",
    "parse_grid_values",
    "parse_metric",
    "rank_key",
    "run_sweep",
    "split_plan_options",
]
