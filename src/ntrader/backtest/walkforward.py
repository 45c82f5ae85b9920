"""Walk-forward analysis: optimise on a rolling in-sample window, trade the next out-of-sample window.

Fold k trains on bars [k·test, k·test + train) — every grid combination screened with the vector
engine, the best by the metric chosen — and then trades that combination on the following `test`
bars. Rules that make the stitched out-of-sample curve honest:

- The training bars warm the indicators up for the test window (an SMA(200) can trade from the
  first test bar), but no order is placed before the test window starts.
- Each test window starts flat with the equity the previous one ended with, and a position still
  open on its last bar is sold at that bar's close (commission charged), so folds never overlap.
- The last fold may be shorter than `test` when the bars run out.

The stitched out-of-sample equity and trades are saved as one run (`report` shows it like any run);
its settings list every fold's window, chosen parameters, in-sample figure and out-of-sample metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from ntrader.backtest import pipeline
from ntrader.backtest.engine import Fill, RunResult, make_equity, round_trips
from ntrader.backtest.pipeline import PreparedBars, prepare, symbols_label
from ntrader.backtest.portfolio_data import clock_frame
from ntrader.backtest.request import BacktestRequest, as_request
from ntrader.backtest.sweep import SweepGrid, SweepPlan, parse_metric, rank_key, split_plan_options
from ntrader.backtest.vector import (
    ENGINE_VERSION,
    SignalCache,
    VectorBars,
    VectorSettings,
    fills_of,
    has_vector,
    prepare_bars,
    screen,
    simulate,
)
from ntrader.config import get_settings
from ntrader.data import Period
from ntrader.errors import InputError
from ntrader.metrics import Metrics, max_drawdown, sharpe_ratio

ProgressCallback = Callable[[str, int, int], None]


@dataclass
class Fold:
    """One fold: its windows (bar open times), the chosen parameters and what they did."""

    number: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    params: dict[str, Any]
    in_sample: float | None
    start_equity: float
    end_equity: float
    oos_return: float
    oos_sharpe: float | None
    oos_max_drawdown: float
    trades: int
    #: Folds run in the vector engine, whose orders never overdraw (see `ntrader.backtest.vector`);
    #: a fold that ends ruined (equity at or below zero) says so.
    status: str = "completed"
    #: The chosen combination's in-sample Sharpe, and the std of every combination's (the
    #: efficiency and the stitched DSR use them).
    in_sample_sharpe: float | None = None
    trials_sharpe_std: float | None = None

    def to_json_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("train_start", "train_end", "test_start", "test_end"):
            out[key] = out[key].isoformat()
        return out


@dataclass
class WalkForwardOutcome:
    run_id: int | None
    strategy: str
    symbol: str
    metric: str
    folds: list[Fold]
    equity: pd.Series
    trades: pd.DataFrame
    metrics: Metrics
    #: Walk-forward efficiency (per fold and overall) and the stitched out-of-sample DSR.
    validation: dict[str, Any] | None = None


@dataclass(frozen=True)
class WalkForwardPlan:
    """The grid and constraints to optimise over, the window lengths in bars, the metric."""

    grid: Sequence[str] | Mapping[str, Any]
    constraints: Sequence[str | Callable[[Mapping[str, Any]], bool]] = ()
    train: int = 252
    test: int = 63
    metric: str = "sharpe"

    def checked(self) -> WalkForwardPlan:
        if self.train < 2 or self.test < 1:
            raise InputError(f"--train must be >= 2 and --test >= 1 bars, got {self.train} and {self.test}")
        return replace(self, metric=parse_metric(self.metric))

    def as_sweep(self) -> SweepPlan:
        return SweepPlan(grid=self.grid, constraints=self.constraints, metric=self.metric)


@dataclass
class _Folds:
    """The folds so far: their records, out-of-sample curves and fills, and the running equity."""

    equity: float
    folds: list[Fold] = field(default_factory=list)
    curves: list[pd.Series] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)


def _run_fold(
    prepared: PreparedBars,
    grid: SweepGrid,
    plan: WalkForwardPlan,
    all_bars: VectorBars,
    first: int,
    state: _Folds,
) -> None:
    """Fold starting at bar `first`: choose on the training window, trade the test window."""
    request, combos = prepared.request, grid.combinations
    settings = VectorSettings.of(state.equity, request.commission, request.fill_at, request.liquidity)
    rfr = get_settings().risk_free_rate
    figures = screen(
        all_bars.slice(first, first + plan.train),
        request.strategy,
        combos,
        capital=state.equity,
        commission=settings.commission,
        fill_at=settings.fill_at,
        liquidity=settings.liquidity,
        risk_free_rate=rfr,
    )
    key = rank_key(plan.metric)
    best = min(range(len(combos)), key=lambda k: key({plan.metric: figures[k].value(plan.metric)}))
    chosen = combos[best]
    stop = min(first + plan.train + plan.test, all_bars.n)
    window = all_bars.slice(first, stop)
    run = simulate(
        window,
        request.strategy,
        chosen,
        settings,
        cache=SignalCache(window),
        trade_from=plan.train,
        liquidate=True,
    )
    assert run.equity is not None
    curve = pd.Series(run.equity[plan.train :], index=window.close_times[plan.train :], name="equity")
    fold_fills = fills_of(window, run, settings)
    end_equity = run.cash_c / 100.0
    with_start = pd.concat([pd.Series([state.equity], index=[window.close_times[plan.train - 1]]), curve])
    index = prepared.bars.index
    state.folds.append(
        Fold(
            number=len(state.folds) + 1,
            train_start=index[first],
            train_end=index[first + plan.train - 1],
            test_start=index[first + plan.train],
            test_end=index[stop - 1],
            params={name: chosen[name] for name in grid.grid},
            in_sample=figures[best].value(plan.metric),
            start_equity=state.equity,
            end_equity=end_equity,
            oos_return=end_equity / state.equity - 1.0,
            # The fold's first day from its starting equity, on the whole data's calendar.
            oos_sharpe=sharpe_ratio(curve, rfr, all_bars.periods_per_year, state.equity),
            oos_max_drawdown=max_drawdown(with_start).depth,
            trades=sum(1 for f in fold_fills if f.side == "BUY"),
            status="ruined" if run.ruined else "completed",
            in_sample_sharpe=figures[best].sharpe,
            trials_sharpe_std=_std([f.sharpe for f in figures]),
        )
    )
    state.curves.append(curve)
    state.fills.extend(fold_fills)
    state.equity = end_equity


def walk_forward(
    request: BacktestRequest | str,
    *legacy: Any,
    plan: WalkForwardPlan | None = None,
    save: bool = True,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> WalkForwardOutcome:
    """Rolling optimisation (`train` bars) and out-of-sample trading (`test` bars); saves one run.

    `request` is a `BacktestRequest` and `plan` a `WalkForwardPlan`; or the keyword form
    `walk_forward("sma", "AAPL", start, end, grid=[...], train=252, test=63, metric=..., ...)`.
    """
    plan_options, request_options = split_plan_options(options, WalkForwardPlan)
    plan = (plan if plan is not None else WalkForwardPlan(**plan_options)).checked()
    req = as_request(request, legacy, request_options)
    if req.spec.is_portfolio:
        raise InputError(
            "walk-forward runs on the vector engine, which does not cover portfolio strategies yet; "
            "sweep them with --engine nautilus"
        )
    if not has_vector(req.strategy):
        raise InputError(f"walk-forward needs a vector implementation; strategy {req.strategy} has none")
    from ntrader.backtest.walkforward_basket import basket_of, run_basket_fold, stitched_basket

    grid = SweepGrid.of(req, plan.as_sweep())
    prepared = prepare(req)
    basket = isinstance(prepared.bars, dict)
    # Several symbols: windows count the account's clock (the union of the bar times).
    n = len(clock_frame(prepared.bars))
    if n < plan.train + 1:
        raise InputError(f"walk-forward needs more than --train ({plan.train}) bars; the period has {n}")
    starts = list(range(0, n - plan.train, plan.test))
    all_bars: Any = (
        basket_of(prepared.bars, req.bar_size, req.fill_at, req.allocation)
        if basket
        else prepare_bars(prepared.bars, req.bar_size)
    )
    if progress is not None:
        progress("folds", 0, len(starts))
    state = _Folds(equity=req.capital)
    for first in starts:
        (run_basket_fold if basket else _run_fold)(prepared, grid, plan, all_bars, first, state)
        if progress is not None:
            progress("folds", 1, len(starts))
    stitched = pd.concat(state.curves)
    stitched.index.name = "timestamp"
    result = (stitched_basket if basket else _stitched_result)(prepared, state, stitched)
    metrics = pipeline.measure(prepared.bars, req, result)
    validation = _validation(state, result, len(grid.combinations))
    run_id = None
    if save:
        oos_period = Period(state.folds[0].test_start.date(), prepared.period.end)
        oos = PreparedBars(req, oos_period, prepared.bars)
        run_id = pipeline.save(
            oos,
            result,
            metrics,
            params={"walk_forward": f"train={plan.train} test={plan.test} metric={plan.metric}"} | grid.fixed,
            extra_settings={
                "walk_forward": {
                    "train": plan.train,
                    "test": plan.test,
                    "metric": plan.metric,
                    "grid": grid.grid,
                    "constraints": grid.constraint_texts(),
                    "folds": [f.to_json_dict() for f in state.folds],
                    "validation": validation,
                }
            },
        )
    return WalkForwardOutcome(
        run_id=run_id,
        strategy=req.strategy,
        symbol=symbols_label(req.symbols),
        metric=plan.metric,
        folds=state.folds,
        equity=stitched,
        trades=result.trades,
        metrics=metrics,
        validation=validation,
    )


def _std(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(pd.Series(defined).std()) if len(defined) >= 2 else None


def _validation(state: _Folds, result: RunResult, trials: int) -> dict[str, Any]:
    """Efficiency: each fold's OOS Sharpe over its IS Sharpe; DSR of the stitched OOS daily returns
    against the best of `trials` (each fold chose among that many; the trials' Sharpe std is the
    folds' mean): conservative, as the OOS returns were not themselves selected."""
    from ntrader.metrics import daily_returns
    from ntrader.validation import deflated_sharpe_ratio, walk_forward_efficiency

    efficiency = walk_forward_efficiency(
        [f.in_sample_sharpe for f in state.folds], [f.oos_sharpe for f in state.folds]
    )
    stds = [f.trials_sharpe_std for f in state.folds if f.trials_sharpe_std is not None]
    daily = daily_returns(result.equity, result.capital).to_numpy()
    std = sum(stds) / len(stds) if stds else 0.0
    deflated = deflated_sharpe_ratio(daily, [], trials=trials, sharpe_std=std)
    return {
        "efficiency": efficiency.to_json_dict(),
        "stitched_dsr": None if deflated is None else deflated.dsr,
        "dsr": None if deflated is None else deflated.to_json_dict(),
    }


def _stitched_result(prepared: PreparedBars, state: _Folds, stitched: pd.Series) -> RunResult:
    """The out-of-sample folds as one run (each fold ends flat, so balance = last equity)."""
    request = prepared.request
    instrument = make_equity(request.symbol)
    return RunResult(
        instrument_id=str(instrument.id),
        bar_type=request.bar_size.bar_type(instrument.id),
        capital=request.capital,
        fills=state.fills,
        trades=round_trips(state.fills, last_price=float(prepared.bars["close"].iloc[-1])),
        equity=stitched,
        final_balance=state.equity,
        final_equity=float(stitched.iloc[-1]),
        bars=len(stitched),
        orders=len(state.fills),
        split_fills=0,
        engine_version=f"{ENGINE_VERSION} (walk-forward)",
    )


__all__ = ["Fold", "WalkForwardOutcome", "WalkForwardPlan", "walk_forward"]
