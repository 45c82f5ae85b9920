"""One combination: its settings, the compiled loop's inputs and outputs, fills as Nautilus reports them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

import numpy as np
import pandas as pd

from ntrader.backtest.costs import CommissionModel, parse_commission
from ntrader.backtest.engine import Fill, RunResult, equity_curve, make_equity, round_trips
from ntrader.backtest.fills import (
    DEFAULT_LIQUIDITY,
    FILL_NEXT_OPEN,
    LIQUIDITY_UNLIMITED,
    parse_fill_at,
    parse_liquidity,
)
from ntrader.backtest.vector.bars import RAW_PER_CENT, RAW_SCALE, VectorBars, prepare_bars
from ntrader.backtest.vector.commission import CommissionTerms, commission_terms
from ntrader.backtest.vector.kernel import FILL_COLUMNS, _simulate
from ntrader.backtest.vector.signals import VectorStrategy, signal_function
from ntrader.data.bars import BarSize
from ntrader.errors import InputError
from ntrader.strategies.signals import SignalCache

ENGINE_VERSION = "ntrader vector screen 1"


@dataclass(frozen=True)
class VectorSettings:
    """Everything but the strategy parameters: capital, commission model, fill mode, liquidity."""

    capital: float
    commission: CommissionModel
    fill_at: str
    liquidity: str = DEFAULT_LIQUIDITY

    @classmethod
    def of(
        cls,
        capital: float,
        commission: str | CommissionModel,
        fill_at: str,
        liquidity: str = DEFAULT_LIQUIDITY,
    ) -> VectorSettings:
        if capital <= 0:
            raise InputError(f"capital must be greater than 0, got {capital}")
        return cls(
            float(capital), parse_commission(commission), parse_fill_at(fill_at), parse_liquidity(liquidity)
        )


class MarketKeywords(TypedDict, total=False):
    """The keyword form of the market settings (`screen`, `run_vector`): a `VectorSettings` or its parts."""

    settings: VectorSettings
    bar_size: BarSize | None
    capital: float
    commission: str | CommissionModel
    fill_at: str
    liquidity: str


def market_of(bars: pd.DataFrame | VectorBars, market: MarketKeywords) -> tuple[VectorBars, VectorSettings]:
    """The bars as arrays and the settings, from the keywords (defaults: 100 000, ibkr-fixed, close)."""
    settings = market.get("settings") or VectorSettings.of(
        market.get("capital", 100_000.0),
        market.get("commission", "ibkr-fixed"),
        market.get("fill_at", "close"),
        market.get("liquidity", DEFAULT_LIQUIDITY),
    )
    if isinstance(bars, VectorBars):
        vb = bars
    else:
        bar_size = market.get("bar_size")
        if bar_size is None:
            raise InputError("bar_size is required with a bar frame")
        vb = prepare_bars(bars, bar_size, next_open=settings.fill_at == FILL_NEXT_OPEN)
    return vb, settings


@dataclass(frozen=True)
class FoldRules:
    """How a walk-forward window trades: bars before `trade_from` only warm the indicators up;
    `liquidate` sells any position at the last bar's close; `capital` overrides the settings'."""

    trade_from: int = 0
    liquidate: bool = False
    capital: float | None = None


_WHOLE_PERIOD = FoldRules()


class FoldKeywords(TypedDict, total=False):
    trade_from: int
    liquidate: bool
    capital: float | None


@dataclass
class VectorRun:
    """One combination's outcome: summary figures, and the fills/equity when asked for."""

    params: dict[str, Any]
    final_equity: float
    daily_equity: np.ndarray
    max_drawdown: float
    ruined: bool
    #: Orders filled in two parts (thin volume at one price, the rest one tick worse).
    split_orders: int
    #: Decisions on the last bar: entries not opened (close fills) or never filled (next-open).
    skipped_at_end: int = 0
    fills: np.ndarray | None = None
    equity: np.ndarray | None = None
    cash_c: int = 0
    position: int = 0


def run_one(
    bars: VectorBars,
    signals: tuple[np.ndarray, np.ndarray],
    params: dict[str, Any],
    settings: VectorSettings,
    terms: CommissionTerms,
    *,
    detail: bool,
    rules: FoldRules = _WHOLE_PERIOD,
) -> VectorRun:
    """One pass of the compiled loop over `bars` with these entry/exit signals."""
    entry, exit_ = signals
    capital_c = round((settings.capital if rules.capital is None else rules.capital) * 100)
    # Every order fills in at most two parts.
    fills = np.zeros((4 * (len(entry) + 1) if detail else 0, FILL_COLUMNS), dtype=np.int64)
    equity = np.zeros(bars.n if detail else 0)
    daily = np.zeros(len(bars.day_end))
    flags = (settings.fill_at == FILL_NEXT_OPEN, settings.liquidity == LIQUIDITY_UNLIMITED, rules.liquidate)
    n_fills, cash, pos, max_dd, ruined, split, skipped = _simulate(
        (entry, exit_),
        bars.kernel_arrays(),
        flags,
        capital_c,
        float(params.get("position_pct", 0.95)),
        terms.kernel,
        rules.trade_from,
        (fills, equity, daily),
    )
    final = (cash + pos * int(bars.close_c[-1])) / 100.0
    return VectorRun(
        params=params,
        final_equity=final,
        daily_equity=daily,
        max_drawdown=float(max_dd),
        ruined=bool(ruined),
        split_orders=int(split),
        skipped_at_end=int(skipped),
        fills=fills[:n_fills] if detail else None,
        equity=equity if detail else None,
        cash_c=int(cash),
        position=int(pos),
    )


def simulate(
    bars: VectorBars,
    strategy: VectorStrategy,
    params: dict[str, Any],
    settings: VectorSettings,
    *,
    cache: SignalCache | None = None,
    detail: bool = True,
    **rules: Unpack[FoldKeywords],
) -> VectorRun:
    """One combination on `bars` (`strategy`: its spec, signal function or name); `trade_from`,
    `liquidate` and `capital` as in `FoldRules`."""
    signals = signal_function(strategy)(cache or SignalCache(bars), params)
    terms = commission_terms(settings.commission)
    return run_one(bars, signals, params, settings, terms, detail=detail, rules=FoldRules(**rules))


def fills_of(bars: VectorBars, run: VectorRun, settings: VectorSettings) -> list[Fill]:
    """The run's fills as the Nautilus engine reports them (times: close, or the open it filled at)."""
    assert run.fills is not None
    out = []
    for i, side, qty, price_c, fee_c, at_open in run.fills.tolist():
        stamp = bars.open_times[i] if at_open else bars.close_times[i]
        out.append(
            Fill(
                timestamp=pd.Timestamp(stamp).as_unit("ns"),  # as the engine stamps them (pandas 3: us)
                side="BUY" if side > 0 else "SELL",
                # As Nautilus reports them: Quantity/Price/Money.as_double() of the fixed-point raw.
                quantity=(float(qty) * RAW_SCALE) / RAW_SCALE,
                price=(float(price_c) * RAW_PER_CENT) / RAW_SCALE,
                commission=(float(fee_c) * RAW_PER_CENT) / RAW_SCALE,
            )
        )
    return out


def run_vector(
    bars: pd.DataFrame | VectorBars,
    strategy: VectorStrategy,
    params: dict[str, Any],
    *,
    symbol: str = "TEST",
    **market: Unpack[MarketKeywords],
) -> RunResult:
    """One combination in full (fills, round trips, equity per bar) as a `RunResult`, like `run_engine`.

    `params` are the strategy's typed parameters (defaults merged in by the caller); `market`:
    `bar_size` (with a bar frame), `capital`, `commission`, `fill_at`, `liquidity`, or `settings`.
    """
    vb, settings = market_of(bars, market)
    signals = signal_function(strategy)(SignalCache(vb), params)
    run = run_one(vb, signals, params, settings, commission_terms(settings.commission), detail=True)
    return _result(vb, run, settings, symbol)


def _result(vb: VectorBars, run: VectorRun, settings: VectorSettings, symbol: str) -> RunResult:
    fills = fills_of(vb, run, settings)
    equity = equity_curve(
        vb.frame, vb.bar_size, fills, settings.capital, fills_at_open=settings.fill_at == FILL_NEXT_OPEN
    )
    instrument = make_equity(symbol)
    return RunResult(
        instrument_id=str(instrument.id),
        bar_type=vb.bar_size.bar_type(instrument.id),
        capital=settings.capital,
        fills=fills,
        trades=round_trips(fills, last_price=float(vb.close_f[-1])),
        equity=equity,
        final_balance=run.cash_c / 100.0,
        final_equity=float(equity.iloc[-1]),
        bars=vb.n,
        orders=len(fills) - run.split_orders,
        split_fills=run.split_orders,
        engine_version=ENGINE_VERSION,
        unfilled_at_end=run.skipped_at_end if settings.fill_at == FILL_NEXT_OPEN else 0,
        skipped_on_last_bar=0 if settings.fill_at == FILL_NEXT_OPEN else run.skipped_at_end,
    )
