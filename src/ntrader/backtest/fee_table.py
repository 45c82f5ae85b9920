"""The fee table for US stocks at IBKR: every line with its rate, basis, side, maximum and source.

`RATES_AS_OF` is the date the rates were read from the sources each line names (IBKR's commission
page, the SEC's Section 31 page, FINRA's TAF and CAT pages). `ntrader.backtest.costs` builds the
commission models on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from ntrader.data.bars import MARKET_TZ

_CENT = Decimal("0.01")
_ZERO = Decimal(0)

#: The date the rates below were read from the sources named on each line.
RATES_AS_OF = "2025-05-01"
IBKR_STOCKS_URL = "https://www.interactivebrokers.com/en/pricing/commissions-stocks.php"
SEC_31_URL = "https://www.sec.gov/divisions/marketreg/sec31feesbasicinfo.htm"
FINRA_TAF_URL = "https://www.finra.org/rules-guidance/guidance/trading-activity-fee"
FINRA_CAT_URL = "https://www.finra.org/rules-guidance/key-topics/consolidated-audit-trail-cat/cat-fees"

# IBKR US stocks, tiered pricing: USD per share by the month's share volume. Each entry is the last
# share of the month (inclusive) the rate applies to; None means no upper bound. Applied marginally:
# an order that crosses a boundary pays each tier's rate on the shares inside it.
IBKR_TIERS: tuple[tuple[int | None, Decimal], ...] = (
    (300_000, Decimal("0.0035")),
    (3_000_000, Decimal("0.0020")),
    (20_000_000, Decimal("0.0015")),
    (100_000_000, Decimal("0.0010")),
    (None, Decimal("0.0005")),
)

# Bases of a fee line.
PER_SHARE = "share"  # USD per share of the order
PER_VALUE = "value"  # fraction of the order's trade value
PER_COMMISSION = "commission"  # fraction of the order's IBKR commission (pass-through fees)
# Groups a run's cost breakdown adds up.
COST_GROUPS = ("commission", "exchange", "clearing", "pass_through", "regulatory")


@dataclass(frozen=True)
class FeeLine:
    """One fee on top of the broker's commission: `rate` on `basis`, on `sides` ("both" or "sell"),
    at most `maximum` USD per order; `key` is the name an override uses (`sec=0`)."""

    key: str
    name: str
    group: str
    rate: Decimal
    basis: str
    sides: str = "both"
    maximum: Decimal | None = None
    source: str = IBKR_STOCKS_URL

    def amount(self, sell: bool, quantity: Decimal, value: Decimal, commission: Decimal) -> Decimal:
        """This line for one order, rounded half-up to cents."""
        if self.sides == "sell" and not sell:
            return _ZERO
        base = {PER_SHARE: quantity, PER_VALUE: value, PER_COMMISSION: commission}[self.basis]
        amount = self.rate * base
        if self.maximum is not None:
            amount = min(amount, self.maximum)
        return _cents(amount)

    def describe(self) -> str:
        side = " sold" if self.sides == "sell" else ""
        if self.basis == PER_SHARE:
            text = f"USD {self.rate.normalize():f}/share{side}"
        elif self.basis == PER_VALUE:
            text = f"{self.rate.normalize():f} × value{' of sales' if side else ''}"
        else:
            text = f"{self.rate.normalize():f} × commission"
        if self.maximum is not None:
            text += f", max {_usd(self.maximum)}/order"
        return f"{self.name} {text}"


SEC_FEE = FeeLine(
    "sec", "SEC fee (Section 31)", "regulatory", Decimal("0.0000278"), PER_VALUE, "sell", source=SEC_31_URL
)
FINRA_TAF = FeeLine(
    "taf",
    "FINRA TAF",
    "regulatory",
    Decimal("0.000166"),
    PER_SHARE,
    "sell",
    maximum=Decimal("8.30"),
    source=FINRA_TAF_URL,
)
FINRA_CAT = FeeLine(
    "cat", "FINRA CAT fee", "regulatory", Decimal("0.0000265"), PER_SHARE, source=FINRA_CAT_URL
)
EXCHANGE_FEE = FeeLine(
    "exchange", "exchange fee (remove liquidity)", "exchange", Decimal("0.0030"), PER_SHARE
)
CLEARING_FEE = FeeLine("clearing", "clearing (NSCC, DTC)", "clearing", Decimal("0.00020"), PER_SHARE)
NYSE_PASS_THROUGH = FeeLine(
    "nyse-pass-through", "NYSE pass-through", "pass_through", Decimal("0.000175"), PER_COMMISSION
)
FINRA_PASS_THROUGH = FeeLine(
    "finra-pass-through", "FINRA pass-through", "pass_through", Decimal("0.00056"), PER_COMMISSION
)
REGULATORY_FEES = (SEC_FEE, FINRA_TAF, FINRA_CAT)
TIERED_FEES = (EXCHANGE_FEE, CLEARING_FEE, NYSE_PASS_THROUGH, FINRA_PASS_THROUGH)
#: Every fee line ntrader knows for US stocks (rates as of `RATES_AS_OF`, each with its source).
US_STOCK_FEES = (*TIERED_FEES, *REGULATORY_FEES)
_FEE_KEYS = {line.key: line for line in US_STOCK_FEES}
_OVERRIDE_KEYS = (*_FEE_KEYS, "taf-max")


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def _usd(amount: Decimal) -> str:
    text = f"{amount.normalize():f}"
    if "." not in text or len(text.split(".")[1]) < 2:
        text = f"{amount:.2f}"
    return f"USD {text}"


def month_of(ts_ns: int) -> tuple[int, int]:
    """(year, month) in New York of a UTC timestamp in nanoseconds: the month tiers count in."""
    ts = pd.Timestamp(ts_ns, unit="ns", tz="UTC").tz_convert(MARKET_TZ)
    return ts.year, ts.month


__all__ = [
    "COST_GROUPS",
    "IBKR_TIERS",
    "PER_COMMISSION",
    "PER_SHARE",
    "PER_VALUE",
    "RATES_AS_OF",
    "REGULATORY_FEES",
    "TIERED_FEES",
    "US_STOCK_FEES",
    "FeeLine",
    "month_of",
]
