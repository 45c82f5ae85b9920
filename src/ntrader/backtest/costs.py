"""Commission models (IBKR fixed/tiered, per share, basis points) and their Nautilus fee model."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pandas as pd
from nautilus_trader.backtest.models import FeeModel
from nautilus_trader.model.objects import Money

from ntrader.errors import InputError

COMMISSION_SPECS = ("ibkr-fixed", "ibkr-tiered", "none", "per-share:X", "bps:X")
DEFAULT_COMMISSION = "ibkr-fixed"

_CENT = Decimal("0.01")
_ZERO = Decimal(0)

# IBKR US stocks, tiered pricing: USD per share by the month's share volume so far. Each entry is the
# last share of the month (inclusive) the rate applies to; None means no upper bound.
IBKR_TIERS: tuple[tuple[int | None, Decimal], ...] = (
    (300_000, Decimal("0.0035")),
    (3_000_000, Decimal("0.0020")),
    (20_000_000, Decimal("0.0015")),
    (100_000_000, Decimal("0.0010")),
    (None, Decimal("0.0005")),
)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def _decimal(value: Any) -> Decimal:
    # repr of a float is its shortest round-tripping form: 909.65 stays 909.65, not 909.649999…
    return value if isinstance(value, Decimal) else Decimal(repr(float(value)))


def _usd(amount: Decimal) -> str:
    text = f"{amount.normalize():f}"
    if "." not in text or len(text.split(".")[1]) < 2:
        text = f"{amount:.2f}"
    return f"USD {text}"


@dataclass(frozen=True)
class CommissionModel:
    """What one order costs: a per-share rate (flat or tiered by monthly volume) or basis points of
    the trade value, with an optional minimum and a maximum as a fraction of the trade value, all per
    ORDER (an order the engine fills in parts is charged as one)."""

    spec: str
    tiers: tuple[tuple[int | None, Decimal], ...] = ()
    bps: Decimal = _ZERO
    minimum: Decimal = _ZERO
    max_fraction: Decimal | None = None

    @property
    def is_tiered(self) -> bool:
        return len(self.tiers) > 1

    def rate_for(self, month_volume: float = 0) -> Decimal:
        """Per-share rate for an order whose first share is share `month_volume + 1` of the month."""
        if not self.tiers:
            return _ZERO
        for last_share, rate in self.tiers:
            if last_share is None or month_volume < last_share:
                return rate
        return self.tiers[-1][1]

    def order_commission(self, quantity: Decimal, value: Decimal, rate: Decimal) -> Decimal:
        """Commission in USD (rounded to cents) for an order of `quantity` shares worth `value`."""
        if quantity <= 0:
            return _ZERO
        amount = rate * quantity + value * self.bps / Decimal(10_000)
        amount = max(amount, self.minimum)
        if self.max_fraction is not None:
            amount = min(amount, value * self.max_fraction)
        return _cents(amount)

    def commission_for(self, quantity: float, price: float, *, month_volume: float = 0) -> float:
        """Commission for one order of `quantity` shares at `price`, `month_volume` shares into the month."""
        qty, px = _decimal(quantity), _decimal(price)
        return float(self.order_commission(abs(qty), abs(qty) * px, self.rate_for(month_volume)))

    def fee_model(self) -> CommissionFeeModel:
        """A fresh Nautilus fee model (it keeps per-order and per-month state, so one per run)."""
        return CommissionFeeModel(self)

    def describe(self) -> str:
        if self.spec == "none":
            return "no commission"
        if self.spec == "ibkr-fixed":
            return (
                f"IBKR fixed: {_usd(self.tiers[0][1])}/share, min {_usd(self.minimum)}, "
                f"max {self._max_text()} of trade value"
            )
        if self.spec == "ibkr-tiered":
            steps = ", ".join(
                f"{'above ' + _volume(self.tiers[i - 1][0]) if last is None else 'to ' + _volume(last)}: "
                f"{rate:f}"
                for i, (last, rate) in enumerate(self.tiers)
            )
            return (
                f"IBKR tiered: USD/share by monthly share volume ({steps}), min {_usd(self.minimum)}, "
                f"max {self._max_text()} of trade value; exchange, clearing and regulatory fees not modelled"
            )
        if self.tiers:
            return f"{_usd(self.tiers[0][1])}/share, no minimum or maximum"
        return f"{self.bps.normalize():f} bps of trade value, no minimum or maximum"

    def _max_text(self) -> str:
        assert self.max_fraction is not None
        return f"{(self.max_fraction * 100).normalize():f}%"


def _volume(shares: int | None) -> str:
    assert shares is not None
    return f"{shares // 1_000_000}M" if shares >= 1_000_000 else f"{shares // 1_000}k"


IBKR_FIXED = CommissionModel(
    "ibkr-fixed", tiers=((None, Decimal("0.005")),), minimum=Decimal("1.00"), max_fraction=Decimal("0.01")
)
IBKR_TIERED = CommissionModel(
    "ibkr-tiered", tiers=IBKR_TIERS, minimum=Decimal("0.35"), max_fraction=Decimal("0.01")
)
NO_COMMISSION = CommissionModel("none")


def parse_commission(text: str | CommissionModel) -> CommissionModel:
    """`ibkr-fixed`, `ibkr-tiered`, `none`, `per-share:X` (USD per share) or `bps:X` into a model."""
    if isinstance(text, CommissionModel):
        return text
    spec = str(text).strip().lower()
    named = {"ibkr-fixed": IBKR_FIXED, "ibkr-tiered": IBKR_TIERED, "none": NO_COMMISSION}
    if spec in named:
        return named[spec]
    kind, sep, raw = spec.partition(":")
    if sep and kind in ("per-share", "bps"):
        value = _parse_amount(text, raw, kind)
        if kind == "per-share":
            return CommissionModel(f"per-share:{value.normalize():f}", tiers=((None, value),))
        if value > 10_000:
            raise InputError(f"commission {text!r}: bps must be at most 10000 (100 %), got {raw.strip()}")
        return CommissionModel(f"bps:{value.normalize():f}", bps=value)
    raise InputError(f"unknown commission {text!r}; use one of {', '.join(COMMISSION_SPECS)}")


def _parse_amount(text: str, raw: str, kind: str) -> Decimal:
    unit = "USD per share" if kind == "per-share" else "basis points of trade value"
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise InputError(
            f"commission {text!r}: {kind} needs a number ({unit}), got {raw.strip()!r}"
        ) from None
    if not value.is_finite() or value < 0:
        raise InputError(f"commission {text!r}: {kind} must be a finite number >= 0, got {raw.strip()}")
    return value


def commission_for(
    quantity: float,
    price: float,
    model: CommissionModel | str = DEFAULT_COMMISSION,
    *,
    month_volume: float = 0,
) -> float:
    """Commission in USD for one order of `quantity` shares at `price` (no engine involved)."""
    return parse_commission(model).commission_for(quantity, price, month_volume=month_volume)


@dataclass
class _OrderState:
    rate: Decimal
    quantity: Decimal = _ZERO
    value: Decimal = _ZERO
    charged: Decimal = _ZERO


class CommissionFeeModel(FeeModel):
    """Nautilus fee model charging a `CommissionModel` per order.

    The matching engine calls `get_commission` once per fill. An order filled in parts (thin bar
    volume) must pay the minimum once, so each fill is charged the order's commission on everything
    filled so far minus what its earlier fills were charged. Tiered rates count the shares of this
    run's fills per New York calendar month; an order's rate is set by the volume before its first fill.
    """

    def __init__(self, model: CommissionModel) -> None:
        super().__init__()
        self.model = model
        self._orders: dict[Any, _OrderState] = {}
        self._month: tuple[int, int] | None = None
        self._month_volume = _ZERO
        self._clock: Any = None

    def bind_clock(self, clock: Any) -> None:
        """Read fill times from the venue's clock (the engine's kernel clock) for monthly volumes."""
        self._clock = clock

    def get_commission(self, order: Any, fill_qty: Any, fill_px: Any, instrument: Any) -> Money:
        qty = fill_qty.as_decimal()
        state = self._orders.get(order.client_order_id)
        if state is None:
            # The order's tier is fixed by the month's volume before its first fill. The venue clock
            # reads the fill time; the order's own last event is its submission (a next-open fill
            # placed on a month's last bar lands in the next month).
            if self.model.is_tiered:
                month = _month_of(self._clock.timestamp_ns() if self._clock is not None else order.ts_last)
                if month != self._month:
                    self._month, self._month_volume = month, _ZERO
            state = _OrderState(rate=self.model.rate_for(float(self._month_volume)))
            self._orders[order.client_order_id] = state
        state.quantity += qty
        state.value += qty * fill_px.as_decimal()
        self._month_volume += qty
        total = self.model.order_commission(state.quantity, state.value, state.rate)
        charge = max(total - state.charged, _ZERO)
        state.charged += charge
        if state.quantity == order.quantity.as_decimal():
            del self._orders[order.client_order_id]  # filled: nothing more to charge, keep memory flat
        return Money(charge, instrument.quote_currency)


def _month_of(ts_ns: int) -> tuple[int, int]:
    ts = pd.Timestamp(ts_ns, unit="ns", tz="UTC").tz_convert("America/New_York")
    return ts.year, ts.month


__all__ = [
    "COMMISSION_SPECS",
    "DEFAULT_COMMISSION",
    "IBKR_FIXED",
    "IBKR_TIERED",
    "IBKR_TIERS",
    "NO_COMMISSION",
    "CommissionFeeModel",
    "CommissionModel",
    "commission_for",
    "parse_commission",
]
