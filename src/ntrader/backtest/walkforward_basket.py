"""Walk-forward of a basket (several symbols, one account) on the vector engine's basket loop.

The rules of `ntrader.backtest.walkforward`, on the account's clock: windows count the union of
the symbols' bar close times; a symbol without a bar in a window sits it out (its allocation is
not handed to the others: the weights per time are the whole run's, `ntrader.strategies.universe`);
each test window starts flat with the equity the previous one ended with and sells every symbol
still held at that symbol's last close in the window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ntrader.backtest.engine import make_equity
from ntrader.backtest.fills import FILL_NEXT_OPEN
from ntrader.backtest.portfolio_data import clock_frame
from ntrader.backtest.result import RunResult, portfolio_curves, portfolio_round_trips
from ntrader.backtest.sweep import SweepGrid, rank_key
from ntrader.backtest.vector import ENGINE_VERSION, FoldRules, VectorSettings
from ntrader.backtest.vector.basket_run import (
    BasketBars,
    _masks,
    basket_fills,
    prepare_basket,
    run_basket_once,
    screen_basket,
)
from ntrader.backtest.vector.commission import commission_terms
from ntrader.config import get_settings
from ntrader.data.bars import BarSize
from ntrader.metrics import max_drawdown, sharpe_ratio
from ntrader.strategies.signals import SignalCache

if TYPE_CHECKING:
    from ntrader.backtest.pipeline import PreparedBars
    from ntrader.backtest.walkforward import WalkForwardPlan, _Folds


def basket_of(
    frames: dict[str, pd.DataFrame], bar_size: BarSize, fill_at: str, allocation: str
) -> BasketBars:
    """The whole period's basket: its clock and allocation weights, which every window takes."""
    return prepare_basket(frames, bar_size, next_open=fill_at == FILL_NEXT_OPEN, allocation=allocation)


def _window(whole: BasketBars, start: int, stop: int) -> BasketBars:
    """The basket on union close times [start, stop): each symbol's bars closing then."""
    lo, hi = whole.times[start], whole.times[stop - 1]
    frames, columns = {}, []
    for k, (symbol, vb) in enumerate(whole.bars.items()):
        keep = (vb.close_times >= lo) & (vb.close_times <= hi)
        if keep.any():
            frames[symbol] = vb.frame[keep]
            columns.append(k)
    return prepare_basket(
        frames,
        whole.bar_size,
        next_open=next(iter(whole.bars.values())).next_open,
        weights=whole.universe.weights[start:stop][:, columns],
    )


def run_basket_fold(
    prepared: PreparedBars,
    grid: SweepGrid,
    plan: WalkForwardPlan,
    whole: BasketBars,
    first: int,
    state: _Folds,
) -> None:
    """Fold starting at union time `first`: choose on the training window, trade the test window."""
    from ntrader.backtest.walkforward import Fold, _std

    request, combos = prepared.request, grid.combinations
    settings = VectorSettings.of(state.equity, request.commission, request.fill_at, request.liquidity)
    rfr = get_settings().risk_free_rate
    figures = screen_basket(
        _window(whole, first, first + plan.train), request.strategy, combos, settings, risk_free_rate=rfr
    )
    key = rank_key(plan.metric)
    best = min(range(len(combos)), key=lambda k: key({plan.metric: figures[k].value(plan.metric)}))
    chosen = combos[best]
    stop = min(first + plan.train + plan.test, len(whole.times))
    window = _window(whole, first, stop)
    masks = _masks(window, request.strategy, chosen, [SignalCache(vb) for vb in window.bars.values()])
    run = run_basket_once(
        window,
        masks,
        chosen,
        settings,
        commission_terms(settings.commission),
        detail=True,
        rules=FoldRules(trade_from=plan.train, liquidate=True),
    )
    curve = pd.Series(run.curve[plan.train :], index=window.times[plan.train :], name="equity")
    fold_fills = basket_fills(window, run)
    end_equity = run.run.cash_c / 100.0
    with_start = pd.concat([pd.Series([state.equity], index=[window.times[plan.train - 1]]), curve])
    index = clock_frame(prepared.bars).index
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
            oos_sharpe=sharpe_ratio(curve, rfr, whole.periods_per_year, state.equity),
            oos_max_drawdown=max_drawdown(with_start).depth,
            trades=sum(1 for f in fold_fills if f.side == "BUY"),
            status="ruined" if run.run.ruined else "completed",
            in_sample_sharpe=figures[best].sharpe,
            trials_sharpe_std=_std([f.sharpe for f in figures]),
        )
    )
    state.curves.append(curve)
    state.fills.extend(fold_fills)
    state.equity = end_equity


def stitched_basket(prepared: PreparedBars, state: _Folds, stitched: pd.Series) -> RunResult:
    """The out-of-sample folds as one portfolio run: the account over the test windows."""
    request = prepared.request
    first_test = stitched.index[0]
    frames = {}
    for symbol, frame in prepared.bars.items():
        keep = request.bar_size.close_times(pd.DatetimeIndex(frame.index)) >= first_test
        if keep.any():
            frames[symbol] = frame[keep]
    equity, closes, positions = portfolio_curves(
        frames,
        request.bar_size,
        state.fills,
        request.capital,
        fills_at_open=request.fill_at == FILL_NEXT_OPEN,
    )
    closes = closes.reindex(columns=list(request.symbols))
    positions = positions.reindex(columns=list(request.symbols), fill_value=0.0)
    last_closes = {s: float(f["close"].iloc[-1]) for s, f in frames.items()}

    ids = [str(make_equity(s).id) for s in request.symbols]
    return RunResult(
        instrument_id=",".join(ids),
        bar_type=request.bar_size.bar_type(make_equity(request.symbols[0]).id),
        capital=request.capital,
        fills=state.fills,
        trades=portfolio_round_trips(state.fills, last_closes),
        equity=equity,
        final_balance=state.equity,
        final_equity=float(equity.iloc[-1]),
        bars=int(sum(len(f) for f in frames.values())),
        orders=len(state.fills),
        split_fills=0,
        engine_version=f"{ENGINE_VERSION} (walk-forward)",
        symbols=request.symbols,
        closes=closes,
        positions=positions,
    )


__all__ = ["basket_of", "run_basket_fold", "stitched_basket"]
