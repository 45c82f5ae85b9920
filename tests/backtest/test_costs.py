"""Commission models against hand-computed figures, and the engine's fills against the same figures."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from nautilus_trader.common.component import TestClock
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import ClientOrderId
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.test_kit.stubs.execution import TestExecStubs

from ntrader.backtest.costs import (
    COST_GROUPS,
    IBKR_FIXED,
    IBKR_TIERED,
    RATES_AS_OF,
    CommissionFeeModel,
    commission_for,
    cost_breakdown,
    cost_table,
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
        # IBKR fixed, the commission alone: 0.005/share, min 1.00, max 1 % of value.
        ("ibkr-fixed:no-reg-fees", 1000, 50.0, 5.00),
        ("ibkr-fixed:no-reg-fees", 100, 50.0, 1.00),  # 0.50 → minimum
        ("ibkr-fixed:no-reg-fees", 200, 50.0, 1.00),  # exactly the minimum
        ("ibkr-fixed:no-reg-fees", 333, 50.0, 1.67),  # 1.665 rounds half up
        ("ibkr-fixed:no-reg-fees", 1000, 0.20, 2.00),  # 5.00 capped at 1 % of 200
        ("ibkr-fixed:no-reg-fees", 1, 50.0, 0.50),  # the cap wins over the minimum
        ("ibkr-fixed:no-reg-fees", 10_000, 12.34, 50.00),
        # IBKR tiered, the commission alone, first tier: 0.0035/share, min 0.35, max 1 %.
        ("ibkr-tiered:commission-only", 1000, 100.0, 3.50),
        ("ibkr-tiered:commission-only", 50, 100.0, 0.35),  # 0.175 → minimum
        ("ibkr-tiered:commission-only", 1000, 0.10, 1.00),  # 3.50 capped at 1 % of 100
        # The full stacks on a buy (no sale-only fees). Fixed: + CAT 0.0000265/share.
        ("ibkr-fixed", 1000, 50.0, 5.03),  # 5.00 + CAT 0.0265 → 0.03
        ("ibkr-fixed", 100, 50.0, 1.00),  # CAT 0.00265 rounds to 0.00
        # Tiered: 3.50 + exchange 3.00 + clearing 0.20 + NYSE 0.0006125 → 0.00 + FINRA 0.00196 → 0.00
        # + CAT 0.0265 → 0.03.
        ("ibkr-tiered", 1000, 100.0, 6.73),
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
    ("quantity", "price", "commission_only", "buy", "sell"),
    [
        # IBKR's fixed-pricing examples (US stocks): the minimum, the rate, the 1 % cap.
        (100, 25.0, 1.00, 1.00, 1.00 + 0.07 + 0.02),  # SEC 2500 × 0.0000278 = 0.0695, TAF 0.0166
        (1_000, 25.0, 5.00, 5.00 + 0.03, 5.00 + 0.70 + 0.17 + 0.03),  # SEC 0.695, TAF 0.166, CAT 0.0265
        (1_000, 0.25, 2.50, 2.50 + 0.03, 2.50 + 0.01 + 0.17 + 0.03),  # SEC 0.00695, TAF 0.166
        # TAF at its maximum: 100 000 × 0.000166 = 16.60 → 8.30; SEC 1 000 000 × 0.0000278 = 27.80,
        # CAT 2.65.
        (100_000, 10.0, 500.00, 500.00 + 2.65, 500.00 + 27.80 + 8.30 + 2.65),
    ],
)
def test_ibkr_fixed_examples_and_sale_side_fees_by_hand(quantity, price, commission_only, buy, sell):
    assert commission_for(quantity, price, "ibkr-fixed:no-reg-fees") == pytest.approx(
        commission_only, abs=1e-9
    )
    assert commission_for(quantity, price, "ibkr-fixed", side="BUY") == pytest.approx(buy, abs=1e-9)
    assert commission_for(quantity, price, "ibkr-fixed", side="SELL") == pytest.approx(sell, abs=1e-9)


def test_the_30_million_share_order_pays_the_tiers_marginally():
    # 300k × 0.0035 + 2.7M × 0.002 + 17M × 0.0015 + 10M × 0.001, not 30M × 0.0035 = 105 000.
    expected = 300_000 * 0.0035 + 2_700_000 * 0.002 + 17_000_000 * 0.0015 + 10_000_000 * 0.001
    assert expected == pytest.approx(41_950)
    assert IBKR_TIERED.order_commission(Decimal(30_000_000), Decimal(150_000_000)) == Decimal("41950.00")
    assert commission_for(30_000_000, 5.0, "ibkr-tiered:commission-only") == 41_950.00


@pytest.mark.parametrize(
    ("example", "quantity", "tiered", "fixed"),
    [
        # IBKR's "Stock and ETF Fixed vs. Tiered Pricing Comparison Examples" (sell @ USD 5, remove
        # liquidity), at the rates that page used: SEC 0.000008 × value, TAF capped at 7.27, no CAT.
        # Tiered 41 950 + NYSE 90 000 + clearing 6 000 + SEC 1 200 + FINRA 23.49 + NYSE pass 7.34 + TAF 7.27.
        ("30M NYSE remove", 30_000_000, 139_188.10, 151_207.27),
        # 700 + exchange 600 + clearing 40 + SEC 8 + FINRA 0.39 + NYSE pass 0.12 + TAF 7.27.
        ("200k remove", 200_000, 1_355.78, 1_015.27),
    ],
)
def test_ibkr_comparison_examples(example, quantity, tiered, fixed):
    page_rates = "sec=0.000008,taf-max=7.27,cat=0"
    assert commission_for(quantity, 5.0, f"ibkr-tiered:{page_rates}", side="SELL") == pytest.approx(tiered)
    assert commission_for(quantity, 5.0, f"ibkr-fixed:{page_rates}", side="SELL") == pytest.approx(fixed)


@pytest.mark.parametrize(
    ("month_volume", "quantity", "expected"),
    [
        (0, 10_000, 35.00),
        (290_000, 10_000, 35.00),  # shares 290 001 … 300 000: all tier 1
        (299_999, 10_000, 20.00),  # 1 × 0.0035 + 9 999 × 0.002 = 20.0015
        (295_000, 10_000, 27.50),  # 5 000 × 0.0035 + 5 000 × 0.002
        (2_999_000, 10_000, 15.50),  # 1 000 × 0.002 + 9 000 × 0.0015
        (99_995_000, 10_000, 7.50),  # 5 000 × 0.001 + 5 000 × 0.0005
        (5_000_000_000, 10_000, 5.00),
    ],
)
def test_tiers_are_marginal_across_the_month(month_volume, quantity, expected):
    # 10 000 shares at 100: far from the minimum and the 1 % cap.
    got = commission_for(quantity, 100.0, "ibkr-tiered:commission-only", month_volume=month_volume)
    assert got == pytest.approx(expected, abs=1e-9)


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
    # One share, the rate of the month's next share (times 1 000 000 to stay above the minimum).
    got = commission_for(1, 1e6, "ibkr-tiered:commission-only", month_volume=month_volume)
    assert got == pytest.approx(max(rate, 0.35), abs=1e-9)
    assert IBKR_TIERED.rate_for(month_volume) == Decimal(str(rate))


def test_descriptions():
    assert parse_commission("ibkr-fixed:no-reg-fees").describe() == (
        "IBKR fixed: USD 0.005/share, min USD 1.00, max 1% of trade value; "
        "no exchange, clearing or regulatory fees"
    )
    fixed = IBKR_FIXED.describe()
    assert fixed.startswith("IBKR fixed: USD 0.005/share, min USD 1.00, max 1% of trade value; + ")
    for part in (
        "SEC fee (Section 31) 0.0000278 × value of sales",
        "FINRA TAF USD 0.000166/share sold",
        "max USD 8.30/order",
        "FINRA CAT fee USD 0.0000265/share",
        f"rates as of {RATES_AS_OF}",
    ):
        assert part in fixed
    assert "exchange" not in fixed
    tiered = IBKR_TIERED.describe()
    assert tiered.startswith("IBKR tiered:")
    for part in (
        "0.0035",
        "0.0020",
        "0.0015",
        "0.0010",
        "0.0005",
        "marginally",
        "min USD 0.35",
        "max 1% of trade value",
        "exchange fee (remove liquidity) USD 0.003/share",
        "clearing (NSCC, DTC) USD 0.0002/share",
        "NYSE pass-through 0.000175 × commission",
        "FINRA pass-through 0.00056 × commission",
        "SEC fee",
        "FINRA TAF",
        "FINRA CAT",
    ):
        assert part in tiered
    assert parse_commission("none").describe() == "no commission"
    assert parse_commission("bps:5").describe() == "5 bps of trade value, no minimum or maximum"
    assert parse_commission("per-share:0.01").describe() == "USD 0.01/share, no minimum or maximum"


def test_cost_table_names_every_line_with_its_source_and_date():
    rows = cost_table()
    lines = {(r["plan"], r["line"]) for r in rows}
    for line in ("IBKR commission", "SEC fee (Section 31)", "FINRA TAF", "FINRA CAT fee"):
        assert ("ibkr-fixed", line) in lines and ("ibkr-tiered", line) in lines
    for line in (
        "exchange fee (remove liquidity)",
        "clearing (NSCC, DTC)",
        "NYSE pass-through",
        "FINRA pass-through",
    ):
        assert ("ibkr-tiered", line) in lines and ("ibkr-fixed", line) not in lines
    assert all(r["source"].startswith("https://") and r["as_of"] == RATES_AS_OF for r in rows)
    assert {r["line"] for r in rows if r["side"] == "sales"} == {"SEC fee (Section 31)", "FINRA TAF"}


def test_modifiers_and_overrides():
    no_reg = parse_commission("ibkr-tiered:no-reg-fees")
    assert no_reg.spec == "ibkr-tiered:no-reg-fees"
    assert {f.group for f in no_reg.fees} == {"exchange", "clearing", "pass_through"}
    assert parse_commission("ibkr-tiered:commission-only").fees == ()
    custom = parse_commission("IBKR-Tiered: exchange=0.001 , no-reg-fees")
    assert custom.spec == "ibkr-tiered:no-reg-fees,exchange=0.001"
    assert parse_commission(custom.spec) == custom  # the stored spec round-trips (sweep workers)
    # 1000 @ 100: 3.50 + exchange 1.00 + clearing 0.20 (pass-through rounds to 0).
    assert custom.commission_for(1000, 100.0, side="SELL") == pytest.approx(4.70)
    assert parse_commission("ibkr-fixed:sec=0,taf=0,cat=0").commission_for(1000, 25.0, side="SELL") == 5.00
    assert IBKR_FIXED.with_rates(sec="0").spec == "ibkr-fixed:sec=0"


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
        ("flat", "unknown commission 'flat'; use one of ibkr-fixed, ibkr-tiered, ibkr-fixed:no-reg-fees"),
        ("ibkr-fixed:cheap", "unknown modifier 'cheap'"),
        ("ibkr-fixed:exchange=0.001", "has no 'exchange' fee line"),
        ("ibkr-tiered:bogus=1", "unknown fee line 'bogus'"),
        ("ibkr-tiered:sec=-1", "must be a finite number >= 0"),
        ("ibkr-tiered:taf-max=1.234", "whole cents"),
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
    model = parse_commission("ibkr-fixed:no-reg-fees").fee_model()
    order = _order("O-1", 150)
    # 150 shares cost 0.75 → minimum 1.00, once: the second part pays nothing.
    assert _charge(model, order, 50, 40.00) == 1.00
    assert _charge(model, order, 100, 40.01) == 0.00
    big = _order("O-2", 1000)
    # 1000 shares: 5.00 in all, however it is split.
    assert _charge(model, big, 100, 40.00) == 1.00
    assert _charge(model, big, 300, 40.00) == 1.00  # 400 shares so far: 2.00
    assert _charge(model, big, 600, 40.01) == 3.00
    # A sale in parts with the full stack: the parts add up to the whole order's figure.
    full = parse_commission("ibkr-fixed").fee_model()
    sale = _order("O-3", 100_000, OrderSide.SELL)
    parts = [_charge(full, sale, q, 10.00) for q in (10_000, 40_000, 50_000)]
    assert sum(parts) == pytest.approx(500.00 + 27.80 + 8.30 + 2.65)


def test_fee_model_tiers_by_the_month_of_the_fill():
    model = parse_commission("ibkr-tiered:commission-only").fee_model()
    clock = TestClock()
    model.bind_clock(clock)
    clock.set_time(pd.Timestamp("2024-01-10 15:00", tz="UTC").value)
    assert _charge(model, _order("O-1", 200_000), 200_000, 100.0) == 700.00  # tier 1
    # Shares 200 001 … 350 000: 100 000 at 0.0035 and 50 000 at 0.002 (marginal, not 525.00).
    assert _charge(model, _order("O-2", 150_000), 150_000, 100.0) == 450.00
    assert _charge(model, _order("O-3", 10_000), 10_000, 100.0) == 20.00  # 350 000 done: tier 2
    # A new month starts again at tier 1 (months in New York time: 2024-02-01 00:30 New York).
    clock.set_time(pd.Timestamp("2024-02-01 05:30", tz="UTC").value)
    assert _charge(model, _order("O-4", 10_000), 10_000, 100.0) == 35.00


def test_fee_model_is_fresh_per_call():
    assert IBKR_TIERED.fee_model() is not IBKR_TIERED.fee_model()


# The engine's fills ---------------------------------------------------------------------------------


def at_price(bars: pd.DataFrame, level: float) -> pd.DataFrame:
    """The bars scaled so that the first close is `level` (on the cent grid), whatever the mock's level."""
    prices = ["open", "high", "low", "close"]
    out = bars.copy()
    out[prices] = (out[prices] * (level / float(out["close"].iloc[0]))).round(2)
    return out


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
        assert fill.commission == commission_for(fill.quantity, fill.price, commission, side=fill.side)
    total = sum(f.commission for f in result.fills)
    assert result.trades["commission"].sum() == pytest.approx(total)
    breakdown = cost_breakdown(result.fills, commission)
    assert breakdown["total"] == pytest.approx(total, abs=1e-9)
    assert sum(breakdown[g] for g in COST_GROUPS) == pytest.approx(total, abs=1e-9)


def test_engine_tiers_follow_the_months_volume():
    # Cheap shares and a big account: about a million shares an order, so the month's second order
    # is already in tier 2 (volumes are huge, so no order is split).
    bars = at_price(generate_bars("AAPL", "2022-01-01", "2023-12-31"), 1.50)
    bars["volume"] = 1e12
    result = run_sma(bars, "1-DAY", "ibkr-tiered", capital=10_000_000.0)
    fills = pd.DataFrame([f.__dict__ for f in result.fills])
    month = fills["timestamp"].dt.tz_convert("America/New_York").dt.strftime("%Y-%m")
    before = fills.groupby(month)["quantity"].cumsum() - fills["quantity"]
    assert (before >= 300_000).any() and (before == 0).any()
    expected = [
        commission_for(q, p, "ibkr-tiered", month_volume=v, side=s)
        for q, p, v, s in zip(fills["quantity"], fills["price"], before, fills["side"], strict=True)
    ]
    # In cents: Money.as_double() of a large amount may read 248186.62000000002.
    assert [round(c * 100) for c in fills["commission"]] == [round(c * 100) for c in expected]


@pytest.mark.parametrize(("fill_at", "volume"), [("close", 200.0), ("next-open", 50.0)])
def test_an_order_split_by_thin_volume_pays_the_minimum_once(fill_at, volume):
    # ~100-share orders (0.50 at 0.005/share, so the minimum applies) against bars too thin to fill
    # them at one price: bar execution offers volume / 4 per price point, a next-open tick its volume.
    bars = at_price(generate_bars("AAPL", "2022-01-01", "2022-12-31"), 1000.0).assign(volume=volume)
    result = run_sma(bars, "1-DAY", "ibkr-fixed:no-reg-fees", fill_at)
    assert result.split_fills == result.orders >= 5
    by_order = pd.DataFrame([f.__dict__ for f in result.fills]).groupby(["timestamp", "side"])
    for _, parts in by_order:
        assert len(parts) == 2
        assert parts["commission"].tolist() == [1.00, 0.00]
        vwap = (parts["quantity"] * parts["price"]).sum() / parts["quantity"].sum()
        assert commission_for(parts["quantity"].sum(), vwap) == 1.00


def _fixed_commission_by_hand(quantity: float, price: float) -> float:
    """IBKR fixed, the commission alone, as the page states it: 0.005/share, min 1.00, max 1 %."""
    cents = max(0.5 * quantity, 100.0)  # in cents
    cents = min(cents, quantity * price)  # 1 % of the value in USD is value in cents
    return math.floor(cents + 0.5 + 1e-9) / 100


def test_no_reg_fees_is_the_old_figure_and_the_full_stack_adds_the_sale_fees():
    bars = generate_bars("AAPL", "2021-01-01", "2023-12-31")
    old = run_sma(bars, "1-DAY", "ibkr-fixed:no-reg-fees")
    assert len(old.fills) >= 10
    assert [f.commission for f in old.fills] == [
        _fixed_commission_by_hand(f.quantity, f.price) for f in old.fills
    ]
    full = run_sma(bars, "1-DAY", "ibkr-fixed")
    assert len(full.fills) == len(old.fills)
    commission = 0.0
    for fill in full.fills:
        q, value = round(fill.quantity), round(fill.quantity) * fill.price
        cat = math.floor(q * 0.00265 + 0.5) / 100
        sale = 0.0
        if fill.side == "SELL":
            sale = math.floor(value * 0.00278 + 0.5) / 100 + min(math.floor(q * 0.0166 + 0.5) / 100, 8.30)
        commission += _fixed_commission_by_hand(q, fill.price)
        assert fill.commission == pytest.approx(
            _fixed_commission_by_hand(q, fill.price) + cat + sale, abs=1e-9
        )
    costs = cost_breakdown(full.fills, "ibkr-fixed")
    assert costs["commission"] == pytest.approx(commission, abs=1e-9)
    assert costs["regulatory"] > 0 and costs["exchange"] == costs["clearing"] == costs["pass_through"] == 0
    assert costs["total"] == pytest.approx(sum(f.commission for f in full.fills), abs=1e-9)


def test_market_orders_cost_more_on_tiered_than_on_fixed():
    # ~1 000-share market orders (first close USD 100): tiered pays 0.0035 + exchange 0.003 +
    # clearing 0.0002 a share against fixed's all-in 0.005; only the bare tiered commission (the
    # old model) looked cheaper.
    bars = at_price(generate_bars("AAPL", "2021-01-01", "2023-12-31"), 100.0)
    fixed_run = run_sma(bars, "1-DAY", "ibkr-fixed")
    assert min(f.quantity for f in fixed_run.fills) >= 500
    fixed = cost_breakdown(fixed_run.fills, "ibkr-fixed")
    tiered_run = run_sma(bars, "1-DAY", "ibkr-tiered")
    tiered = cost_breakdown(tiered_run.fills, "ibkr-tiered")
    bare = cost_breakdown(tiered_run.fills, "ibkr-tiered:commission-only")
    assert tiered["total"] == pytest.approx(sum(f.commission for f in tiered_run.fills), abs=1e-9)
    assert bare["total"] < fixed["total"] < tiered["total"]
    assert tiered["exchange"] > 0 and tiered["clearing"] > 0 and tiered["regulatory"] > 0
    assert tiered["total"] > 1.2 * fixed["total"]


@pytest.mark.parametrize(
    "spec",
    [
        "ibkr-fixed",
        "ibkr-tiered",
        "ibkr-fixed:no-reg-fees",
        "ibkr-tiered:no-reg-fees",
        "ibkr-tiered:commission-only",
        "ibkr-tiered:exchange=0.0012,sec=0.0000206",
        "per-share:0.01",
        "bps:5",
        "none",
    ],
)
def test_vector_kernel_equals_the_decimal_model(spec):
    from ntrader.backtest.vector import _commission, _commission_terms

    model = parse_commission(spec)
    terms = _commission_terms(model)
    rng = np.random.default_rng(11)
    for _ in range(3000):
        qty = int(rng.choice([1, 7, 100, 333, 1000, 54_321, 250_000, 3_000_000, 30_000_000]))
        price_c = int(rng.integers(1, 200_000))
        volume = int(rng.choice([0, 1, 299_999, 300_000, 2_000_000, 19_999_999, 99_000_000, 200_000_000]))
        side = int(rng.choice([1, -1]))
        expected = model.order_total(
            "BUY" if side > 0 else "SELL", Decimal(qty), Decimal(qty * price_c) / 100, Decimal(volume)
        )
        got = _commission(side, qty, qty * price_c, volume, terms.kernel)
        assert Decimal(int(got)) / 100 == expected, (qty, price_c, volume, side)
