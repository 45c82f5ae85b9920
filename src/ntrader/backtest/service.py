"""The backtest service: load bars, run a strategy on them, compute metrics, save the run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from ntrader.backtest.engine import RunResult, run_engine
from ntrader.config import get_settings
from ntrader.data import load_bars, parse_bar_size, parse_period
from ntrader.db.runs import get_run, save_run
from ntrader.errors import InputError
from ntrader.metrics import Metrics, compute_metrics
from ntrader.strategies.registry import StrategySpec, coerce_params, coerce_value, get_strategy


@dataclass
class BacktestOutcome:
    """A finished run: its id in the database (None when not saved), the result and metrics."""

    run_id: int | None
    spec: StrategySpec
    params: dict[str, Any]
    symbol: str
    data_source: str
    period: Any
    result: RunResult
    metrics: Metrics
    settings: dict[str, Any]


def resolve_params(spec: StrategySpec, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Typed parameters (strings from the CLI are parsed) merged over the strategy's defaults."""
    raw = dict(params or {})
    strings = {k: v for k, v in raw.items() if isinstance(v, str)}
    typed = coerce_params(spec, strings)
    by_name = {p.name: p for p in spec.parameters}
    for key, value in raw.items():
        if key in typed:
            continue
        if key not in by_name:
            coerce_params(spec, {key: ""})  # raises the unknown-parameter error
        typed[key] = coerce_value(key, value, by_name[key].type)
    return {**spec.defaults(), **typed}


def run_backtest(
    strategy: str,
    symbol: str,
    start: str | date | None = None,
    end: str | date | None = None,
    *,
    data_source: str = "mock",
    bar_size: str = "1-DAY",
    capital: float | None = None,
    params: Mapping[str, Any] | None = None,
    save: bool = True,
    verbose: bool = False,
    database_url: str | None = None,
) -> BacktestOutcome:
    """Backtest `strategy` on `symbol` and (by default) save the run; the library's front door.

    Every argument is checked before anything runs or is written, so bad input leaves no trace.
    """
    settings = get_settings()
    spec = get_strategy(strategy)
    symbol = symbol.strip().upper()
    if not symbol:
        raise InputError("symbol must not be empty")
    capital = settings.default_capital if capital is None else float(capital)
    if capital <= 0:
        raise InputError(f"capital must be greater than 0, got {capital:g}")
    period = parse_period(start, end)
    size = parse_bar_size(bar_size)
    typed = resolve_params(spec, params)
    spec.build_config(typed)  # validate before loading any data

    bars = load_bars(symbol, period, data_source=data_source, bar_size=size)
    result = run_engine(
        bars,
        symbol=symbol,
        bar_size=size,
        strategy_class=spec.strategy_class,
        config_factory=lambda instrument_id, bar_type: spec.build_config(
            typed, instrument_id=instrument_id, bar_type=bar_type
        ),
        capital=capital,
        verbose=verbose,
    )
    metrics = compute_metrics(
        result.equity,
        result.trades,
        bars["close"].set_axis(result.equity.index),
        risk_free_rate=settings.risk_free_rate,
    )
    run_settings = {
        "bar_size": size.name,
        "instrument_id": result.instrument_id,
        "fill_at": "close",
        "commission": "none",
        "orders": result.orders,
        "split_fills": result.split_fills,
        "final_balance": result.final_balance,
    }
    run_id = None
    if save:
        run_id = save_run(
            strategy=spec.name,
            params=typed,
            symbol=symbol,
            bar_type=result.bar_type,
            data_source=data_source.lower(),
            start=period.start_ts.to_pydatetime(),
            end=pd.Timestamp(period.end, tz="UTC").to_pydatetime(),
            bars=result.bars,
            capital=capital,
            final_equity=result.final_equity,
            settings=run_settings,
            metrics=metrics.to_json_dict(),
            engine_version=result.engine_version,
            trades=result.trades,
            equity=result.equity,
            url=database_url,
        )
    return BacktestOutcome(
        run_id=run_id,
        spec=spec,
        params=typed,
        symbol=symbol,
        data_source=data_source.lower(),
        period=period,
        result=result,
        metrics=metrics,
        settings=run_settings,
    )


__all__ = ["BacktestOutcome", "get_run", "resolve_params", "run_backtest"]
