"""Basket mode in the vector engine: the symbols' arrays on one clock, one run, a screened grid.

What the portfolio engine's basket mode does (`ntrader.backtest.portfolio_engine`), reproduced
trade for trade by the compiled loop in `ntrader.backtest.vector.basket`: each symbol trades on
its own bars with its own signals; the account's cash is shared; entries are sized on the
account's equity (each symbol at its last known close) times `position_pct` × the symbol's
allocation weight (`ntrader.strategies.universe`: equal or inverse-vol).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ntrader.backtest.engine import make_equity
from ntrader.backtest.fills import FILL_NEXT_OPEN, LIQUIDITY_UNLIMITED, bar_lead_ns
from ntrader.backtest.result import (
    Fill,
    RunResult,
    count_split_orders,
    portfolio_curves,
    portfolio_round_trips,
)
from ntrader.backtest.vector.bars import RAW_PER_CENT, RAW_SCALE, VectorBars, prepare_bars
from ntrader.backtest.vector.basket import EVENT_BAR, EVENT_OPEN, _simulate_basket
from ntrader.backtest.vector.commission import CommissionTerms, commission_terms
from ntrader.backtest.vector.kernel import FILL_COLUMNS
from ntrader.backtest.vector.run import ENGINE_VERSION, FoldRules, VectorRun, VectorSettings
from ntrader.backtest.vector.screen import ScreenFigures, figures
from ntrader.backtest.vector.signals import VectorStrategy, signal_function
from ntrader.data.bars import BarSize
from ntrader.errors import InputError
from ntrader.metrics.returns import DAYS_PER_YEAR, measure_annualization
from ntrader.strategies.signals import SignalCache
from ntrader.strategies.universe import ALLOCATION_EQUAL, Universe

if TYPE_CHECKING:
    from ntrader.backtest.request import BacktestRequest

_WHOLE_PERIOD = FoldRules()


def _ns(index: pd.DatetimeIndex) -> np.ndarray:
    return index.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]").view("int64")


@dataclass(frozen=True)
class BasketBars:
    """Every symbol's `VectorBars`, their merged events in the engine's order, the union clock."""

    symbols: tuple[str, ...]
    bars: dict[str, VectorBars]
    bar_size: BarSize
    #: (symbol, bar index, kind, marks row, curve slot) per event, in processing order.
    events: tuple[np.ndarray, ...]
    #: The union of the bar close times (the account's clock) and the universe on it.
    times: pd.DatetimeIndex
    universe: Universe
    day_end: np.ndarray
    years: float
    periods_per_year: int

    @property
    def n(self) -> int:
        return sum(vb.n for vb in self.bars.values())

    def arrays(self, masks: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
        """The kernel's `bars` tuple with these entry/exit masks (one pair per symbol)."""
        columns = [vb.kernel_arrays()[:8] for vb in self.bars.values()]
        offsets = np.concatenate(([0], np.cumsum([vb.n for vb in self.bars.values()]))).astype(np.int64)
        joined = [np.concatenate([c[j] for c in columns]) for j in range(8)]
        entry = np.concatenate([m[0] for m in masks])
        exit_ = np.concatenate([m[1] for m in masks])
        return (offsets, *joined, entry, exit_)


def prepare_basket(
    frames: dict[str, pd.DataFrame],
    bar_size: BarSize,
    *,
    next_open: bool,
    allocation: str = ALLOCATION_EQUAL,
    weights: np.ndarray | None = None,
) -> BasketBars:
    """The arrays of a basket run; `frames` in the run's symbol order (the engine's order too).
    `weights`: the allocation per union close time and symbol, when a window takes the whole
    run's (walk-forward)."""
    if not frames:
        raise InputError("a basket needs at least one symbol")
    bars = {s: prepare_bars(f, bar_size, next_open=next_open) for s, f in frames.items()}
    symbols = tuple(bars)
    closes = {
        s: pd.Series(np.asarray(frames[s]["close"], dtype="float64"), index=vb.close_times)
        for s, vb in bars.items()
    }
    universe = Universe.build(closes, symbols, symbols, allocation)
    if weights is not None:
        universe = replace(universe, weights=np.ascontiguousarray(weights, dtype="float64"))
    union = universe.close_ns
    lead = bar_lead_ns(FILL_NEXT_OPEN if next_open else "close")
    parts = []
    for s, vb in enumerate(bars.values()):
        index = np.arange(vb.n, dtype=np.int64)
        close_ns = _ns(vb.close_times)
        row = np.searchsorted(union, close_ns, side="right") - 1
        slot = np.searchsorted(union, close_ns, side="left")
        parts.append((close_ns - lead, np.full(vb.n, s), index, np.full(vb.n, EVENT_BAR), row, slot))
        if next_open:
            open_ns = _ns(vb.open_times)
            row = np.searchsorted(union, open_ns, side="right") - 1
            slot = np.searchsorted(union, open_ns, side="right")
            parts.append((open_ns, np.full(vb.n, s), index, np.full(vb.n, EVENT_OPEN), row, slot))
    ts, sym, bar, kind, row, slot = (np.concatenate([p[j] for p in parts]) for j in range(6))
    # The engine's stable sort by ts_init over data added symbol by symbol, bars before ticks.
    order = np.lexsort((bar, kind, sym, ts))
    events = tuple(np.ascontiguousarray(a[order]).astype(np.int64) for a in (sym, bar, kind, row, slot))
    times = pd.DatetimeIndex(universe.closes.index)
    days = times.normalize().to_numpy(dtype="datetime64[ns]").view("int64")
    day_end = np.flatnonzero(np.append(days[1:] != days[:-1], True)).astype(np.int64)
    years = (times[-1] - times[0]).total_seconds() / 86_400.0 / DAYS_PER_YEAR
    return BasketBars(
        symbols=symbols,
        bars=bars,
        bar_size=bar_size,
        events=events,
        times=times,
        universe=universe,
        day_end=day_end,
        years=years,
        periods_per_year=measure_annualization(times).factor,
    )


@dataclass
class BasketRun:
    """One combination on a basket: the account's equity per union time, the fills when asked."""

    run: VectorRun
    curve: np.ndarray
    fill_symbols: np.ndarray | None = None


def _masks(basket: BasketBars, strategy: VectorStrategy, params: dict[str, Any], caches: list[SignalCache]):  # type: ignore[no-untyped-def]
    signal = signal_function(strategy)
    out = []
    for vb, cache in zip(basket.bars.values(), caches, strict=True):
        entry_idx, exit_idx = signal(cache, params)
        entry = np.zeros(vb.n, dtype=np.bool_)
        exit_ = np.zeros(vb.n, dtype=np.bool_)
        entry[entry_idx] = True
        exit_[exit_idx] = True
        out.append((entry, exit_))
    return out


def run_basket_once(
    basket: BasketBars,
    masks: Sequence[tuple[np.ndarray, np.ndarray]],
    params: dict[str, Any],
    settings: VectorSettings,
    terms: CommissionTerms,
    *,
    detail: bool,
    rules: FoldRules = _WHOLE_PERIOD,
) -> BasketRun:
    """One pass of the compiled basket loop with these per-symbol entry/exit masks; `rules`: a
    walk-forward window's (`trade_from` counts the union close times, each symbol is liquidated
    at its own last close)."""
    capital_c = round((settings.capital if rules.capital is None else rules.capital) * 100)
    entries = int(sum(int(m[0].sum()) for m in masks))
    fills = np.zeros((4 * (entries + 1) if detail else 0, FILL_COLUMNS), dtype=np.int64)
    fill_sym = np.zeros(fills.shape[0], dtype=np.int64)
    curve = np.zeros(len(basket.times))
    pos = np.zeros(len(basket.symbols), dtype=np.int64)
    tables = (basket.universe.marks_table, basket.universe.weights)
    flags = (
        settings.fill_at == FILL_NEXT_OPEN,
        settings.liquidity == LIQUIDITY_UNLIMITED,
        rules.liquidate,
        rules.trade_from,
    )
    n_fills, cash, split, skipped = _simulate_basket(
        basket.events,
        basket.arrays(masks),
        tables,
        flags,
        capital_c,
        float(params.get("position_pct", 0.95)),
        terms.kernel,
        (fills, fill_sym, curve, pos),
    )
    last = np.array([vb.close_c[-1] for vb in basket.bars.values()], dtype=np.int64)
    peak = np.maximum.accumulate(curve)
    run = VectorRun(
        params=params,
        final_equity=(cash + int(pos @ last)) / 100.0,
        daily_equity=curve[basket.day_end],
        max_drawdown=float(min(0.0, np.min(curve / peak - 1.0))) if len(curve) else 0.0,
        ruined=bool((curve <= 0).any()),
        split_orders=int(split),
        skipped_at_end=int(skipped),
        fills=fills[:n_fills] if detail else None,
        equity=curve,
        cash_c=int(cash),
        position=int(np.abs(pos).sum()),
    )
    return BasketRun(run=run, curve=curve, fill_symbols=fill_sym[:n_fills] if detail else None)


def basket_fills(basket: BasketBars, result: BasketRun) -> list[Fill]:
    """The fills as the portfolio engine reports them (each naming its symbol)."""
    assert result.run.fills is not None and result.fill_symbols is not None
    out = []
    for (i, side, qty, price_c, fee_c, at_open), s in zip(
        result.run.fills.tolist(), result.fill_symbols.tolist(), strict=True
    ):
        symbol = basket.symbols[s]
        vb = basket.bars[symbol]
        stamp = vb.open_times[i] if at_open else vb.close_times[i]
        out.append(
            Fill(
                timestamp=pd.Timestamp(stamp).as_unit("ns"),
                side="BUY" if side > 0 else "SELL",
                quantity=(float(qty) * RAW_SCALE) / RAW_SCALE,
                price=(float(price_c) * RAW_PER_CENT) / RAW_SCALE,
                commission=(float(fee_c) * RAW_PER_CENT) / RAW_SCALE,
                symbol=symbol,
            )
        )
    return out


def run_basket(
    frames: dict[str, pd.DataFrame],
    strategy: VectorStrategy,
    params: dict[str, Any],
    settings: VectorSettings,
    *,
    bar_size: BarSize,
    allocation: str = ALLOCATION_EQUAL,
) -> RunResult:
    """One combination in full, as the portfolio engine's `RunResult` (fills, trades, curves)."""
    basket = prepare_basket(
        frames, bar_size, next_open=settings.fill_at == FILL_NEXT_OPEN, allocation=allocation
    )
    masks = _masks(basket, strategy, params, [SignalCache(vb) for vb in basket.bars.values()])
    result = run_basket_once(
        basket, masks, params, settings, commission_terms(settings.commission), detail=True
    )
    fills = basket_fills(basket, result)
    plain = {s: vb.frame for s, vb in basket.bars.items()}
    equity, closes, positions = portfolio_curves(
        plain, bar_size, fills, settings.capital, fills_at_open=settings.fill_at == FILL_NEXT_OPEN
    )
    last_closes = {s: float(vb.frame["close"].iloc[-1]) for s, vb in basket.bars.items()}
    ids = [str(make_equity(s).id) for s in basket.symbols]
    next_open = settings.fill_at == FILL_NEXT_OPEN
    return RunResult(
        instrument_id=",".join(ids),
        bar_type=bar_size.bar_type(make_equity(basket.symbols[0]).id),
        capital=settings.capital,
        fills=fills,
        trades=portfolio_round_trips(fills, last_closes),
        equity=equity,
        final_balance=(float(result.run.cash_c) * RAW_PER_CENT) / RAW_SCALE,
        final_equity=float(equity.iloc[-1]),
        bars=basket.n,
        orders=len(fills) - result.run.split_orders,
        split_fills=count_split_orders(fills),
        engine_version=ENGINE_VERSION,
        unfilled_at_end=result.run.skipped_at_end if next_open else 0,
        skipped_on_last_bar=0 if next_open else result.run.skipped_at_end,
        symbols=basket.symbols,
        closes=closes,
        positions=positions,
    )


def screen_basket(
    basket: BasketBars,
    strategy: VectorStrategy,
    combinations: Sequence[dict[str, Any]],
    settings: VectorSettings,
    *,
    risk_free_rate: float = 0.0,
    progress: Callable[[int], None] | None = None,
    keep_daily: bool = False,
) -> list[ScreenFigures]:
    """Ranking figures of every combination on one basket (indicators shared per symbol);
    `keep_daily`: also each combination's daily returns, as `screen` keeps them."""
    terms = commission_terms(settings.commission)
    caches = [SignalCache(vb) for vb in basket.bars.values()]
    out = []
    for params in combinations:
        masks = _masks(basket, strategy, params, caches)
        result = run_basket_once(basket, masks, params, settings, terms, detail=False)
        figure = figures(
            result.run,
            settings.capital,
            basket.years,
            risk_free_rate=risk_free_rate,
            periods_per_year=basket.periods_per_year,
        )
        if result.run.ruined:
            figure = replace(figure, ruined=True)
        if keep_daily:
            days = np.concatenate(([settings.capital], result.run.daily_equity))
            figure = replace(figure, daily_returns=days[1:] / days[:-1] - 1.0)
        out.append(figure)
        if progress is not None:
            progress(1)
    return out


def screen_request(
    frames: dict[str, pd.DataFrame],
    request: BacktestRequest,
    combos: Sequence[dict[str, Any]],
    progress: Callable[[int], None] | None = None,
) -> list[ScreenFigures]:
    """A sweep's screen of a basket request: its settings, allocation and risk-free rate, with each
    combination's daily returns (the overfitting gate)."""
    from ntrader.config import get_settings

    settings = VectorSettings.of(request.capital, request.commission, request.fill_at, request.liquidity)
    basket = prepare_basket(
        frames, request.bar_size, next_open=settings.fill_at == FILL_NEXT_OPEN, allocation=request.allocation
    )
    rate = get_settings().risk_free_rate
    return screen_basket(
        basket, request.strategy, combos, settings, risk_free_rate=rate, progress=progress, keep_daily=True
    )
