"""A portfolio request through the pipeline: every symbol's bars, the run, its figures.

Bars come from the request's source for each symbol: mock; a CSV directory (`--csv DIR` holding
`SYMBOL.csv` for each symbol, read without importing); stored CSV imports or IBKR bars (IBKR fetches
the ranges it has not answered before, symbol by symbol). Without both dates the period is the union
of the symbols' ranges. Each symbol keeps its own bars (the alignment rule is in
`ntrader.backtest.portfolio_engine`); a symbol with no bars at all in the period is an error naming
it, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ntrader.backtest.coverage import coverage_of
from ntrader.backtest.fills import FILL_NEXT_OPEN
from ntrader.backtest.request import BacktestRequest
from ntrader.backtest.result import RunResult
from ntrader.data import Period, load_bars, parse_period
from ntrader.data.store import resolve_period
from ntrader.errors import InputError, NotFoundError, NtraderError
from ntrader.metrics import Metrics, compute_metrics
from ntrader.strategies.universe import ALIGNMENT_RULE

if TYPE_CHECKING:
    from ntrader.backtest.pipeline import PreparedBars


def clock_frame(bars: Any) -> pd.DataFrame:
    """A single-symbol frame as it is; a portfolio's bars as one frame on the union of their times
    (no columns) carrying the account's venue: what sweeps read a run's clock and venue from."""
    if not isinstance(bars, dict):
        return bars
    from ntrader.backtest.portfolio_engine import portfolio_venue

    union = pd.DatetimeIndex(sorted(set().union(*(frame.index for frame in bars.values()))))
    frame = pd.DataFrame(index=union)
    frame.attrs["venue"] = portfolio_venue(bars)
    return frame


def bar_count(bars: Any) -> int:
    """Bars the engine replays: a frame's rows, or every symbol's."""
    return sum(len(f) for f in bars.values()) if isinstance(bars, dict) else len(bars)


def csv_for(directory: Path, symbol: str) -> Path:
    """`DIR/SYMBOL.csv` (any case of the name); an InputError when the directory has none."""
    wanted = f"{symbol}.csv".lower()
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name.lower() == wanted:
            return path
    raise InputError(
        f"{directory} holds no {symbol}.csv (a portfolio's --csv is a directory of SYMBOL.csv files)"
    )


def _csv_files(request: BacktestRequest) -> dict[str, Path | None]:
    if request.csv_file is None:
        return dict.fromkeys(request.symbols)
    if not request.csv_file.is_dir():
        if len(request.symbols) > 1:
            raise InputError(
                f"--csv {request.csv_file}: several symbols read a directory holding SYMBOL.csv for each"
            )
        return {request.symbol: request.csv_file}
    return {s: csv_for(request.csv_file, s) for s in request.symbols}


def _period(request: BacktestRequest, files: dict[str, Path | None]) -> Period:
    """The dates given, else the union of the symbols' ranges."""
    periods = []
    for symbol in request.symbols:
        try:
            periods.append(
                resolve_period(
                    symbol,
                    request.start,
                    request.end,
                    data_source=request.data_source,
                    bar_size=request.bar_size,
                    csv_file=files[symbol],
                    url=request.database_url,
                )
            )
        except NtraderError as exc:
            raise type(exc)(f"{symbol}: {exc}") from exc
    if len(periods) == 1:
        return periods[0]
    return parse_period(min(p.start for p in periods), max(p.end for p in periods))


def load_symbol_bars(
    request: BacktestRequest, period: Period, symbols: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    """Each symbol's bars in `period` from the request's source (IBKR: missing ranges fetched first)."""
    files = _csv_files(request) if request.csv_file is not None else dict.fromkeys(symbols)
    out: dict[str, pd.DataFrame] = {}
    for symbol in symbols:
        if request.data_source == "ibkr" and not request.no_fetch:
            from ntrader.ibkr.fetch import fetch_missing_bars

            fetched = fetch_missing_bars(symbol, period, request.bar_size, request.database_url)
            if fetched.error:
                raise NtraderError(
                    f"{symbol}: fetching {request.bar_size.name} bars from IB failed: {fetched.error}"
                )
        try:
            bars = load_bars(
                symbol,
                period,
                data_source=request.data_source,
                bar_size=request.bar_size,
                csv_file=files.get(symbol),
                database_url=request.database_url,
            )
        except NotFoundError as exc:
            raise NotFoundError(f"{symbol}: {exc}") from exc
        bars = _adjusted(bars, request, symbol)
        if request.data_source == "ibkr":
            from ntrader.ibkr.catalog import venue_of

            venue = venue_of(symbol)
            if venue:
                bars.attrs["venue"] = venue
        out[symbol] = bars
    return out


def _adjusted(bars: pd.DataFrame, request: BacktestRequest, symbol: str) -> pd.DataFrame:
    """`--adjust` per symbol, as a single-symbol run applies it (stored splits and dividends)."""
    from dataclasses import replace

    from ntrader.backtest.adjusting import adjusted

    csv_file = request.csv_file
    if csv_file is not None and csv_file.is_dir():
        csv_file = csv_for(csv_file, symbol)  # the symbol's own file (its event columns, if any)
    out = adjusted(bars, replace(request, symbol=symbol, symbols=(symbol,), csv_file=csv_file))
    dividends = out.attrs.get("dividends")
    if dividends is not None and len(dividends):
        raise InputError(
            f"--adjust raw: {symbol} pays dividends in the period, and a portfolio run does not credit "
            "them as cash yet; use --adjust splits or total-return"
        )
    return out


def prepare_portfolio(request: BacktestRequest) -> PreparedBars:
    from ntrader.backtest.pipeline import PreparedBars

    files = _csv_files(request)
    period = _period(request, files)
    bars = load_symbol_bars(request, period, request.symbols)
    union = pd.DatetimeIndex(sorted(set().union(*(frame.index for frame in bars.values()))))
    coverage = coverage_of(period, pd.DataFrame(index=union), request.data_source, request.bar_size.name)
    return PreparedBars(request, coverage.actual, bars, coverage)


def run_portfolio_strategy(
    bars: dict[str, pd.DataFrame],
    request: BacktestRequest,
    params: dict[str, Any],
    *,
    verbose: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> RunResult:
    from ntrader.backtest.portfolio_engine import PortfolioSetup, run_portfolio

    spec = request.spec
    commission = request.commission

    def config(instrument_id: Any, bar_type: Any, slot: int) -> Any:
        if spec.is_portfolio:
            return spec.build_config(params)
        # One instance per symbol: Nautilus needs each strategy's id to differ.
        return spec.build_config(
            params, instrument_id=instrument_id, bar_type=bar_type, order_id_tag=f"{slot:03d}"
        )

    setup = PortfolioSetup(
        symbols=request.symbols,
        bar_size=request.bar_size,
        strategy_class=spec.strategy_class,
        config_factory=config,
        capital=request.capital,
        allocation=request.allocation,
        fee_model=None if commission.spec == "none" else commission.fee_model(),
        fill_at=request.fill_at,
        liquidity=request.liquidity,
        progress=progress,
    )
    return run_portfolio(bars, setup, verbose=verbose)


def measure_portfolio(request: BacktestRequest, result: RunResult, *, risk_free_rate: float) -> Metrics:
    """The account's metrics, and the portfolio figures in `result.extra["portfolio"]`."""
    assert result.positions is not None and result.closes is not None
    held = (result.positions != 0).any(axis=1)
    metrics = compute_metrics(
        result.equity,
        result.trades,
        None,
        risk_free_rate=risk_free_rate,
        capital=result.capital,
        positions=held,
        fills_at_open=request.fill_at == FILL_NEXT_OPEN,
    )
    from ntrader.metrics.portfolio import EQUAL_WEIGHT_BASIS, portfolio_metrics

    result.extra["portfolio"] = portfolio_metrics(
        trades=result.trades,
        equity=result.equity,
        closes=result.closes,
        positions=result.positions,
        capital=result.capital,
        periods_per_year=float(metrics.conventions.annualization_factor),
        benchmark=benchmark_closes(request, result),
    )
    # The account's buy & hold is the symbols' equal-weight buy & hold (no single close to hold).
    equal = result.extra["portfolio"]["benchmark"]["equal_weight"]["total_return"]
    basis = replace(metrics.conventions, buy_and_hold_basis=EQUAL_WEIGHT_BASIS)
    return replace(metrics, buy_and_hold_return=equal, conventions=basis)


def benchmark_closes(request: BacktestRequest, result: RunResult) -> pd.Series | None:
    """`--benchmark SYMBOL`'s closes over the run's period, from the run's source (None without one)."""
    if request.benchmark is None:
        return None
    index = pd.DatetimeIndex(result.equity.index)
    period = parse_period(index[0].date(), index[-1].date())
    plain = BacktestRequest(
        strategy=request.strategy,
        symbol=request.benchmark,
        data_source=request.data_source,
        bar_size=request.bar_size,
        csv_file=request.csv_file if request.csv_file is not None and request.csv_file.is_dir() else None,
        no_fetch=request.no_fetch,
        database_url=request.database_url,
    )
    frame = load_symbol_bars(plain, period, (request.benchmark,))[request.benchmark]
    closes = frame["close"].set_axis(request.bar_size.close_times(pd.DatetimeIndex(frame.index)))
    return closes.rename(request.benchmark)


def portfolio_settings(request: BacktestRequest, result: RunResult) -> dict[str, Any]:
    """What a portfolio run's settings add: its symbols, their bar ranges, allocation and the rule."""
    assert result.closes is not None
    ranges = {}
    for symbol in result.closes.columns:
        known = result.closes[symbol].dropna()
        ranges[symbol] = [known.index[0].isoformat(), known.index[-1].isoformat()] if len(known) else None
    out: dict[str, Any] = {
        "symbols": list(request.symbols),
        "symbol_ranges": ranges,
        "alignment": ALIGNMENT_RULE,
        "mode": "portfolio strategy" if request.spec.is_portfolio else "basket",
    }
    if not request.spec.is_portfolio:
        out["allocation"] = request.allocation
    if request.benchmark:
        out["benchmark"] = request.benchmark
    return {"portfolio": out}


__all__ = [
    "ALIGNMENT_RULE",
    "bar_count",
    "benchmark_closes",
    "clock_frame",
    "csv_for",
    "load_symbol_bars",
    "measure_portfolio",
    "portfolio_settings",
    "prepare_portfolio",
    "run_portfolio_strategy",
]
