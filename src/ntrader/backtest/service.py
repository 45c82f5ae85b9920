"""The backtest service: load bars, run a strategy on them, compute metrics, save the run."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from ntrader.backtest.costs import DEFAULT_COMMISSION, CommissionModel, cost_breakdown, parse_commission
from ntrader.backtest.engine import RunResult, run_engine
from ntrader.backtest.fills import (
    DEFAULT_LIQUIDITY,
    FILL_CLOSE,
    describe_liquidity,
    parse_fill_at,
    parse_liquidity,
)
from ntrader.config import get_settings
from ntrader.data import BarSize, load_bars, parse_bar_size
from ntrader.data.period import parse_date, parse_period
from ntrader.data.store import resolve_period
from ntrader.db.runs import get_run, save_run
from ntrader.errors import InputError, NtraderError
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


@dataclass(frozen=True)
class CheckedRequest:
    """A backtest request whose every field was validated; nothing was loaded or written yet."""

    spec: StrategySpec
    symbol: str
    capital: float
    bar_size: BarSize
    params: dict[str, Any]
    commission: CommissionModel
    fill_at: str
    liquidity: str = DEFAULT_LIQUIDITY


@contextmanager
def _about(field: str) -> Iterator[None]:
    """Tag any ntrader error raised inside with the request field it concerns."""
    try:
        yield
    except NtraderError as exc:
        exc.field = exc.field or field
        raise


def check_request(
    strategy: str,
    symbol: str,
    start: str | date | None = None,
    end: str | date | None = None,
    *,
    bar_size: str = "1-DAY",
    capital: float | None = None,
    params: Mapping[str, Any] | None = None,
    commission: str = DEFAULT_COMMISSION,
    fill_at: str = FILL_CLOSE,
    liquidity: str = DEFAULT_LIQUIDITY,
) -> CheckedRequest:
    """Validate a request without touching data or the database (also used by config files)."""
    with _about("strategy"):
        spec = get_strategy(strategy)
    with _about("symbol"):
        symbol = symbol.strip().upper()
        if not symbol:
            raise InputError("symbol must not be empty")
    with _about("capital"):
        capital = get_settings().default_capital if capital is None else float(capital)
        if capital <= 0:
            raise InputError(f"capital must be greater than 0, got {capital:g}")
    with _about("commission"):
        commission_model = parse_commission(commission)
    with _about("fill_at"):
        fill_mode = parse_fill_at(fill_at)
    with _about("liquidity"):
        liquidity_mode = parse_liquidity(liquidity)
    with _about("bar_size"):
        size = parse_bar_size(bar_size)
    with _about("start"):
        start_date = parse_date(start, "start") if start is not None else None
    with _about("end"):
        end_date = parse_date(end, "end") if end is not None else None
    if start_date and end_date:
        with _about("start"):
            parse_period(start_date, end_date)
    with _about("params"):
        typed = resolve_params(spec, params)
        spec.build_config(typed)
    return CheckedRequest(spec, symbol, capital, size, typed, commission_model, fill_mode, liquidity_mode)


def run_settings(request: CheckedRequest, result: RunResult) -> dict[str, Any]:
    """The settings saved with every Nautilus run (backtest, sweep confirmation): how it filled
    and charged, and what happened to its orders (and why it halted, if it did)."""
    return {
        "bar_size": request.bar_size.name,
        "instrument_id": result.instrument_id,
        "fill_at": request.fill_at,
        "commission": request.commission.describe(),
        "costs": cost_breakdown(result.fills, request.commission),
        "liquidity": describe_liquidity(request.liquidity),
        **result.order_summary(),
    }


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
    commission: str = DEFAULT_COMMISSION,
    fill_at: str = FILL_CLOSE,
    liquidity: str = DEFAULT_LIQUIDITY,
    save: bool = True,
    verbose: bool = False,
    database_url: str | None = None,
    csv_file: str | Path | None = None,
    no_fetch: bool = False,
) -> BacktestOutcome:
    """Backtest `strategy` on `symbol` and (by default) save the run; the library's front door.

    Every argument is checked before anything runs or is written, so bad input leaves no trace.
    `commission`: ibkr-fixed (default), ibkr-tiered, none, per-share:X or bps:X (see `parse_commission`);
    `fill_at`: close (the signal bar's close, default) or next-open (see `ntrader.backtest.fills`);
    `liquidity`: bar-volume (default) or unlimited (see `ntrader.backtest.fills`).
    A run the engine stopped early is saved with status "halted" (its metrics cover the bars up to
    the stop); `BacktestOutcome.result.status` says which.
    `csv_file` runs on a CSV file's bars without importing them. Without dates, the csv source (and a
    file) use the whole range of bars available; mock uses the last year. The ibkr source uses the
    stored IB bars (without dates: their whole range, else the last year), fetching what is missing
    unless `no_fetch`.
    """
    settings = get_settings()
    request = check_request(
        strategy,
        symbol,
        start,
        end,
        bar_size=bar_size,
        capital=capital,
        params=params,
        commission=commission,
        fill_at=fill_at,
        liquidity=liquidity,
    )
    spec, symbol, capital, size, typed = (
        request.spec,
        request.symbol,
        request.capital,
        request.bar_size,
        request.params,
    )
    commission_model, fill_at = request.commission, request.fill_at
    data_source = "csv" if csv_file is not None else data_source
    period = resolve_period(
        symbol, start, end, data_source=data_source, bar_size=size, csv_file=csv_file, url=database_url
    )

    bars = load_bars(
        symbol,
        period,
        data_source=data_source,
        bar_size=size,
        csv_file=csv_file,
        database_url=database_url,
        no_fetch=no_fetch,
    )
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
        fee_model=None if commission_model.spec == "none" else commission_model.fee_model(),
        fill_at=fill_at,
        liquidity=request.liquidity,
    )
    metrics = compute_metrics(
        result.equity,
        result.trades,
        bars["close"].iloc[: len(result.equity)].set_axis(result.equity.index),
        risk_free_rate=settings.risk_free_rate,
        capital=result.capital,
        fills_at_open=request.fill_at != FILL_CLOSE,
    )
    settings_saved = run_settings(request, result)
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
            status=result.status,
            capital=capital,
            final_equity=result.final_equity,
            settings=settings_saved,
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
        settings=settings_saved,
    )


__all__ = [
    "BacktestOutcome",
    "CheckedRequest",
    "check_request",
    "get_run",
    "resolve_params",
    "run_backtest",
    "run_settings",
]
