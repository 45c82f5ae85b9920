"""Commission models against hand-computed figures, and the engine's fills against the same figures."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from nautilus_trader.common.component import TestClock
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import ClientOrderId
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.test_kit.stubs.execution import TestExecStubs

from ntrader.backtest.costs import (
    IBKR_FIXED,
    IBKR_TIERED,
    CommissionFeeModel,
    commission_for,
    parse_commission,
)
from ntrader.backtest.engine import make_equity, run_engine
from ntrader.data import parse_bar_size
from ntrader.data.mock import generate_bars
from ntrader.errors import InputError
from ntrader.strategies import get_strategy


@pytest.mark.parametrize(
    ("spec", "quantity", "price", "expected"),
    [
        # IBKR fixed: 0.005/share, min 1.00, max 1 % of value.
        ("ibkr-fixed", 1000, 50.0, 5.00),
        ("ibkr-fixed", 100, 50.0, 1.00),  # 0.50 → minimum
        ("ibkr-fixed", 200, 50.0, 1.00),  # exactly the minimum
        ("ibkr-fixed", 333, 50.0, 1.67),  # 1.665 rounds half up
        ("ibkr-fixed", 1000, 0.20, 2.00),  # 5.00 capped at 1 % of 200
        ("ibkr-fixed", 1, 50.0, 0.50),  # the cap wins over the minimum
        ("ibkr-fixed", 10_000, 12.34, 50.00),
        # IBKR tiered, first tier: 0.0035/share, min 0.35, max 1 %.
        ("ibkr-tiered", 1000, 100.0, 3.50),
        ("ibkr-tiered", 50, 100.0, 0.35),  # 0.175 → minimum
        ("ibkr-tiered", 1000, 0.10, 1.00),  # 3.50 capped at 1 % of 100
        # Flat rates: no minimum, no maximum.
        ("none", 1000, 50.0, 0.0),
        ("per-share:0.01", 150, 20.0, 1.50),
        ("per-share:0.01", 1, 20.0, 0.01),
        ("per-share:0.002", 1001, 5.0, 2.00),  # 2.002
        ("bps:5", 100, 123.45, 6.17),  # 12 345 × 0.0005 = 6.1725
        ("bps:5", 1, 10.0, 0.01),  # 0.005 rounds half up
        ("bps:0.5", 2000, 100.0, 10.00),
    ],
)
def test_commission_for_hand_computed(spec, quantity, price, expected):
    assert commission_for(quantity, price, spec) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("month_volume", "rate"),
    [
        (0, 0.0035),
        (299_999, 0.0035),  # the order's first share is share 300 000: still tier 1
        (300_000, 0.0020),
        (2_999_999, 0.0020),
        (3_000_000, 0.0015),
        (19_999_999, 0.0015),
        (20_000_000, 0.0010),
        (99_999_999, 0.0010),
        (100_000_000, 0.0005),
        (5_000_000_000, 0.0005),
    ],
)
def test_tiered_rate_by_monthly_volume(month_volume, rate):
    # 10 000 shares at 100: far from the minimum and the 1 % cap, so the rate alone decides.
    assert commission_for(10_000, 100.0, "ibkr-tiered", month_volume=month_volume) == pytest.approx(
        10_000 * rate
    )
    assert IBKR_TIERED.rate_for(month_volume) == Decimal(str(rate))


def test_descriptions():
    assert IBKR_FIXED.describe() == "IBKR fixed: USD 0.005/share, min USD 1.00, max 1% of trade value"
    tiered = IBKR_TIERED.describe()
    assert tiered.startswith("IBKR tiered:")
    for part in ("0.0035", "0.0020", "0.0015", "0.0010", "0.0005", "min USD 0.35", "max 1% of trade value"):
        assert part in tiered
    assert "regulatory fees not modelled" in tiered
    assert parse_commission("none").describe() == "no commission"
    assert parse_commission("bps:5").describe() == "5 bps of trade value, no minimum or maximum"
    assert parse_commission("per-share:0.01").describe() == "USD 0.01/share, no minimum or maximum"


def test_parse_accepts_spellings():
    assert parse_commission(" IBKR-Fixed ") is IBKR_FIXED
    assert parse_commission("ibkr-tiered") is IBKR_TIERED
    assert parse_commission("BPS:2.50").spec == "bps:2.5"
    assert parse_commission("per-share:0.0100").spec == "per-share:0.01"
    assert parse_commission("bps:0").commission_for(100, 10.0) == 0.0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bps:-1", "bps must be a finite number >= 0"),
        ("per-share:-0.01", "per-share must be a finite number >= 0"),
        ("per-share:abc", "per-share needs a number (USD per share), got 'abc'"),
        ("bps:", "bps needs a number"),
        ("bps:nan", "finite"),
        ("per-share:inf", "finite"),
        ("bps:20000", "at most 10000"),
        ("flat", "unknown commission 'flat'; use one of ibkr-fixed, ibkr-tiered, none, per-share:X, bps:X"),
        ("ibkr", "unknown commission"),
        ("", "unknown commission"),
        ("fixed:1", "unknown commission"),
    ],
)
def test_bad_specs_are_input_errors(spec, message):
    with pytest.raises(InputError) as info:
        parse_commission(spec)
    assert message in str(info.value)


# The Nautilus fee model on its own -------------------------------------------------------------------


def _order(client_order_id: str, quantity: int, side: OrderSide = OrderSide.BUY):
    return TestExecStubs.market_order(
        instrument=make_equity("AAPL"),
        order_side=side,
        quantity=Quantity.from_int(quantity),
        client_order_id=ClientOrderId(client_order_id),
    )


def _charge(model: CommissionFeeModel, order, quantity: int, price: float) -> float:
    money = model.get_commission(order, Quantity.from_int(quantity), Price(price, 2), make_equity("AAPL"))
    return money.as_double()


def test_fee_model_charges_an_order_filled_in_parts_as_one_order():
    model = parse_commission("ibkr-fixed").fee_model()
    order = _order("O-1", 150)
    # 150 shares cost 0.75 → minimum 1.00, once: the second part pays nothing.
    assert _charge(model, order, 50, 40.00) == 1.00
    assert _charge(model, order, 100, 40.01) == 0.00
    big = _order("O-2", 1000)
    # 1000 shares: 5.00 in all, however it is split.
    assert _charge(model, big, 100, 40.00) == 1.00
    assert _charge(model, big, 300, 40.00) == 1.00  # 400 shares so far: 2.00
    assert _charge(model, big, 600, 40.01) == 3.00


def test_fee_model_tiers_by_the_month_of_the_fill():
    model = parse_commission("ibkr-tiered").fee_model()
    clock = TestClock()
    model.bind_clock(clock)
    clock.set_time(pd.Timestamp("2024-01-10 15:00", tz="UTC").value)
    assert _charge(model, _order("O-1", 200_000), 200_000, 100.0) == 700.00  # tier 1
    assert _charge(model, _order("O-2", 150_000), 150_000, 100.0) == 525.00  # starts at share 200 001
    assert _charge(model, _order("O-3", 10_000), 10_000, 100.0) == 20.00  # 350 000 done: tier 2
    # A new month starts again at tier 1 (months in New York time: 2024-02-01 00:30 New York).
    clock.set_time(pd.Timestamp("2024-02-01 05:30", tz="UTC").value)
    assert _charge(model, _order("O-4", 10_000), 10_000, 100.0) == 35.00


def test_fee_model_is_fresh_per_call():
    assert IBKR_TIERED.fee_model() is not IBKR_TIERED.fee_model()


# The engine's fills ---------------------------------------------------------------------------------


def run_sma(bars: pd.DataFrame, bar_size: str, commission: str, fill_at: str = "close", capital=100_000.0):
    spec = get_strategy("sma")
    typed = {**spec.defaults(), "fast_period": 10, "slow_period": 20}
    return run_engine(
        bars,
        symbol="AAPL",
        bar_size=parse_bar_size(bar_size),
        strategy_class=spec.strategy_class,
        config_factory=lambda iid, bt: spec.build_config(typed, instrument_id=iid, bar_type=bt),
        capital=capital,
        fee_model=parse_commission(commission).fee_model(),
        fill_at=fill_at,
    )


@pytest.mark.parametrize(
    ("bar_size", "start", "end", "commission", "fill_at"),
    [
        ("1-DAY", "2021-01-01", "2023-12-31", "ibkr-fixed", "close"),
        ("1-DAY", "2021-01-01", "2023-12-31", "ibkr-fixed", "next-open"),
        ("1-MINUTE", "2024-03-04", "2024-03-06", "ibkr-fixed", "close"),
        ("1-DAY", "2021-01-01", "2023-12-31", "ibkr-tiered", "close"),
        ("1-DAY", "2021-01-01", "2023-12-31", "bps:5", "next-open"),
        ("1-MINUTE", "2024-03-04", "2024-03-06", "per-share:0.01", "next-open"),
    ],
)
def test_every_fill_carries_exactly_commission_for(bar_size, start, end, commission, fill_at):
    bars = generate_bars("AAPL", start, end, bar_size)
    result = run_sma(bars, bar_size, commission, fill_at)
    assert len(result.fills) >= 10
    assert result.split_fills == 0  # mock volumes dwarf the orders
    for fill in result.fills:
        assert fill.commission == commission_for(fill.quantity, fill.price, commission)
    assert result.trades["commission"].sum() == pytest.approx(sum(f.commission for f in result.fills))


def test_engine_tiers_follow_the_months_volume():
    # Cheap shares and a big account: about a million shares an order, so the month's second order
    # is already in tier 2 (volumes are huge, so no order is split).
    bars = generate_bars("AAPL", "2022-01-01", "2023-12-31")
    prices = ["open", "high", "low", "close"]
    bars[prices] = (bars[prices] / 100).round(2)
    bars["volume"] = 1e12
    result = run_sma(bars, "1-DAY", "ibkr-tiered", capital=10_000_000.0)
    fills = pd.DataFrame([f.__dict__ for f in result.fills])
    month = fills["timestamp"].dt.tz_convert("America/New_York").dt.strftime("%Y-%m")
    before = fills.groupby(month)["quantity"].cumsum() - fills["quantity"]
    assert (before >= 300_000).any() and (before == 0).any()
    expected = [
        commission_for(q, p, "ibkr-tiered", month_volume=v)
        for q, p, v in zip(fills["quantity"], fills["price"], before, strict=True)
    ]
    assert fills["commission"].tolist() == expected


@pytest.mark.parametrize(("fill_at", "volume"), [("close", 200.0), ("next-open", 50.0)])
def test_an_order_split_by_thin_volume_pays_the_minimum_once(fill_at, volume):
    # ~100-share orders (0.50 at 0.005/share, so the minimum applies) against bars too thin to fill
    # them at one price: bar execution offers volume / 4 per price point, a next-open tick its volume.
    bars = generate_bars("AAPL", "2022-01-01", "2022-12-31").assign(volume=volume)
    result = run_sma(bars, "1-DAY", "ibkr-fixed", fill_at)
    assert result.split_fills == result.orders >= 5
    by_order = pd.DataFrame([f.__dict__ for f in result.fills]).groupby(["timestamp", "side"])
    for _, parts in by_order:
        assert len(parts) == 2
        assert parts["commission"].tolist() == [1.00, 0.00]
        vwap = (parts["quantity"] * parts["price"]).sum() / parts["quantity"].sum()
        assert commission_for(parts["quantity"].sum(), vwap) == 1.00
