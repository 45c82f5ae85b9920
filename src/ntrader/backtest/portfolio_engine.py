"""Many symbols, one account: a portfolio run in one Nautilus `BacktestEngine`.

Every symbol is an instrument of one simulated venue with one cash account (a 1x margin account
when the strategy may go short). Two kinds of strategy run here:

- **basket mode**: any single-symbol strategy (`SignalStrategy`, built-in or the user's), one
  instance per symbol, sized on the whole account's equity times its allocation
  (`ntrader.strategies.universe`) and checked against the shared free cash;
- **portfolio strategies** (`ntrader.strategies.portfolio.PortfolioStrategy`): one instance that
  sees every symbol and holds target weights.

Alignment: each symbol's bars go to the engine as they are (a later listing or a missing day has
no bar, nothing is forward-filled or traded then); the account is marked at each symbol's last
known close. The run's checks are the single-symbol run's: a halt cuts the result at that time,
and a completed run's last equity must equal the account's cash plus every position at its last
close, or the run is "inconsistent".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.backtest.models import FeeModel
from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.config import BacktestEngineConfig, StrategyConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import AccountType, OmsType, OrderStatus
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId, TraderId, Venue
from nautilus_trader.model.objects import Money

from ntrader.backtest.engine import (
    DEFAULT_VENUE,
    _cost_function,
    _engine_halt_reason,
    _logging_config,
    bars_to_nautilus,
    make_equity,
)
from ntrader.backtest.fills import (
    FILL_NEXT_OPEN,
    LIQUIDITY_BAR_VOLUME,
    UNLIMITED_VOLUME,
    bar_lead_ns,
    open_ticks,
    parse_fill_at,
    parse_liquidity,
)
from ntrader.backtest.fills import venue_options as fill_venue_options
from ntrader.backtest.order_history import fill_from_event
from ntrader.backtest.result import (
    STATUS_COMPLETED,
    STATUS_HALTED,
    STATUS_INCONSISTENT,
    Fill,
    RunResult,
    count_split_orders,
    portfolio_curves,
    portfolio_round_trips,
)
from ntrader.data.bars import BAR_COLUMNS, BarSize
from ntrader.errors import InputError, StrategyFailed
from ntrader.nautilus_compat import skip_trade_records, subscribe_fills
from ntrader.strategies.base import ExecutionRules
from ntrader.strategies.loader import describe_raised
from ntrader.strategies.universe import ALLOCATION_EQUAL, Universe

_EQUITY_TOLERANCE = 0.01
#: The venue of a portfolio whose symbols' bars name different exchanges (IB's smart routing).
MIXED_VENUE = "SMART"

#: (instrument_id, bar_type, slot) → the config of the strategy instance for that symbol (basket
#: mode), or (None, None, -1) → the one portfolio strategy's config.
PortfolioConfigFactory = Callable[[InstrumentId | None, BarType | None, int], StrategyConfig]


@dataclass(frozen=True)
class PortfolioSetup:
    """What one portfolio run needs besides the bars (see `EngineSetup` for the shared fields)."""

    symbols: tuple[str, ...]
    bar_size: BarSize
    strategy_class: type
    config_factory: PortfolioConfigFactory
    capital: float
    allocation: str = ALLOCATION_EQUAL
    fee_model: FeeModel | None = None
    fill_at: str = "close"
    liquidity: str = LIQUIDITY_BAR_VOLUME
    progress: Callable[[str, int, int], None] | None = None
    venue: str | None = None

    @property
    def is_portfolio_strategy(self) -> bool:
        return bool(getattr(self.strategy_class, "is_portfolio", False))


def portfolio_venue(bars: dict[str, pd.DataFrame]) -> str:
    """The one venue of the shared account: the bars' own when they agree, else SMART."""
    venues = {frame.attrs.get("venue", DEFAULT_VENUE) for frame in bars.values()}
    return venues.pop() if len(venues) == 1 else MIXED_VENUE


def run_portfolio(
    bars: dict[str, pd.DataFrame], setup: PortfolioSetup, *, verbose: bool = False
) -> RunResult:
    """Run `setup`'s strategy over every symbol's bars on one account; see the module notes."""
    fill_at, liquidity = parse_fill_at(setup.fill_at), parse_liquidity(setup.liquidity)
    if set(bars) != set(setup.symbols):
        raise InputError("the bars must cover exactly the run's symbols")
    for symbol in setup.symbols:
        if bars[symbol].empty:
            raise InputError(f"no bars to backtest for {symbol}")
    if setup.is_portfolio_strategy and fill_at == FILL_NEXT_OPEN:
        raise InputError(
            "portfolio strategies fill at the bar's close; --fill-at next-open is for single-symbol "
            "strategies (also in basket mode)"
        )
    frames = {
        s: pd.DataFrame({c: np.array(bars[s][c], dtype="float64") for c in BAR_COLUMNS}, index=bars[s].index)
        for s in setup.symbols
    }
    venue = setup.venue or portfolio_venue(bars)
    instruments = [make_equity(s, venue) for s in setup.symbols]
    bar_types = [BarType.from_str(setup.bar_size.bar_type(i.id)) for i in instruments]
    closes = {
        s: frames[s]["close"].set_axis(setup.bar_size.close_times(pd.DatetimeIndex(frames[s].index)))
        for s in setup.symbols
    }
    universe = Universe.build(closes, [i.id for i in instruments], bar_types, setup.allocation)
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId("NTRADER-001"), logging=_logging_config(verbose), run_analysis=False
        )
    )
    try:
        end = _run(engine, frames, setup, _Run(venue, instruments, bar_types, universe, fill_at, liquidity))
    finally:
        engine.dispose()
    return _result(frames, setup, end)


@dataclass
class _Run:
    venue: str
    instruments: list[Any]
    bar_types: list[BarType]
    universe: Universe
    fill_at: str
    liquidity: str


@dataclass
class _End:
    fills: list[Any]
    balance: float
    positions: np.ndarray
    margin: bool
    unrealized: float
    orders: int
    denied: int
    rejected: int
    unfilled: int
    skipped: int
    halt_reason: str | None
    stopped_ns: int
    venue: str
    instrument_ids: list[str]
    bar_type: str


class _FillRecorder(Actor):
    """Hears every fill as it happens, so the fills keep their real order within a bar time (the
    cache sorts orders by id): the cash after each fill can be followed exactly."""

    def __init__(self, instrument_ids: list[InstrumentId]) -> None:
        super().__init__(ActorConfig(component_id="ntrader-fills"))
        self._ids = instrument_ids
        self.fills: list[Fill] = []

    def on_start(self) -> None:
        for instrument_id in self._ids:
            subscribe_fills(self, instrument_id)  # Actor.subscribe_order_fills is gone in 1.231

    def on_order_filled(self, event: OrderFilled) -> None:
        self.fills.append(fill_from_event(event))


def _strategies(setup: PortfolioSetup, run: _Run, last_ns: dict[str, int]) -> list[Any]:
    """The strategy instances: one per symbol (basket) or the portfolio strategy."""
    next_open = run.fill_at == FILL_NEXT_OPEN
    unlimited = run.liquidity != LIQUIDITY_BAR_VOLUME
    costs = _cost_function(setup.fee_model)
    try:
        if setup.is_portfolio_strategy:
            config = setup.config_factory(None, None, -1)
            setup.strategy_class.check_symbols(config, setup.symbols)  # type: ignore[attr-defined]
            strategy = setup.strategy_class(config)
            strategy.universe = run.universe
            strategy.execution = ExecutionRules(
                unlimited_liquidity=unlimited, last_bar_ns=max(last_ns.values()), costs=costs
            )
            return [strategy]
        out = []
        for slot, (symbol, instrument, bar_type) in enumerate(
            zip(setup.symbols, run.instruments, run.bar_types, strict=True)
        ):
            strategy = setup.strategy_class(setup.config_factory(instrument.id, bar_type, slot))
            if hasattr(strategy, "execution"):
                strategy.execution = ExecutionRules(
                    next_open=next_open,
                    unlimited_liquidity=unlimited,
                    last_bar_ns=last_ns[symbol],
                    costs=costs,
                    universe=run.universe,
                    slot=slot,
                )
            out.append(strategy)
        return out
    except InputError:
        raise
    except Exception as exc:  # the user's __init__: nothing ran, nothing is saved
        raise StrategyFailed(f"the strategy raised {describe_raised(exc, setup.strategy_class)}") from exc


def _run(engine: BacktestEngine, frames: dict[str, pd.DataFrame], setup: PortfolioSetup, run: _Run) -> _End:
    probe = (
        setup.config_factory(None, None, -1)
        if setup.is_portfolio_strategy
        else setup.config_factory(run.instruments[0].id, run.bar_types[0], 0)
    )
    margin = bool(getattr(probe, "allow_short", False))
    engine.add_venue(
        venue=Venue(run.venue),
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN if margin else AccountType.CASH,
        default_leverage=Decimal(1) if margin else None,
        base_currency=USD,
        starting_balances=[Money(setup.capital, USD)],
        fee_model=setup.fee_model,
        **fill_venue_options(run.fill_at),
    )
    bind_clock = getattr(setup.fee_model, "bind_clock", None)
    if bind_clock is not None:
        bind_clock(engine.kernel.clock)
    lead = bar_lead_ns(run.fill_at)
    unlimited = run.liquidity != LIQUIDITY_BAR_VOLUME
    last_ns: dict[str, int] = {}
    total = 0
    for symbol, instrument, bar_type in zip(setup.symbols, run.instruments, run.bar_types, strict=True):
        engine.add_instrument(instrument)
        frame = frames[symbol].assign(volume=UNLIMITED_VOLUME) if unlimited else frames[symbol]
        data = bars_to_nautilus(frame, bar_type, instrument, setup.bar_size, lead)
        engine.add_data(data)
        if run.fill_at == FILL_NEXT_OPEN:
            engine.add_data(open_ticks(frame, setup.bar_size, instrument))
        last_ns[symbol] = data[-1].ts_event
        total += len(data)
    recorder = _FillRecorder([i.id for i in run.instruments])
    engine.add_actor(recorder)
    strategies = _strategies(setup, run, last_ns)
    for strategy in strategies:
        engine.add_strategy(strategy)
    if setup.progress is not None:
        from ntrader.backtest.progress import BarCounter

        engine.add_actor(BarCounter(tuple(run.bar_types), total, setup.progress))
    skip_trade_records(engine)  # Nautilus 1.231's per-trade pd.concat: see nautilus_compat
    halt_reason = None
    try:
        engine.run()
    except Exception as exc:  # a strategy that raises stops the run: record it, never hide it
        halt_reason = f"the strategy raised {describe_raised(exc, setup.strategy_class)}"
    end = _read_end(engine, strategies, run, halt_reason or _engine_halt_reason(engine))
    end.fills = sorted(recorder.fills, key=lambda f: f.timestamp)  # stable: real order within a time
    return end


def _read_end(engine: BacktestEngine, strategies: list[Any], run: _Run, halt: str | None) -> _End:
    account = engine.portfolio.account(Venue(run.venue))
    balance = account.balance_total(USD).as_double() if account else 0.0
    ids = [i.id for i in run.instruments]
    orders = engine.cache.orders()
    still_open = sum(1 for o in orders if o.is_open or o.status == OrderStatus.INITIALIZED)
    margin = account is not None and account.type == AccountType.MARGIN
    unrealized = 0.0
    if margin:
        pnl = [engine.portfolio.unrealized_pnl(i) for i in ids]
        unrealized = sum(p.as_double() for p in pnl if p is not None)
    return _End(
        fills=[],
        balance=balance,
        positions=np.array([float(engine.portfolio.net_position(i)) for i in ids]),
        margin=margin,
        unrealized=unrealized,
        orders=len(orders),
        denied=sum(1 for o in orders if o.status == OrderStatus.DENIED),
        rejected=sum(1 for o in orders if o.status == OrderStatus.REJECTED),
        unfilled=sum(int(getattr(s, "unfilled_at_end", 0)) for s in strategies) + still_open,
        skipped=sum(int(getattr(s, "skipped_on_last_bar", 0)) for s in strategies),
        halt_reason=halt,
        stopped_ns=engine.kernel.clock.timestamp_ns(),
        venue=run.venue,
        instrument_ids=[str(i) for i in ids],
        bar_type=str(run.bar_types[0]),
    )


def _result(frames: dict[str, pd.DataFrame], setup: PortfolioSetup, end: _End) -> RunResult:
    import nautilus_trader

    fills, halt_reason = end.fills, end.halt_reason
    halted_at = pd.Timestamp(end.stopped_ns, unit="ns", tz="UTC") if halt_reason else None
    if halted_at is not None:
        kept = {}
        for symbol, frame in frames.items():
            keep = setup.bar_size.close_times(pd.DatetimeIndex(frame.index)) < halted_at
            kept[symbol] = frame[keep] if keep.any() else frame.iloc[:0]
        if all(f.empty for f in kept.values()):
            first = min(frames, key=lambda s: frames[s].index[0])
            kept[first] = frames[first].iloc[:1]
        frames = {s: f for s, f in kept.items() if not f.empty}
        fills = [f for f in fills if f.timestamp < halted_at]
    next_open = parse_fill_at(setup.fill_at) == FILL_NEXT_OPEN
    equity, closes, positions = portfolio_curves(
        frames, setup.bar_size, fills, setup.capital, fills_at_open=next_open
    )
    closes = closes.reindex(columns=list(setup.symbols))
    positions = positions.reindex(columns=list(setup.symbols), fill_value=0.0)
    last_closes = {s: float(frames[s]["close"].iloc[-1]) for s in frames}
    status = STATUS_HALTED if halt_reason else STATUS_COMPLETED
    if status == STATUS_COMPLETED:
        marks = np.array([last_closes[s] for s in setup.symbols])
        expected = end.balance + (end.unrealized if end.margin else float(end.positions @ marks))
        last = float(equity.iloc[-1])
        if not math.isclose(last, expected, rel_tol=1e-9, abs_tol=_EQUITY_TOLERANCE):
            status = STATUS_INCONSISTENT
            halt_reason = (
                f"last equity {last:,.2f} differs from the account's balance plus the open positions "
                f"at their last closes ({expected:,.2f})"
            )
    return RunResult(
        instrument_id=",".join(end.instrument_ids),
        bar_type=end.bar_type,
        capital=setup.capital,
        fills=fills,
        trades=portfolio_round_trips(fills, last_closes),
        equity=equity,
        final_balance=end.balance,
        final_equity=float(equity.iloc[-1]),
        bars=int(sum(len(f) for f in frames.values())),
        orders=end.orders,
        split_fills=count_split_orders(fills),
        engine_version=f"nautilus_trader {nautilus_trader.__version__}",
        status=status,
        halt_reason=halt_reason,
        halted_at=halted_at,
        orders_denied=end.denied,
        orders_rejected=end.rejected,
        unfilled_at_end=end.unfilled,
        skipped_on_last_bar=end.skipped,
        symbols=setup.symbols,
        closes=closes,
        positions=positions,
    )


__all__ = ["MIXED_VENUE", "PortfolioConfigFactory", "PortfolioSetup", "portfolio_venue", "run_portfolio"]
