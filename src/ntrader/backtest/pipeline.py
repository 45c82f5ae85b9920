"""The one pipeline every backtest goes through: prepare the bars, run, measure, save.

`prepare(request)` resolves the period, fetches missing IBKR bars when the source is `ibkr` and
fetching is allowed, and loads the bars. `run_strategy` runs the request's strategy on them in
Nautilus; `measure` computes the metrics; `save` is the single save path for runs, sweep
confirmations and walk-forward. Reports never come through here: reads never fetch or write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ntrader.backtest.adjusting import adjusted
from ntrader.backtest.costs import cost_breakdown
from ntrader.backtest.coverage import Coverage, coverage_of
from ntrader.backtest.engine import DEFAULT_VENUE, RunResult, run_engine
from ntrader.backtest.fills import FILL_NEXT_OPEN, describe_liquidity
from ntrader.backtest.request import BacktestRequest
from ntrader.config import get_settings
from ntrader.data import Period, load_bars
from ntrader.data.bars import BarSize
from ntrader.data.store import resolve_period
from ntrader.db.runs import NewRun, save_run
from ntrader.metrics import Metrics, compute_metrics

#: A portfolio run's bars: one frame per symbol, in the request's order, each its own (see
#: `ntrader.backtest.portfolio_engine` for the alignment rule).
SymbolBars = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class PreparedBars:
    """A request with its resolved period and loaded bars (a bar frame, open-time stamped; a
    portfolio request: one frame per symbol)."""

    request: BacktestRequest
    period: Period
    bars: Any  # pd.DataFrame, or SymbolBars for a portfolio request
    coverage: Coverage | None = None  # the requested period and the gaps, when the bars fall short

    @property
    def data_source(self) -> str:
        return self.request.data_source


def prepare(request: BacktestRequest) -> PreparedBars:
    """Resolve the period, fetch what IB has not sent yet (source ibkr, unless `no_fetch`), load.

    The period of the result is the bars' real range within the one asked for; known gaps are
    listed in `coverage`. A fetch that fails (unknown contract, no permissions) raises IB's reason.
    A portfolio request loads every symbol (`prepare_portfolio`).
    """
    if request.is_portfolio:
        from ntrader.backtest.portfolio_data import prepare_portfolio

        return prepare_portfolio(request)
    period = resolve_period(
        request.symbol,
        request.start,
        request.end,
        data_source=request.data_source,
        bar_size=request.bar_size,
        csv_file=request.csv_file,
        url=request.database_url,
    )
    if request.data_source == "ibkr" and not request.no_fetch:
        # Asks IB only for windows it has not answered before; none at all when all are stored.
        from ntrader.errors import NtraderError
        from ntrader.ibkr.fetch import fetch_missing_bars

        fetched = fetch_missing_bars(request.symbol, period, request.bar_size, request.database_url)
        if fetched.error:
            raise NtraderError(
                f"{request.symbol}: fetching {request.bar_size.name} bars from IB failed: {fetched.error}"
            )
    bars = load_bars(
        request.symbol,
        period,
        data_source=request.data_source,
        bar_size=request.bar_size,
        csv_file=request.csv_file,
        database_url=request.database_url,
    )
    if request.data_source == "ibkr":
        # The venue follows the instrument IB resolved (SPY is SPY.ARCA, not the default NASDAQ).
        from ntrader.ibkr.catalog import venue_of

        venue = venue_of(request.symbol)
        if venue:
            bars.attrs["venue"] = venue
    bars = adjusted(bars, request)  # --adjust: stored splits and dividends
    coverage = coverage_of(period, bars, request.data_source, request.bar_size.name)
    return PreparedBars(request, coverage.actual, bars, coverage)


def run_strategy(
    bars: Any,
    request: BacktestRequest,
    *,
    params: Mapping[str, Any] | None = None,
    verbose: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> RunResult:
    """The request's strategy (with `params`, default: the request's) on `bars` in Nautilus;
    `progress(phase, bars_done, bars_total)` hears how far the engine is. A portfolio request's
    `bars` are one frame per symbol (`ntrader.backtest.portfolio_engine`)."""
    spec = request.spec
    typed = dict(request.params if params is None else params)
    commission = request.commission
    if request.is_portfolio:
        from ntrader.backtest.portfolio_data import run_portfolio_strategy

        return run_portfolio_strategy(bars, request, typed, verbose=verbose, progress=progress)
    return run_engine(
        bars,
        symbol=request.symbol,
        bar_size=request.bar_size,
        strategy_class=spec.strategy_class,
        config_factory=lambda instrument_id, bar_type: spec.build_config(
            typed, instrument_id=instrument_id, bar_type=bar_type
        ),
        capital=request.capital,
        verbose=verbose,
        fee_model=None if commission.spec == "none" else commission.fee_model(),
        fill_at=request.fill_at,
        liquidity=request.liquidity,
        progress=progress,
        venue=bars.attrs.get("venue", DEFAULT_VENUE),
        dividends=bars.attrs.get("dividends"),  # --adjust raw: credited as cash
    )


def measure(
    bars: Any, request: BacktestRequest, result: RunResult, *, risk_free_rate: float | None = None
) -> Metrics:
    """The run's metrics from its equity curve, trades and the closes it was marked at.

    A portfolio run's figures are the account's; its portfolio figures (`ntrader.metrics.portfolio`)
    go to `result.extra["portfolio"]`, saved as `metrics["portfolio"]`.
    """
    rate = get_settings().risk_free_rate if risk_free_rate is None else risk_free_rate
    if request.is_portfolio:
        from ntrader.backtest.portfolio_data import measure_portfolio

        return measure_portfolio(request, result, risk_free_rate=rate)
    # The equity curve is stamped at bar close times: a halted run's is a prefix, a walk-forward's
    # covers its test windows only.
    if result.curve_closes is not None:
        closes = result.curve_closes
    elif _stamped_at_closes(result.equity.index, pd.DatetimeIndex(bars.index), request.bar_size):
        # A whole run: the closes share the curve's index (a million bars: 8 MB not held twice).
        closes = pd.Series(bars["close"].to_numpy(), index=result.equity.index, name="close", copy=False)
    else:
        closes = bars["close"].set_axis(request.bar_size.close_times(pd.DatetimeIndex(bars.index)))
        closes = closes.loc[result.equity.index]
    return compute_metrics(
        result.equity,
        result.trades,
        closes,
        risk_free_rate=rate,
        capital=result.capital,
        fills_at_open=request.fill_at == FILL_NEXT_OPEN,
    )


def _stamped_at_closes(
    curve: pd.Index, bar_times: pd.DatetimeIndex, bar_size: BarSize, step: int = 65_536
) -> bool:
    """Whether `curve` is exactly the bars' close times, compared `step` stamps at a time (never
    a second whole index in memory)."""
    if len(curve) != len(bar_times):
        return False
    return all(
        bar_size.close_times(bar_times[i : i + step]).equals(curve[i : i + step])
        for i in range(0, len(curve), step)
    )


def run_settings(request: BacktestRequest, result: RunResult) -> dict[str, Any]:
    """The settings saved with every run: how it filled and charged, what happened to its
    orders, why it halted if it did, and its cost breakdown (a portfolio run: also its symbols,
    their bar ranges, the allocation and the alignment rule)."""
    portfolio: dict[str, Any] = {}
    if request.is_portfolio:
        from ntrader.backtest.portfolio_data import portfolio_settings

        portfolio = portfolio_settings(request, result)
    return {
        "bar_size": request.bar_size.name,
        "instrument_id": result.instrument_id,
        "fill_at": request.fill_at,
        "adjust": request.adjust,
        **({"dividends": result.extra["dividends"]} if "dividends" in result.extra else {}),
        "commission": request.commission.describe(),
        "liquidity": describe_liquidity(request.liquidity),
        **result.order_summary(),
        "costs": cost_breakdown(result.fills, request.commission),
        **portfolio,
    }


def save(
    prepared: PreparedBars,
    result: RunResult,
    metrics: Metrics,
    *,
    params: Mapping[str, Any] | None = None,
    extra_settings: Mapping[str, Any] | None = None,
) -> int:
    """Store a run with its trades and equity (the one save path); returns its id.

    `params` default to the request's; `extra_settings` are added to the standard settings
    (a sweep rank, walk-forward folds).
    """
    request, period = prepared.request, prepared.period
    run = NewRun(
        strategy=request.strategy,
        params=dict(request.params if params is None else params),
        symbol=symbols_label(request.symbols),
        symbols=request.symbols,
        bar_type=result.bar_type,
        data_source=request.data_source,
        start=period.start_ts.to_pydatetime(),
        end=pd.Timestamp(period.end, tz="UTC").to_pydatetime(),
        bars=result.bars,
        status=result.status,
        capital=result.capital,
        final_equity=result.final_equity,
        settings={
            **run_settings(request, result),
            **(prepared.coverage.settings() if prepared.coverage is not None else {}),
            **(extra_settings or {}),
        },
        metrics={**metrics.to_json_dict(), **_portfolio_block(result)},
        engine_version=result.engine_version,
        trades=result.trades,
        equity=result.equity,
    )
    return save_run(run, url=request.database_url)


def symbols_label(symbols: tuple[str, ...], width: int = 32) -> str:
    """What a run's `symbol` column holds: the symbol, or the symbols joined by "," when they fit
    in `width` characters, else as many as fit and "+N" for the rest ("AAPL,MSFT,+3")."""
    joined = ",".join(symbols)
    if len(joined) <= width:
        return joined
    for keep in range(len(symbols) - 1, 0, -1):
        label = ",".join(symbols[:keep]) + f",+{len(symbols) - keep}"
        if len(label) <= width:
            return label
    return symbols[0][: width - 4] + f"+{len(symbols) - 1}"


def _portfolio_block(result: RunResult) -> dict[str, Any]:
    block = result.extra.get("portfolio")
    return {"portfolio": block} if block is not None else {}


__all__ = [
    "PreparedBars",
    "SymbolBars",
    "measure",
    "prepare",
    "run_settings",
    "run_strategy",
    "save",
    "symbols_label",
]
