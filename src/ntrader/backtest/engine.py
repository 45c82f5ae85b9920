"""Runs one strategy on one bar frame in a Nautilus `BacktestEngine` and collects the result."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.backtest.models import FeeModel
from nautilus_trader.common.component import is_backtest_force_stop
from nautilus_trader.config import BacktestEngineConfig, LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, OrderStatus, TradingState
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId, Symbol, TraderId, Venue
from nautilus_trader.model.instruments import Equity, Instrument
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.persistence.wranglers import BarDataWrangler
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
from ntrader.data.bars import BAR_COLUMNS, BarSize
from ntrader.errors import InputError
from ntrader.metrics.trades import TRADE_COLUMNS
from ntrader.strategies.base import ExecutionRules

#: Run statuses: a run either processed every bar and passed the equity check, or it did not.
STATUS_COMPLETED = "completed"
STATUS_HALTED = "halted"
STATUS_INCONSISTENT = "inconsistent"
# The last equity point may differ from the account's own figure by float rounding only.
_EQUITY_TOLERANCE = 0.01

DEFAULT_VENUE = "NASDAQ"

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


@dataclass(frozen=True)
class Fill:
    timestamp: pd.Timestamp
    side: str
    quantity: float
    price: float
    commission: float


@dataclass
class RunResult:
    """What a backtest produced: fills, round-trip trades, mark-to-market equity per bar."""

    instrument_id: str
    bar_type: str
    capital: float
    fills: list[Fill]
    trades: pd.DataFrame
    equity: pd.Series
    final_balance: float
    final_equity: float
    bars: int
    orders: int
    split_fills: int
    engine_version: str
    extra: dict[str, Any] = field(default_factory=dict)
    status: str = STATUS_COMPLETED
    #: Why the run did not complete, and the time the engine stopped (None when completed).
    halt_reason: str | None = None
    halted_at: pd.Timestamp | None = None
    #: Orders the risk engine denied / the venue rejected; decisions never filled at the end.
    orders_denied: int = 0
    orders_rejected: int = 0
    unfilled_at_end: int = 0
    skipped_on_last_bar: int = 0

    @property
    def completed(self) -> bool:
        return self.status == STATUS_COMPLETED

    def order_summary(self) -> dict[str, Any]:
        """What the run's settings record about its orders and how it ended."""
        summary: dict[str, Any] = {
            "orders": self.orders,
            "split_fills": self.split_fills,
            "orders_denied": self.orders_denied,
            "orders_rejected": self.orders_rejected,
            "unfilled_at_end": self.unfilled_at_end,
            "skipped_on_last_bar": self.skipped_on_last_bar,
            "final_balance": self.final_balance,
        }
        if not self.completed:
            summary["halt"] = {
                "reason": self.halt_reason,
                "at": None if self.halted_at is None else self.halted_at.isoformat(),
            }
        return summary

    @property
    def total_return(self) -> float:
        return self.final_equity / self.capital - 1.0

    def __repr__(self) -> str:
        return (
            f"RunResult({self.instrument_id}, bars={self.bars}, trades={len(self.trades)}, "
            f"final_equity={self.final_equity:,.2f}, return={self.total_return:+.2%})"
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
    data = frame[["open", "high", "low", "close", "volume"]].copy()
    data.index = bar_size.close_times(pd.DatetimeIndex(frame.index)) - pd.Timedelta(lead_ns, unit="ns")
    data.index.name = "timestamp"
    return BarDataWrangler(bar_type, instrument).process(data)


def run_engine(
    bars: pd.DataFrame,
    *,
    symbol: str,
    bar_size: BarSize,
    strategy_class: type[Strategy],
    config_factory: Callable[[InstrumentId, BarType], StrategyConfig],
    capital: float,
    venue: str = DEFAULT_VENUE,
    fee_model: FeeModel | None = None,
    verbose: bool = False,
    extra_data: Callable[[Instrument], list[Any]] | None = None,
    venue_options: dict[str, Any] | None = None,
    fill_at: str = "close",
    liquidity: str = LIQUIDITY_BAR_VOLUME,
) -> RunResult:
    """Run `strategy_class` over `bars` and return fills, trades and the per-bar equity curve.

    `fill_at`: "close" (market orders fill at the signal bar's close) or "next-open".
    `liquidity`: "bar-volume" (Nautilus's bar execution: a quarter of a bar's volume at the close,
    the opening tick's volume at the open, the rest one tick worse) or "unlimited".

    A run the engine stopped early (an order overdrew the account, the risk engine halted trading,
    the strategy raised) comes back with status "halted", its reason and time, and its equity cut
    at that time; a run whose last equity point disagrees with the account is "inconsistent".
    """
    fill_at = parse_fill_at(fill_at)
    liquidity = parse_liquidity(liquidity)
    if bars.empty:
        raise InputError("no bars to backtest")
    # Own, writable float64 columns: Nautilus's wranglers reject read-only buffers, which is what
    # Arrow-backed frames (CSV reads, Ray's object store) hand out.
    bars = pd.DataFrame(
        {column: np.array(bars[column], dtype="float64") for column in BAR_COLUMNS}, index=bars.index
    )
    if capital <= 0:
        raise InputError(f"capital must be greater than 0, got {capital}")
    import nautilus_trader

    # The engine sees unlimited liquidity as bars whose volume no order can exhaust; the stored
    # bars (and every report) keep their real volume.
    engine_bars = bars if liquidity == LIQUIDITY_BAR_VOLUME else bars.assign(volume=UNLIMITED_VOLUME)
    instrument = make_equity(symbol, venue)
    bar_type = BarType.from_str(f"{instrument.id}-{bar_size.nautilus_spec}-EXTERNAL")
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId("NTRADER-001"),
            logging=_logging_config(verbose),
            run_analysis=False,
        )
    )
    config = config_factory(instrument.id, bar_type)
    # A cash account cannot sell short; strategies that may go short get a margin account at 1x.
    short_selling = bool(getattr(config, "allow_short", False))
    halt_reason: str | None = None
    try:
        engine.add_venue(
            venue=Venue(venue),
            oms_type=OmsType.NETTING,
            account_type=AccountType.MARGIN if short_selling else AccountType.CASH,
            default_leverage=Decimal(1) if short_selling else None,
            base_currency=USD,
            starting_balances=[Money(capital, USD)],
            fee_model=fee_model,
            **{**fill_venue_options(fill_at), **(venue_options or {})},
        )
        bind_clock = getattr(fee_model, "bind_clock", None)
        if bind_clock is not None:
            # Monthly-volume commission tiers need the fill time, which Nautilus does not pass.
            bind_clock(engine.kernel.clock)
        engine.add_instrument(instrument)
        nautilus_bars = bars_to_nautilus(engine_bars, bar_type, instrument, bar_size, bar_lead_ns(fill_at))
        engine.add_data(nautilus_bars)
        if fill_at == FILL_NEXT_OPEN:
            engine.add_data(open_ticks(engine_bars, bar_size, instrument))
        if extra_data is not None:
            engine.add_data(extra_data(instrument))
        strategy = strategy_class(config)
        if hasattr(strategy, "execution"):
            strategy.execution = ExecutionRules(
                next_open=fill_at == FILL_NEXT_OPEN,
                unlimited_liquidity=liquidity != LIQUIDITY_BAR_VOLUME,
                last_bar_ns=nautilus_bars[-1].ts_event,
                costs=_cost_function(fee_model),
            )
        engine.add_strategy(strategy)
        try:
            engine.run()
        except Exception as exc:  # a strategy that raises stops the run: record it, never hide it
            halt_reason = f"the strategy raised {type(exc).__name__}: {exc}"
        stopped_ns = engine.kernel.clock.timestamp_ns()
        halt_reason = halt_reason or _engine_halt_reason(engine)
        fills = _collect_fills(engine)
        account = engine.portfolio.account(Venue(venue))
        final_balance = account.balance_total(USD).as_double() if account else capital
        orders = engine.cache.orders()
        denied = sum(1 for o in orders if o.status == OrderStatus.DENIED)
        rejected = sum(1 for o in orders if o.status == OrderStatus.REJECTED)
        still_open = sum(1 for o in orders if o.is_open or o.status == OrderStatus.INITIALIZED)
        net_position = float(engine.portfolio.net_position(instrument.id)) if account else 0.0
        unrealized = engine.portfolio.unrealized_pnl(instrument.id)
        skipped = int(getattr(strategy, "skipped_on_last_bar", 0))
        unfilled = int(getattr(strategy, "unfilled_at_end", 0)) + still_open
    finally:
        engine.dispose()
    halted_at = pd.Timestamp(stopped_ns, unit="ns", tz="UTC") if halt_reason else None
    if halted_at is not None:
        # Metrics cover what happened: bars that closed before the engine stopped, and their fills.
        keep = bar_size.close_times(pd.DatetimeIndex(bars.index)) < halted_at
        bars = bars[keep] if keep.any() else bars.iloc[:1]
        fills = [f for f in fills if f.timestamp < halted_at]
    equity = equity_curve(bars, bar_size, fills, capital, fills_at_open=fill_at == FILL_NEXT_OPEN)
    last_close = float(bars["close"].iloc[-1])
    trades = round_trips(fills, last_price=last_close)
    status = STATUS_HALTED if halt_reason else STATUS_COMPLETED
    if status == STATUS_COMPLETED:
        if short_selling:
            account_equity = final_balance + (unrealized.as_double() if unrealized is not None else 0.0)
        else:
            account_equity = final_balance + net_position * last_close
        if not math.isclose(float(equity.iloc[-1]), account_equity, rel_tol=1e-9, abs_tol=_EQUITY_TOLERANCE):
            status = STATUS_INCONSISTENT
            halt_reason = (
                f"last equity {float(equity.iloc[-1]):,.2f} differs from the account's balance plus the "
                f"open position at the last close ({account_equity:,.2f})"
            )
    return RunResult(
        instrument_id=str(instrument.id),
        bar_type=str(bar_type),
        capital=capital,
        fills=fills,
        trades=trades,
        equity=equity,
        final_balance=final_balance,
        final_equity=float(equity.iloc[-1]),
        bars=len(bars),
        orders=len(orders),
        split_fills=_count_split_orders(fills),
        engine_version=f"nautilus_trader {nautilus_trader.__version__}",
        status=status,
        halt_reason=halt_reason,
        halted_at=halted_at,
        orders_denied=denied,
        orders_rejected=rejected,
        unfilled_at_end=unfilled,
        skipped_on_last_bar=skipped,
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


def _collect_fills(engine: BacktestEngine) -> list[Fill]:
    fills: list[Fill] = []
    for order in engine.cache.orders():
        for event in order.events:
            if isinstance(event, OrderFilled):
                fills.append(
                    Fill(
                        timestamp=pd.Timestamp(event.ts_event, unit="ns", tz="UTC"),
                        side="BUY" if event.order_side == OrderSide.BUY else "SELL",
                        quantity=event.last_qty.as_double(),
                        price=event.last_px.as_double(),
                        commission=event.commission.as_double(),
                    )
                )
    fills.sort(key=lambda f: f.timestamp)
    return fills


def _count_split_orders(fills: list[Fill]) -> int:
    """Orders filled in more than one part (volume too thin for the order at one price)."""
    stamps = pd.Series([(f.timestamp, f.side) for f in fills])
    return int(stamps.duplicated().sum()) if len(stamps) else 0


def equity_curve(
    bars: pd.DataFrame, bar_size: BarSize, fills: list[Fill], capital: float, *, fills_at_open: bool = False
) -> pd.Series:
    """Cash plus position marked at each bar's close, stamped at the bar's close time.

    Built from the fills in bulk: fills at a bar's close belong to that bar. With `fills_at_open`
    a fill belongs to the bar it opens: the first bar closing strictly after it, since an intraday
    bar opens at the instant the previous one closes.
    """
    closes_at = bar_size.close_times(pd.DatetimeIndex(bars.index))
    close = bars["close"].to_numpy(dtype="float64")
    cash = np.full(len(bars), capital, dtype="float64")
    position = np.zeros(len(bars), dtype="float64")
    if fills:
        fill_ts = _nanos(pd.DatetimeIndex([f.timestamp for f in fills]))
        signed = np.array([f.quantity if f.side == "BUY" else -f.quantity for f in fills])
        cash_delta = np.array([-q * f.price - f.commission for q, f in zip(signed, fills, strict=True)])
        # Index of the bar each fill belongs to: the first bar closing at or after the fill.
        slot = np.searchsorted(_nanos(closes_at), fill_ts, side="right" if fills_at_open else "left")
        slot = np.clip(slot, 0, len(bars) - 1)
        cash += np.cumsum(np.bincount(slot, weights=cash_delta, minlength=len(bars)))
        position = np.cumsum(np.bincount(slot, weights=signed, minlength=len(bars)))
    series = pd.Series(cash + position * close, index=closes_at, name="equity")
    series.index.name = "timestamp"
    return series


def _nanos(index: pd.DatetimeIndex) -> np.ndarray:
    return index.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]").view("int64")


def round_trips(fills: list[Fill], last_price: float | None = None) -> pd.DataFrame:
    """Pair fills into trades (flat → position → flat), net of both sides' commissions.

    A position still open at the end is one trade with no exit, its pnl marked at `last_price`.
    """
    rows: list[dict[str, Any]] = []
    position = 0.0
    current: dict[str, Any] | None = None
    for fill in fills:
        signed = fill.quantity if fill.side == "BUY" else -fill.quantity
        remaining = signed
        commission_left = fill.commission
        while not math.isclose(remaining, 0.0, abs_tol=1e-9):
            if current is None or math.isclose(position, 0.0, abs_tol=1e-9):
                current = {
                    "side": "LONG" if remaining > 0 else "SHORT",
                    "quantity": 0.0,
                    "entry_cost": 0.0,
                    "entry_time": fill.timestamp,
                    "exit_qty": 0.0,
                    "exit_value": 0.0,
                    "exit_time": None,
                    "commission": 0.0,
                }
                position = 0.0
            opening = (position >= 0 and remaining > 0) or (position <= 0 and remaining < 0)
            if opening:
                qty = abs(remaining)
                current["quantity"] += qty
                current["entry_cost"] += qty * fill.price
                current["commission"] += commission_left
                commission_left = 0.0
                position += remaining
                remaining = 0.0
            else:
                qty = min(abs(remaining), abs(position))
                share = qty / abs(remaining)
                current["exit_qty"] += qty
                current["exit_value"] += qty * fill.price
                current["exit_time"] = fill.timestamp
                current["commission"] += commission_left * share
                commission_left -= commission_left * share
                step = qty if remaining > 0 else -qty
                position += step
                remaining -= step
                if math.isclose(position, 0.0, abs_tol=1e-9):
                    rows.append(_close_trade(current))
                    current = None
    if current is not None and current["quantity"] > 0:
        rows.append(_close_trade(current, open_=True, last_price=last_price))
    return pd.DataFrame(rows, columns=list(TRADE_COLUMNS))


def _close_trade(
    trade: dict[str, Any], open_: bool = False, last_price: float | None = None
) -> dict[str, Any]:
    qty = trade["quantity"]
    entry_price = trade["entry_cost"] / qty
    direction = 1.0 if trade["side"] == "LONG" else -1.0
    if open_:
        mark = entry_price if last_price is None else last_price
        gross = direction * (mark - entry_price) * qty
        exit_price = None
    else:
        exit_price = trade["exit_value"] / trade["exit_qty"]
        gross = direction * (trade["exit_value"] - trade["exit_qty"] * entry_price)
    return {
        "side": trade["side"],
        "quantity": qty,
        "entry_time": trade["entry_time"],
        "entry_price": entry_price,
        "exit_time": None if open_ else trade["exit_time"],
        "exit_price": exit_price,
        "pnl": gross - trade["commission"],
        "commission": trade["commission"],
    }
