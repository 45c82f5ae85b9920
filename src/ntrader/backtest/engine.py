"""Runs one strategy on one bar frame in a Nautilus `BacktestEngine` and collects the result.

`Fill`, `RunResult`, `equity_curve` and `round_trips` live in `ntrader.backtest.result` (no Nautilus
needed to read a result) and are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from nautilus_trader.accounting.error import AccountError
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.backtest.models import FeeModel
from nautilus_trader.common.component import is_backtest_force_stop
from nautilus_trader.config import BacktestEngineConfig, LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, OrderStatus, TradingState
from nautilus_trader.model.identifiers import InstrumentId, Symbol, TraderId, Venue
from nautilus_trader.model.instruments import Equity, Instrument
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.trading.strategy import Strategy

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
from ntrader.backtest.order_history import OrderHistory, forgets_closed_orders
from ntrader.backtest.result import (
    STATUS_COMPLETED,
    STATUS_HALTED,
    STATUS_INCONSISTENT,
    Fill,
    RunResult,
    count_split_orders,
    equity_curve,
    round_trips,
)
from ntrader.data.bars import BAR_COLUMNS, BarSize
from ntrader.errors import InputError, StrategyFailed
from ntrader.nautilus_compat import skip_trade_records, wrangle_bars
from ntrader.strategies.base import ExecutionRules
from ntrader.strategies.loader import describe_raised

# The last equity point may differ from the account's own figure by float rounding only.
_EQUITY_TOLERANCE = 0.01

DEFAULT_VENUE = "NASDAQ"

#: Bars per chunk fed to the engine: 20 000 one-minute bars are ~6 MB of Nautilus `Bar`s (1 M at
#: once: ~310 MB), and chunks this long cost no speed (200 000 bars: 19-20 s chunked, 22 s whole).
CHUNK_BARS = 20_000

_logging_initialised = False


def make_equity(symbol: str, venue: str = DEFAULT_VENUE, price_precision: int = 2) -> Equity:
    """A US stock as Nautilus sees it: whole shares, cent ticks, quoted in USD."""
    increment = Price(10.0**-price_precision, price_precision)
    return Equity(
        instrument_id=InstrumentId(Symbol(symbol), Venue(venue)),
        raw_symbol=Symbol(symbol),
        currency=USD,
        price_precision=price_precision,
        price_increment=increment,
        lot_size=Quantity.from_int(1),
        ts_event=0,
        ts_init=0,
    )


def _logging_config(verbose: bool) -> LoggingConfig:
    global _logging_initialised
    # Nautilus's Rust logger can be initialised once per process: the first run decides.
    if verbose and not _logging_initialised:
        _logging_initialised = True
        return LoggingConfig(log_level="INFO")
    _logging_initialised = True
    return LoggingConfig(bypass_logging=True) if not verbose else LoggingConfig(log_level="INFO")


def bars_to_nautilus(
    frame: pd.DataFrame, bar_type: BarType, instrument: Instrument, bar_size: BarSize, lead_ns: int = 0
) -> list[Any]:
    """Bars through Nautilus's wrangler, stamped at their close time (in bulk, never per bar).

    `lead_ns` stamps them that much earlier (next-open fills need 1 ns: see `ntrader.backtest.fills`).
    """
    data = frame[["open", "high", "low", "close", "volume"]].set_axis(
        bar_size.close_times(pd.DatetimeIndex(frame.index)) - pd.Timedelta(lead_ns, unit="ns")
    )
    return wrangle_bars(data, bar_type, instrument)


@dataclass(frozen=True)
class EngineSetup:
    """What one Nautilus run needs besides its bars: the instrument, the strategy and how the
    venue fills and charges. `config_factory(instrument_id, bar_type)` builds the strategy config."""

    symbol: str
    bar_size: BarSize
    strategy_class: type[Strategy]
    config_factory: Callable[[InstrumentId, BarType], StrategyConfig]
    capital: float
    venue: str = DEFAULT_VENUE
    fee_model: FeeModel | None = None
    fill_at: str = "close"
    liquidity: str = LIQUIDITY_BAR_VOLUME
    extra_data: Callable[[Instrument], list[Any]] | None = None
    venue_options: dict[str, Any] | None = None
    #: (phase, bars done, bars total) while the engine runs; see ntrader.backtest.progress.
    progress: Callable[[str, int, int], None] | None = None
    #: `--adjust raw`: cash per share by ex-date (the bar's open time), credited by DividendModule.
    dividends: pd.Series | None = None
    #: Bars handed to the engine at a time (Nautilus's streaming mode), so only one chunk's `Bar`
    #: objects (~320 bytes each) are alive; None: all at once in one run (extra data forces that).
    chunk_bars: int | None = CHUNK_BARS


class OwnedBars:
    """Bars handed over to `run_engine` for good: once Nautilus has run, all but their closes are
    freed before the equity curve and the metrics are built (a million bars: 32 MB of open, high,
    low and volume), and the run keeps its closes (`RunResult.curve_closes`). The caller keeps no
    other reference to the frame; `attrs` reads its attrs until the engine takes it."""

    def __init__(self, bars: pd.DataFrame) -> None:
        self._bars: pd.DataFrame | None = bars

    @property
    def attrs(self) -> dict[Any, Any]:
        return {} if self._bars is None else self._bars.attrs

    def take(self) -> pd.DataFrame:
        bars, self._bars = self._bars, None
        if bars is None:
            raise RuntimeError("these bars were handed to an engine already")
        return bars


@dataclass
class _EngineEnd:
    """What the engine left behind when it stopped, read before it is disposed of (the fills are
    built from `history` after: the engine's memory is free for them by then)."""

    history: OrderHistory
    final_balance: float
    account_equity_at: Callable[[float], float]
    orders: int
    denied: int
    rejected: int
    unfilled: int
    skipped: int
    halt_reason: str | None
    stopped_ns: int
    dividends: list[tuple[int, float, float]] = field(default_factory=list)


def run_engine(
    bars: pd.DataFrame | OwnedBars, setup: EngineSetup | None = None, *, verbose: bool = False, **fields: Any
) -> RunResult:
    """Run a strategy over `bars` in Nautilus and return fills, trades and the per-bar equity curve.

    Pass an `EngineSetup`, or its fields as keywords. `fill_at`: "close" (market orders fill at the
    signal bar's close) or "next-open". `liquidity`: "bar-volume" (Nautilus's bar execution: a
    quarter of a bar's volume at the close, the opening tick's volume at the open, the rest one
    tick worse) or "unlimited".

    A run the engine stopped early (an order overdrew the account, the risk engine halted trading,
    the strategy raised) comes back with status "halted", its reason and time, and its equity cut
    at that time; a run whose last equity point disagrees with the account is "inconsistent".
    """
    setup = setup if setup is not None else EngineSetup(**fields)
    setup = replace(setup, fill_at=parse_fill_at(setup.fill_at), liquidity=parse_liquidity(setup.liquidity))
    if isinstance(bars, OwnedBars):
        bars, owned = bars.take(), True
    else:
        owned = False
    if bars.empty:
        raise InputError("no bars to backtest")
    if setup.capital <= 0:
        raise InputError(f"capital must be greater than 0, got {setup.capital}")
    # Float64 columns, shared when they are float64 already (converted when Arrow-backed): each
    # chunk handed to Nautilus is copied into writable arrays there (`wrangle_bars`, `open_ticks`),
    # so a million bars are not held twice.
    bars = pd.DataFrame(
        {
            column: bars[column] if bars[column].dtype == np.float64 else bars[column].astype("float64")
            for column in BAR_COLUMNS
        },
        index=bars.index,
        copy=False,  # without it pandas consolidates the columns into one new block (a copy)
    )
    instrument = make_equity(setup.symbol, setup.venue)
    bar_type = BarType.from_str(setup.bar_size.bar_type(instrument.id))
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId("NTRADER-001"), logging=_logging_config(verbose), run_analysis=False
        )
    )
    try:
        end = _run(engine, bars, setup, instrument, bar_type)
    finally:
        engine.dispose()
        # Nautilus's orders, events and positions go before the equity curve and metrics are built.
        del engine
    if owned:  # and so do the bars but their closes (a copy: a column is a view of all five)
        bars = pd.DataFrame({"close": bars["close"].to_numpy(copy=True)}, index=bars.index, copy=False)
    return _result(bars, setup, instrument, str(bar_type), end, keep_closes=owned)


def _run(
    engine: BacktestEngine, bars: pd.DataFrame, setup: EngineSetup, instrument: Equity, bar_type: BarType
) -> _EngineEnd:
    config = setup.config_factory(instrument.id, bar_type)
    # A cash account cannot sell short; strategies that may go short get a margin account at 1x.
    margin = bool(getattr(config, "allow_short", False))
    dividends = None
    if setup.dividends is not None and len(setup.dividends):
        from ntrader.backtest.dividends import DividendModule

        dividends = DividendModule(instrument.id, setup.dividends)
    engine.add_venue(
        venue=Venue(setup.venue),
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN if margin else AccountType.CASH,
        default_leverage=Decimal(1) if margin else None,
        base_currency=USD,
        starting_balances=[Money(setup.capital, USD)],
        fee_model=setup.fee_model,
        modules=[dividends] if dividends is not None else None,
        **{**fill_venue_options(setup.fill_at), **(setup.venue_options or {})},
    )
    bind_clock = getattr(setup.fee_model, "bind_clock", None)
    if bind_clock is not None:
        # Monthly-volume commission tiers need the fill time, which Nautilus does not pass.
        bind_clock(engine.kernel.clock)
    engine.add_instrument(instrument)
    # The engine sees unlimited liquidity as bars whose volume no order can exhaust; the stored
    # bars (and every report) keep their real volume.
    unlimited = setup.liquidity != LIQUIDITY_BAR_VOLUME
    engine_bars = bars.assign(volume=UNLIMITED_VOLUME) if unlimited else bars
    lead = bar_lead_ns(setup.fill_at)
    next_open = setup.fill_at == FILL_NEXT_OPEN
    chunks = _chunks(engine_bars, setup)
    try:
        strategy = setup.strategy_class(config)
    except Exception as exc:  # the user's __init__: nothing ran, nothing is saved
        raise StrategyFailed(f"the strategy raised {describe_raised(exc, setup.strategy_class)}") from exc
    if hasattr(strategy, "execution"):
        last_bar = bars_to_nautilus(engine_bars.iloc[-1:], bar_type, instrument, setup.bar_size, lead)[-1]
        strategy.execution = ExecutionRules(
            next_open=next_open,
            unlimited_liquidity=unlimited,
            last_bar_ns=last_bar.ts_event,
            costs=_cost_function(setup.fee_model),
        )
    engine.add_strategy(strategy)
    if setup.progress is not None:
        from ntrader.backtest.progress import BarCounter

        engine.add_actor(BarCounter(bar_type, len(engine_bars), setup.progress))
    skip_trade_records(engine)  # Nautilus 1.231's per-trade pd.concat: see nautilus_compat
    history = OrderHistory(forget=forgets_closed_orders(setup.strategy_class))
    halt_reason = _feed_and_run(engine, chunks, setup, instrument, bar_type, history)
    end = _read_end(engine, strategy, instrument, setup, halt_reason or _engine_halt_reason(engine), history)
    end.dividends = list(dividends.credits) if dividends is not None else []
    return end


def _feed_and_run(
    engine: BacktestEngine,
    chunks: list[pd.DataFrame],
    setup: EngineSetup,
    instrument: Equity,
    bar_type: BarType,
    history: OrderHistory,
) -> str | None:
    """Hand the engine its data and run it, one chunk at a time when there are several (Nautilus's
    streaming mode: add, run, clear, and `end()` after the last); returns why a strategy stopped it.
    Between chunks, `history` may take the closed orders out of Nautilus's cache.

    A bar the wrangler rejects raises here, never as the strategy's failure.
    """
    streaming = len(chunks) > 1
    lead = bar_lead_ns(setup.fill_at)
    for part in chunks:
        engine.add_data(bars_to_nautilus(part, bar_type, instrument, setup.bar_size, lead))
        if setup.fill_at == FILL_NEXT_OPEN:
            engine.add_data(open_ticks(part, setup.bar_size, instrument))
        if setup.extra_data is not None:
            engine.add_data(setup.extra_data(instrument))
        try:
            engine.run(streaming=streaming)
        except AccountError:
            # Streaming, Nautilus re-raises what stops the run (an overdrawn account) after setting
            # its force-stop flag and without ending it; unchunked, it swallows it and ends the run.
            if not is_backtest_force_stop():
                raise
            engine.end()
            return None
        except Exception as exc:  # a strategy that raises stops the run: record it, never hide it
            return f"the strategy raised {describe_raised(exc, setup.strategy_class)}"
        if is_backtest_force_stop():  # Nautilus ended the run itself
            return None
        if streaming:
            engine.clear_data()  # this chunk's bars go: the next chunk's take their place
            history.take_closed(engine)
    if streaming:
        engine.end()
    return None


def _chunks(bars: pd.DataFrame, setup: EngineSetup) -> list[pd.DataFrame]:
    """The bars in the order the engine gets them: one chunk, or `setup.chunk_bars` at a time.

    Extra data spans the whole run, so a run with it is never cut.
    """
    size = setup.chunk_bars
    if size is None or setup.extra_data is not None or len(bars) <= size:
        return [bars]
    if size < 1:
        raise InputError(f"chunk_bars must be at least 1, got {size}")
    return [bars.iloc[i : i + size] for i in range(0, len(bars), size)]


def _read_end(
    engine: BacktestEngine,
    strategy: Strategy,
    instrument: Equity,
    setup: EngineSetup,
    halt: str | None,
    history: OrderHistory,
) -> _EngineEnd:
    account = engine.portfolio.account(Venue(setup.venue))
    balance = account.balance_total(USD).as_double() if account else setup.capital
    orders = engine.cache.orders()
    still_open = sum(1 for o in orders if o.is_open or o.status == OrderStatus.INITIALIZED)
    position = float(engine.portfolio.net_position(instrument.id)) if account else 0.0
    if account is not None and account.type == AccountType.MARGIN:
        # A margin account books only realized P&L: equity is the balance plus unrealized P&L.
        unrealized = engine.portfolio.unrealized_pnl(instrument.id)
        pnl = unrealized.as_double() if unrealized is not None else 0.0

        def account_equity(last_close: float) -> float:
            return balance + pnl
    else:

        def account_equity(last_close: float) -> float:
            return balance + position * last_close

    history.take(orders)
    return _EngineEnd(
        history=history,
        final_balance=balance,
        account_equity_at=account_equity,
        orders=history.orders,
        denied=history.denied,
        rejected=history.rejected,
        unfilled=int(getattr(strategy, "unfilled_at_end", 0)) + still_open,
        skipped=int(getattr(strategy, "skipped_on_last_bar", 0)),
        halt_reason=halt,
        stopped_ns=engine.kernel.clock.timestamp_ns(),
    )


def _result(
    bars: pd.DataFrame,
    setup: EngineSetup,
    instrument: Equity,
    bar_type: str,
    end: _EngineEnd,
    *,
    keep_closes: bool = False,
) -> RunResult:
    """The run as ntrader reports it: cut at a halt, checked against the account when complete
    (`keep_closes`: with the closes its equity curve marks, as `curve_closes`)."""
    import nautilus_trader

    fills, halt_reason = end.history.fills(), end.halt_reason
    halted_at = pd.Timestamp(end.stopped_ns, unit="ns", tz="UTC") if halt_reason else None
    if halted_at is not None:
        # Metrics cover what happened: bars that closed before the engine stopped, and their fills.
        keep = setup.bar_size.close_times(pd.DatetimeIndex(bars.index)) < halted_at
        bars = bars[keep] if keep.any() else bars.iloc[:1]
        fills = [f for f in fills if f.timestamp < halted_at]
    next_open = setup.fill_at == FILL_NEXT_OPEN
    equity = equity_curve(bars, setup.bar_size, fills, setup.capital, fills_at_open=next_open)
    credits = [c for c in end.dividends if halted_at is None or c[0] < halted_at.value]
    if credits:
        from ntrader.backtest.dividends import dividend_cash

        equity = equity + dividend_cash(pd.DatetimeIndex(bars.index), credits)
    last_close = float(bars["close"].iloc[-1])
    status = STATUS_HALTED if halt_reason else STATUS_COMPLETED
    if status == STATUS_COMPLETED:
        # The invariant of every run: last equity = balance + the open position at the last close.
        expected = end.account_equity_at(last_close)
        last = float(equity.iloc[-1])
        if not math.isclose(last, expected, rel_tol=1e-9, abs_tol=_EQUITY_TOLERANCE):
            status = STATUS_INCONSISTENT
            halt_reason = (
                f"last equity {last:,.2f} differs from the account's balance plus the open position "
                f"at the last close ({expected:,.2f})"
            )
    return RunResult(
        instrument_id=str(instrument.id),
        bar_type=bar_type,
        capital=setup.capital,
        fills=fills,
        trades=round_trips(fills, last_price=last_close),
        equity=equity,
        final_balance=end.final_balance,
        final_equity=float(equity.iloc[-1]),
        bars=len(bars),
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
        extra={"dividends": {"paid": len(credits), "cash": round(sum(c[2] for c in credits), 2)}}
        if setup.dividends is not None
        else {},
        curve_closes=pd.Series(bars["close"].to_numpy(), index=equity.index, name="close", copy=False)
        if keep_closes
        else None,
    )


def _engine_halt_reason(engine: BacktestEngine) -> str | None:
    """Why Nautilus stopped before the end of the data, if it did."""
    if is_backtest_force_stop():
        return (
            "the account balance went negative (AccountBalanceNegative): an order cost more than "
            "the cash, and Nautilus stopped the backtest"
        )
    if engine.kernel.risk_engine.trading_state == TradingState.HALTED:
        return "the risk engine halted trading"
    return None


def _cost_function(fee_model: FeeModel | None) -> Callable[[OrderSide, int, int], int] | None:
    """What an order will cost in cents, as the run's fee model will charge it (for sizing)."""
    estimate = getattr(fee_model, "estimate_cents", None)
    return estimate if callable(estimate) else None


__all__ = [
    "DEFAULT_VENUE",
    "STATUS_COMPLETED",
    "STATUS_HALTED",
    "STATUS_INCONSISTENT",
    "EngineSetup",
    "Fill",
    "OwnedBars",
    "RunResult",
    "bars_to_nautilus",
    "equity_curve",
    "make_equity",
    "round_trips",
    "run_engine",
]
