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
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from ntrader.backtest.costs import DEFAULT_COMMISSION
from ntrader.backtest.engine import RunResult, make_equity, round_trips
from ntrader.backtest.fills import DEFAULT_LIQUIDITY, FILL_CLOSE
from ntrader.backtest.sweep import (
    expand_grid,
    load_request_bars,
    parse_constraint,
    parse_grid,
    parse_metric,
    rank_key,
    save_engine_run,
)
from ntrader.backtest.vector import (
    ENGINE_VERSION,
    SignalCache,
    VectorSettings,
    fills_of,
    has_vector,
    prepare_bars,
    screen,
    simulate,
)
from ntrader.config import get_settings
from ntrader.errors import InputError
from ntrader.metrics import Metrics, compute_metrics, max_drawdown, sharpe_ratio

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


def walk_forward(
    strategy: str,
    symbol: str,
    start: str | date | None = None,
    end: str | date | None = None,
    *,
    grid: Sequence[str] | Mapping[str, Any],
    constraints: Sequence[str] = (),
    train: int = 252,
    test: int = 63,
    metric: str = "sharpe",
    data_source: str = "mock",
    bar_size: str = "1-DAY",
    capital: float | None = None,
    params: Mapping[str, Any] | None = None,
    commission: str = DEFAULT_COMMISSION,
    fill_at: str = FILL_CLOSE,
    liquidity: str = DEFAULT_LIQUIDITY,
    save: bool = True,
    database_url: str | None = None,
    csv_file: str | Path | None = None,
    no_fetch: bool = False,
    progress: ProgressCallback | None = None,
) -> WalkForwardOutcome:
    """Rolling optimisation (`train` bars) and out-of-sample trading (`test` bars); saves one run."""
    metric = parse_metric(metric)
    if train < 2 or test < 1:
        raise InputError(f"--train must be >= 2 and --test >= 1 bars, got {train} and {test}")
    loaded = load_request_bars(
        strategy,
        symbol,
        start,
        end,
        data_source=data_source,
        bar_size=bar_size,
        capital=capital,
        params=params,
        commission=commission,
        fill_at=fill_at,
        database_url=database_url,
        csv_file=csv_file,
        no_fetch=no_fetch,
        liquidity=liquidity,
    )
    request = loaded.request
    spec = request.spec
    if not has_vector(spec.name):
        raise InputError(f"walk-forward needs a vector implementation; strategy {spec.name} has none")
    typed_grid = parse_grid(spec, grid)
    parsed = [parse_constraint(text, [p.name for p in spec.parameters]) for text in constraints]
    fixed = {k: v for k, v in request.params.items() if k not in typed_grid}
    combos = expand_grid(spec, typed_grid, parsed, fixed).combinations
    n = len(loaded.bars)
    if n < train + 1:
        raise InputError(f"walk-forward needs more than --train ({train}) bars; the period has {n}")
    starts = list(range(0, n - train, test))
    settings = VectorSettings.of(request.capital, request.commission, request.fill_at, request.liquidity)
    rfr = get_settings().risk_free_rate
    all_bars = prepare_bars(loaded.bars, request.bar_size)
    if progress is not None:
        progress("folds", 0, len(starts))

    equity = request.capital
    folds: list[Fold] = []
    curves: list[pd.Series] = []
    fills = []
    for number, first in enumerate(starts, start=1):
        train_bars = all_bars.slice(first, first + train)
        figures = screen(
            train_bars,
            spec.name,
            combos,
            capital=equity,
            commission=settings.commission,
            fill_at=settings.fill_at,
            liquidity=settings.liquidity,
            risk_free_rate=rfr,
        )
        key = rank_key(metric)
        best = min(range(len(combos)), key=lambda k: key({metric: figures[k].value(metric)}))
        chosen = combos[best]
        stop = min(first + train + test, n)
        window = all_bars.slice(first, stop)
        run = simulate(
            window,
            spec.name,
            chosen,
            settings,
            cache=SignalCache(window),
            trade_from=train,
            liquidate=True,
            capital=equity,
        )
        assert run.equity is not None
        curve = pd.Series(run.equity[train:], index=window.close_times[train:], name="equity")
        fold_fills = fills_of(window, run, settings)
        fills.extend(fold_fills)
        curves.append(curve)
        end_equity = run.cash_c / 100.0
        with_start = pd.concat([pd.Series([equity], index=[window.close_times[train - 1]]), curve])
        folds.append(
            Fold(
                number=number,
                train_start=loaded.bars.index[first],
                train_end=loaded.bars.index[first + train - 1],
                test_start=loaded.bars.index[first + train],
                test_end=loaded.bars.index[stop - 1],
                params={name: chosen[name] for name in typed_grid},
                in_sample=figures[best].value(metric),
                start_equity=equity,
                end_equity=end_equity,
                oos_return=end_equity / equity - 1.0,
                # The fold's first day from its starting equity, on the whole data's calendar.
                oos_sharpe=sharpe_ratio(curve, rfr, all_bars.periods_per_year, equity),
                oos_max_drawdown=max_drawdown(with_start).depth,
                trades=sum(1 for f in fold_fills if f.side == "BUY"),
                status="ruined" if run.ruined else "completed",
            )
        )
        equity = end_equity
        if progress is not None:
            progress("folds", 1, len(starts))

    stitched = pd.concat(curves)
    stitched.index.name = "timestamp"
    trades = round_trips(fills, last_price=float(loaded.bars["close"].iloc[-1]))
    closes = loaded.bars["close"].set_axis(request.bar_size.close_times(pd.DatetimeIndex(loaded.bars.index)))
    metrics = compute_metrics(
        stitched,
        trades,
        closes.loc[stitched.index],
        risk_free_rate=rfr,
        capital=request.capital,
        fills_at_open=request.fill_at != FILL_CLOSE,
    )
    run_id = None
    if save:
        instrument = make_equity(request.symbol)
        result = RunResult(
            instrument_id=str(instrument.id),
            bar_type=f"{instrument.id}-{request.bar_size.nautilus_spec}-EXTERNAL",
            capital=request.capital,
            fills=fills,
            trades=trades,
            equity=stitched,
            final_balance=equity,
            final_equity=float(stitched.iloc[-1]),
            bars=len(stitched),
            orders=len(fills),
            split_fills=0,
            engine_version=f"{ENGINE_VERSION} (walk-forward)",
        )
        oos_start = folds[0].test_start
        oos_loaded = type(loaded)(
            loaded.request,
            type(loaded.period)(oos_start.date(), loaded.period.end),
            loaded.bars,
            loaded.data_source,
        )
        run_id = save_engine_run(
            oos_loaded,
            {"walk_forward": f"train={train} test={test} metric={metric}", **fixed},
            result,
            metrics,
            extra_settings={
                "walk_forward": {
                    "train": train,
                    "test": test,
                    "metric": metric,
                    "grid": typed_grid,
                    "constraints": [c.text for c in parsed],
                    "folds": [f.to_json_dict() for f in folds],
                }
            },
            database_url=database_url,
        )
    return WalkForwardOutcome(
        run_id=run_id,
        strategy=spec.name,
        symbol=request.symbol,
        metric=metric,
        folds=folds,
        equity=stitched,
        trades=trades,
        metrics=metrics,
    )


__all__ = ["Fold", "WalkForwardOutcome", "walk_forward"]
