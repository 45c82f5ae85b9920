"""A `CommissionModel` in exact integer arithmetic: its terms over one denominator, and the kernel."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import reduce
from typing import Any

import numba
import numpy as np

from ntrader.backtest.costs import CommissionModel

_NO_TIER_LIMIT = np.iinfo(np.int64).max
_FEE_BASES = {"share": 0, "value": 1, "commission": 2}


@dataclass(frozen=True)
class CommissionTerms:
    """A CommissionModel over a common denominator D: every amount in units of 1/D cent."""

    denominator: int
    tier_last: np.ndarray  # last share of the month each tier covers (inclusive); max int = no limit
    tier_rate: np.ndarray  # per-share rate, units of 1/D cent
    bps: int  # per cent of notional, units of 1/D cent
    minimum: int
    cap: int  # per cent of notional; -1 = no cap
    # One row per fee line: basis (0 per share, 1 per cent of value, 2 per cent of commission),
    # numerator and denominator of its rate in cents per basis unit, maximum in cents (-1 none),
    # 1 when it applies to sales only.
    lines: np.ndarray

    @property
    def kernel(self) -> tuple[Any, ...]:
        """The terms as the compiled kernels take them (one tuple)."""
        return (
            self.tier_last,
            self.tier_rate,
            self.bps,
            self.minimum,
            self.cap,
            self.denominator,
            self.lines,
        )


def _fee_lines(model: CommissionModel) -> np.ndarray:
    rows = []
    for line in model.fees:
        rate = Fraction(line.rate) * (100 if line.basis == "share" else 1)
        maximum = -1 if line.maximum is None else int(Fraction(line.maximum) * 100)
        rows.append(
            [_FEE_BASES[line.basis], rate.numerator, rate.denominator, maximum, int(line.sides == "sell")]
        )
    return np.array(rows, dtype=np.int64).reshape(len(rows), 5)


def commission_terms(model: CommissionModel) -> CommissionTerms:
    rates = [Fraction(rate) * 100 for _, rate in model.tiers] or [Fraction(0)]
    bps = Fraction(model.bps) / 10_000
    minimum = Fraction(model.minimum) * 100
    cap = Fraction(model.max_fraction) if model.max_fraction is not None else None
    parts = [*rates, bps, minimum] + ([cap] if cap is not None else [])
    d = reduce(math.lcm, (p.denominator for p in parts), 1)
    last = [_NO_TIER_LIMIT if limit is None else limit for limit, _ in model.tiers] or [_NO_TIER_LIMIT]
    return CommissionTerms(
        denominator=d,
        tier_last=np.array(last, dtype=np.int64),
        tier_rate=np.array([int(r * d) for r in rates], dtype=np.int64),
        bps=int(bps * d),
        minimum=int(minimum * d),
        cap=-1 if cap is None else int(cap * d),
        lines=_fee_lines(model),
    )


@numba.njit(cache=True, nogil=True)
def commission(side, qty, notional_c, month_volume, terms):  # type: ignore[no-untyped-def]
    """`CommissionModel.order_total` in cents for an order (`side` +1 buy, -1 sell) of `qty` shares
    worth `notional_c` cents, `month_volume` shares into the month; `terms`: `CommissionTerms.kernel`."""
    tier_last, tier_rate, bps, minimum, cap, denominator, lines = terms
    if qty <= 0:
        return 0
    amount = notional_c * bps
    start = month_volume
    left = qty
    for k in range(len(tier_last)):
        if left <= 0:
            break
        if start < tier_last[k]:
            take = min(left, tier_last[k] - start)
            amount += take * tier_rate[k]
            start += take
            left -= take
    if amount < minimum:
        amount = minimum
    if cap >= 0 and amount > notional_c * cap:
        amount = notional_c * cap
    # ROUND_HALF_UP of amount / denominator (amounts are never negative).
    fee_total = (2 * amount + denominator) // (2 * denominator)
    total = fee_total
    for j in range(lines.shape[0]):
        if lines[j, 4] == 1 and side > 0:
            continue
        basis = lines[j, 0]
        base = qty if basis == 0 else (notional_c if basis == 1 else fee_total)
        fee = (2 * base * lines[j, 1] + lines[j, 2]) // (2 * lines[j, 2])
        if lines[j, 3] >= 0 and fee > lines[j, 3]:
            fee = lines[j, 3]
        total += fee
    return total
