"""What a US stock order costs at IBKR: the broker's commission and every fee on top of it.

One table (`US_STOCK_FEES`, with `RATES_AS_OF` and each line's source) holds every fee line: its rate,
its basis (USD per share, a fraction of the trade value, or a fraction of the IBKR commission), the
side it applies to and its maximum. `ibkr-fixed` is IBKR's fixed plan plus the regulatory fees IBKR
passes through even on that plan (SEC Section 31 fee and FINRA TAF on sales, FINRA CAT fee on every
share); `ibkr-tiered` is the tiered plan with its volume tiers applied marginally across the New York
calendar month, plus a representative exchange (remove-liquidity) fee, NSCC/DTC clearing, IBKR's
NYSE/FINRA pass-through fees and the same regulatory fees. Modifiers after a colon drop or override
lines: `ibkr-fixed:no-reg-fees` (the commission alone: the figure ntrader charged before the full
stack), `ibkr-tiered:no-reg-fees`, `ibkr-tiered:commission-only`, `ibkr-tiered:exchange=0.001,sec=0`.

Rounding: every line of an order (commission, each fee) is computed exactly on the order's whole
quantity and value and rounded half-up to cents; the order pays the sum of its rounded lines. An
order filled in parts pays, on each fill, its total so far minus what its earlier fills paid.
The vector engine's kernel does the same in integer arithmetic (`ntrader.backtest.vector`), and
`ntrader.backtest.fee_model` charges it inside Nautilus.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import pandas as pd

from ntrader.backtest.choices import DEFAULT_COMMISSION  # defined once, light, for the CLI
from ntrader.backtest.fee_table import (
    _OVERRIDE_KEYS,
    _ZERO,
    COST_GROUPS,
    IBKR_STOCKS_URL,
    IBKR_TIERS,
    PER_COMMISSION,
    PER_SHARE,
    PER_VALUE,
    RATES_AS_OF,
    REGULATORY_FEES,
    TIERED_FEES,
    US_STOCK_FEES,
    FeeLine,
    _cents,
    _usd,
    month_of,
)
from ntrader.errors import InputError

if TYPE_CHECKING:
    from ntrader.backtest.fee_model import CommissionFeeModel

COMMISSION_SPECS = (
    "ibkr-fixed",
    "ibkr-tiered",
    "ibkr-fixed:no-reg-fees",
    "ibkr-tiered:no-reg-fees",
    "ibkr-tiered:commission-only",
    "none",
    "per-share:X",
    "bps:X",
)


def _decimal(value: Any) -> Decimal:
    # repr of a float is its shortest round-tripping form: 909.65 stays 909.65, not 909.649999…
    # Rounded to 9 decimals first (Nautilus's fixed precision): a reported quantity such as
    # 999304.9999999999 (`Quantity.as_double()` of 999 305) is 999 305 shares.
    return value if isinstance(value, Decimal) else Decimal(repr(round(float(value), 9)))


def _is_sell(side: Any) -> bool:
    """SELL for Nautilus's `OrderSide.SELL` (an int flag named SELL), "SELL"/"S", or a negative int."""
    if isinstance(side, str):
        return side.strip().upper() in ("SELL", "S", "-1")
    name = getattr(side, "name", None)
    if isinstance(name, str):
        return name == "SELL"
    return isinstance(side, int) and side < 0


@dataclass(frozen=True)
class CommissionModel:
    """What one order costs: the broker's commission (a per-share rate, flat or tiered marginally by
    the month's volume, or basis points of the trade value, with an optional minimum and a maximum
    as a fraction of the trade value) plus fee lines (`fees`), all per ORDER (an order the engine
    fills in parts is charged as one)."""

    spec: str
    tiers: tuple[tuple[int | None, Decimal], ...] = ()
    bps: Decimal = _ZERO
    minimum: Decimal = _ZERO
    max_fraction: Decimal | None = None
    fees: tuple[FeeLine, ...] = ()
    plan: str = ""

    @property
    def is_tiered(self) -> bool:
        return len(self.tiers) > 1

    def rate_for(self, month_volume: float = 0) -> Decimal:
        """Per-share rate of share `month_volume + 1` of the month."""
        if not self.tiers:
            return _ZERO
        for last_share, rate in self.tiers:
            if last_share is None or month_volume < last_share:
                return rate
        return self.tiers[-1][1]

    def per_share_amount(self, quantity: Decimal, month_volume: Decimal = _ZERO) -> Decimal:
        """The per-share part of the commission, tiers applied marginally from `month_volume`."""
        amount, start, left = _ZERO, month_volume, quantity
        for last_share, rate in self.tiers:
            if left <= 0:
                break
            if last_share is None or start < last_share:
                take = left if last_share is None else min(left, last_share - start)
                amount += take * rate
                start += take
                left -= take
        return amount

    def order_commission(self, quantity: Decimal, value: Decimal, month_volume: Decimal = _ZERO) -> Decimal:
        """The broker's commission in USD (rounded to cents) for an order of `quantity` shares worth
        `value`, `month_volume` shares into the month."""
        if quantity <= 0:
            return _ZERO
        amount = self.per_share_amount(quantity, month_volume) + value * self.bps / Decimal(10_000)
        amount = max(amount, self.minimum)
        if self.max_fraction is not None:
            amount = min(amount, value * self.max_fraction)
        return _cents(amount)

    def order_costs(
        self, side: Any, quantity: Decimal, value: Decimal, month_volume: Decimal = _ZERO
    ) -> dict[str, Decimal]:
        """Each cost group of one order in USD (every line rounded to cents), `side` BUY or SELL."""
        out = dict.fromkeys(COST_GROUPS, _ZERO)
        if quantity <= 0:
            return out
        commission = self.order_commission(quantity, value, month_volume)
        out["commission"] = commission
        sell = _is_sell(side)
        for line in self.fees:
            out[line.group] += line.amount(sell, quantity, value, commission)
        return out

    def order_total(
        self, side: Any, quantity: Decimal, value: Decimal, month_volume: Decimal = _ZERO
    ) -> Decimal:
        return sum(self.order_costs(side, quantity, value, month_volume).values(), _ZERO)

    def commission_for(
        self, quantity: float, price: float, *, month_volume: float = 0, side: Any = "BUY"
    ) -> float:
        """Everything one order of `quantity` shares at `price` pays, `month_volume` shares into the month."""
        qty, px = abs(_decimal(quantity)), abs(_decimal(price))
        return float(self.order_total(side, qty, qty * px, _decimal(month_volume)))

    def fee_model(self) -> CommissionFeeModel:
        """A fresh Nautilus fee model (it keeps per-order and per-month state, so one per run)."""
        from ntrader.backtest.fee_model import CommissionFeeModel

        return CommissionFeeModel(self)

    def with_rates(self, **overrides: Decimal | float | str) -> CommissionModel:
        """This model with fee lines' rates overridden (`exchange=0.001`, `sec=0`, `taf_max=8.30`)."""
        fees = list(self.fees)
        parts = []
        for raw_key, value in overrides.items():
            key = raw_key.replace("_", "-")
            if key not in _OVERRIDE_KEYS:
                raise InputError(f"unknown fee line {raw_key!r}; use one of {', '.join(_OVERRIDE_KEYS)}")
            target = "taf" if key == "taf-max" else key
            index = next((i for i, line in enumerate(fees) if line.key == target), None)
            if index is None:
                raise InputError(f"{self.spec} has no {target!r} fee line to override")
            amount = _decimal(value) if not isinstance(value, str) else _parse_amount(key, value, "rate")
            if key == "taf-max":
                if amount != _cents(amount):
                    raise InputError(f"taf-max must be whole cents, got {amount}")
                fees[index] = replace(fees[index], maximum=amount)
            else:
                fees[index] = replace(fees[index], rate=amount)
            parts.append(f"{key}={amount.normalize():f}")
        spec = self.spec + ("," if ":" in self.spec else ":") + ",".join(parts) if parts else self.spec
        return replace(self, fees=tuple(fees), spec=spec)

    def describe(self) -> str:
        if self.spec == "none":
            return "no commission"
        if self.plan == "fixed":
            text = (
                f"IBKR fixed: {_usd(self.tiers[0][1])}/share, min {_usd(self.minimum)}, "
                f"max {self._max_text()} of trade value"
            )
        elif self.plan == "tiered":
            steps = ", ".join(
                f"{'above ' + _volume(self.tiers[i - 1][0]) if last is None else 'to ' + _volume(last)}: "
                f"{rate:f}"
                for i, (last, rate) in enumerate(self.tiers)
            )
            text = (
                f"IBKR tiered: USD/share by monthly share volume, marginally ({steps}), "
                f"min {_usd(self.minimum)}, max {self._max_text()} of trade value"
            )
        elif self.tiers:
            return f"{_usd(self.tiers[0][1])}/share, no minimum or maximum"
        else:
            return f"{self.bps.normalize():f} bps of trade value, no minimum or maximum"
        if self.fees:
            text += "; + " + "; ".join(line.describe() for line in self.fees)
            text += f" (rates as of {RATES_AS_OF})"
        else:
            text += "; no exchange, clearing or regulatory fees"
        return text

    def _max_text(self) -> str:
        assert self.max_fraction is not None
        return f"{(self.max_fraction * 100).normalize():f}%"


def _volume(shares: int | None) -> str:
    assert shares is not None
    return f"{shares // 1_000_000}M" if shares >= 1_000_000 else f"{shares // 1_000}k"


IBKR_FIXED = CommissionModel(
    "ibkr-fixed",
    tiers=((None, Decimal("0.005")),),
    minimum=Decimal("1.00"),
    max_fraction=Decimal("0.01"),
    fees=REGULATORY_FEES,
    plan="fixed",
)
IBKR_TIERED = CommissionModel(
    "ibkr-tiered",
    tiers=IBKR_TIERS,
    minimum=Decimal("0.35"),
    max_fraction=Decimal("0.01"),
    fees=(*TIERED_FEES, *REGULATORY_FEES),
    plan="tiered",
)
NO_COMMISSION = CommissionModel("none")
_MODIFIERS = {
    "no-reg-fees": lambda m: replace(m, fees=tuple(f for f in m.fees if f.group != "regulatory")),
    "commission-only": lambda m: replace(m, fees=()),
}


def cost_table() -> list[dict[str, str]]:
    """Every cost line of `ibkr-fixed` and `ibkr-tiered`: plan, line, rate, basis, side, limits,
    source and the date the rates were taken (the README's cost table)."""
    rows = []
    for model in (IBKR_FIXED, IBKR_TIERED):
        tiers = (
            f"USD {model.tiers[0][1]:f}/share"
            if not model.is_tiered
            else "; ".join(f"{_volume(last) if last else 'above'}: {rate:f}" for last, rate in model.tiers)
            + " USD/share by month volume, marginally"
        )
        rows.append(
            {
                "plan": model.spec,
                "line": "IBKR commission",
                "rate": tiers,
                "basis": "per share",
                "side": "both",
                "limits": f"min {_usd(model.minimum)}, max {model._max_text()} of trade value",
                "source": IBKR_STOCKS_URL,
                "as_of": RATES_AS_OF,
            }
        )
        for line in model.fees:
            rows.append(
                {
                    "plan": model.spec,
                    "line": line.name,
                    "rate": f"{line.rate.normalize():f}",
                    "basis": {
                        PER_SHARE: "USD per share",
                        PER_VALUE: "× trade value",
                        PER_COMMISSION: "× commission",
                    }[line.basis],
                    "side": "sales" if line.sides == "sell" else "both",
                    "limits": f"max {_usd(line.maximum)}/order" if line.maximum is not None else "",
                    "source": line.source,
                    "as_of": RATES_AS_OF,
                }
            )
    return rows


def parse_commission(text: str | CommissionModel) -> CommissionModel:
    """`ibkr-fixed`, `ibkr-tiered` (each with optional modifiers after a colon, comma-separated:
    `no-reg-fees`, `commission-only`, `LINE=RATE` such as `exchange=0.001`, `sec=0`, `taf-max=8.30`),
    `none`, `per-share:X` (USD per share) or `bps:X` into a model."""
    if isinstance(text, CommissionModel):
        return text
    spec = str(text).strip().lower()
    named = {"ibkr-fixed": IBKR_FIXED, "ibkr-tiered": IBKR_TIERED, "none": NO_COMMISSION}
    if spec in named:
        return named[spec]
    kind, sep, raw = spec.partition(":")
    if sep and kind in ("ibkr-fixed", "ibkr-tiered"):
        return _ibkr_with(named[kind], text, raw)
    if sep and kind in ("per-share", "bps"):
        value = _parse_amount(text, raw, kind)
        if kind == "per-share":
            return CommissionModel(f"per-share:{value.normalize():f}", tiers=((None, value),))
        if value > 10_000:
            raise InputError(f"commission {text!r}: bps must be at most 10000 (100 %), got {raw.strip()}")
        return CommissionModel(f"bps:{value.normalize():f}", bps=value)
    raise InputError(f"unknown commission {text!r}; use one of {', '.join(COMMISSION_SPECS)}")


def _ibkr_with(base: CommissionModel, text: str | CommissionModel, raw: str) -> CommissionModel:
    flags, overrides = [], {}
    for part in (p.strip() for p in raw.split(",")):
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq:
            if name not in _MODIFIERS:
                raise InputError(
                    f"commission {text!r}: unknown modifier {name!r}; use no-reg-fees, commission-only "
                    f"or LINE=RATE with LINE one of {', '.join(_OVERRIDE_KEYS)}"
                )
            if name not in flags:
                flags.append(name)
        elif name not in _OVERRIDE_KEYS:
            raise InputError(
                f"commission {text!r}: unknown fee line {name!r}; use one of {', '.join(_OVERRIDE_KEYS)}"
            )
        else:
            overrides[name] = _parse_amount(str(text), value, name)
    model = base
    for flag in sorted(flags, key=list(_MODIFIERS).index):
        model = _MODIFIERS[flag](model)
    model = replace(model, spec=f"{base.spec}:{','.join(flags)}" if flags else base.spec)
    ordered = {k: overrides[k] for k in _OVERRIDE_KEYS if k in overrides}
    return model.with_rates(**ordered) if ordered else model


def _parse_amount(text: str, raw: str, kind: str) -> Decimal:
    unit = (
        "USD per share"
        if kind == "per-share"
        else "basis points of trade value"
        if kind == "bps"
        else "a rate"
    )
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
    side: Any = "BUY",
) -> float:
    """What one order of `quantity` shares at `price` pays in USD, commission and fees (no engine)."""
    return parse_commission(model).commission_for(quantity, price, month_volume=month_volume, side=side)


def cost_breakdown(fills: Iterable[Any], model: CommissionModel | str) -> dict[str, float]:
    """A run's costs by group (commission, exchange, clearing, pass_through, regulatory, total) in
    USD, recomputed from its fills (objects with timestamp, side, quantity, price; both engines').

    Consecutive fills with the same time, side and symbol are one order (a split fill; a portfolio's
    orders in other symbols at the same time are orders of their own); tiers count the
    shares of the run's fills per New York calendar month, as the fee models do.
    """
    m = parse_commission(model)
    totals = dict.fromkeys(COST_GROUPS, _ZERO)
    month: tuple[int, int] | None = None
    month_volume = _ZERO
    order: list[Any] = []

    def close(parts: list[Any]) -> None:
        nonlocal month, month_volume
        if not parts:
            return
        first = parts[0]
        when = month_of(pd.Timestamp(first.timestamp).value)
        if when != month:
            month, month_volume = when, _ZERO
        qty = sum((abs(_decimal(p.quantity)) for p in parts), _ZERO)
        value = sum((abs(_decimal(p.quantity)) * _decimal(p.price) for p in parts), _ZERO)
        for group, amount in m.order_costs(first.side, qty, value, month_volume).items():
            totals[group] += amount
        month_volume += qty

    for fill in fills:
        last = order[-1] if order else None
        if last is not None and (
            fill.timestamp != last.timestamp
            or fill.side != last.side
            or getattr(fill, "symbol", "") != getattr(last, "symbol", "")
        ):
            close(order)
            order = []
        order.append(fill)
    close(order)
    out = {group: float(amount) for group, amount in totals.items()}
    out["total"] = float(sum(totals.values(), _ZERO))
    return out


__all__ = [
    "COMMISSION_SPECS",
    "COST_GROUPS",
    "DEFAULT_COMMISSION",
    "IBKR_FIXED",
    "IBKR_TIERED",
    "IBKR_TIERS",
    "NO_COMMISSION",
    "RATES_AS_OF",
    "US_STOCK_FEES",
    "CommissionModel",
    "FeeLine",
    "commission_for",
    "cost_breakdown",
    "cost_table",
    "parse_commission",
]


def __getattr__(name: str) -> Any:
    # `CommissionFeeModel` needs Nautilus; it lives in `fee_model` and loads only when asked for.
    if name == "CommissionFeeModel":
        from ntrader.backtest.fee_model import CommissionFeeModel

        return CommissionFeeModel
    raise AttributeError(name)
