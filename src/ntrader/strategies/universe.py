"""The symbols of a portfolio run on one clock: their closes, which bars exist, the allocation.

A portfolio run (several symbols, one cash account) keeps every symbol's bars its own: a symbol
that lists later or misses a day simply has no bar then, nothing is forward-filled into the engine
and nothing is traded without a bar. The account is *marked* at each symbol's last known close:
`closes` is the union of the bar close times, each symbol's close forward-filled (NaN before its
first bar).

Allocation in basket mode (one single-symbol strategy per symbol, `--allocation`):

- `equal` (default): each symbol may use `position_pct / N` of the account's equity;
- `inverse-vol`: symbol i may use `position_pct · w_i`, w_i ∝ 1/σ_i, σ_i the standard deviation of
  its last `VOL_WINDOW` close-to-close returns (its own bars, at least `VOL_MIN_RETURNS`); a symbol
  with fewer returns so far gets 1/N and the others share the rest in proportion to 1/σ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: The alignment rule of every portfolio run (settings, README, `strategy show`).
ALIGNMENT_RULE = (
    "each symbol trades on its own bars (nothing forward-filled is traded; a later listing or a "
    "missing day has no bar then); the account is marked at each symbol's last known close; no "
    "symbol's bars are dropped for another's"
)

ALLOCATION_EQUAL = "equal"
ALLOCATION_INVERSE_VOL = "inverse-vol"
#: Trailing returns in the inverse-volatility estimate, and the fewest it is computed from.
VOL_WINDOW = 63
VOL_MIN_RETURNS = 20


def close_panel(closes: dict[str, pd.Series]) -> pd.DataFrame:
    """One column per symbol on the union of their times, each forward-filled (NaN before its first)."""
    return pd.DataFrame(closes).sort_index().ffill()


def inverse_vol_weights(closes: dict[str, pd.Series], index: pd.DatetimeIndex) -> pd.DataFrame:
    """Weights (rows sum to 1) by the rule in the module notes, on `index`, vectorized per symbol."""
    sigma = pd.DataFrame(
        {
            symbol: series.pct_change()
            .rolling(VOL_WINDOW, min_periods=VOL_MIN_RETURNS)
            .std()
            .reindex(index)
            .ffill()
            for symbol, series in closes.items()
        },
        index=index,
    )
    inverse = 1.0 / sigma.where(sigma > 0)
    n = inverse.shape[1]
    known = inverse.notna().sum(axis=1)
    share = (inverse.div(inverse.sum(axis=1), axis=0)).mul(known / n, axis=0)
    return share.where(inverse.notna(), 1.0 / n)


@dataclass
class Universe:
    """What every strategy of a portfolio run shares (built by the engine wrapper)."""

    symbols: tuple[str, ...]
    instrument_ids: tuple[Any, ...]
    bar_types: tuple[Any, ...]
    #: The union of the bar close times (UTC) and, per time, each symbol's last known close.
    closes: pd.DataFrame
    #: True where the symbol has a bar closing at that time.
    has_bar: np.ndarray
    #: Basket allocation per time and symbol (rows sum to 1).
    weights: np.ndarray
    #: Nanoseconds of `closes.index` (for lookups by the engine clock).
    close_ns: np.ndarray
    #: `closes` as a float array, 0 where a symbol has no close yet (the marks, read per order).
    marks_table: np.ndarray

    @classmethod
    def build(
        cls,
        closes: dict[str, pd.Series],
        instrument_ids: Sequence[Any],
        bar_types: Sequence[Any],
        allocation: str = ALLOCATION_EQUAL,
    ) -> Universe:
        """`closes`: each symbol's closes at its bars' close times, in the run's symbol order."""
        panel = close_panel(closes)
        index = pd.DatetimeIndex(panel.index)
        has_bar = np.column_stack([index.isin(c.index) for c in closes.values()])
        n = len(closes)
        if allocation == ALLOCATION_INVERSE_VOL:
            weights = inverse_vol_weights(closes, index).to_numpy(dtype="float64")
        else:
            weights = np.full((len(index), n), 1.0 / n)
        ns = index.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]").view("int64")
        return cls(
            symbols=tuple(closes),
            instrument_ids=tuple(instrument_ids),
            bar_types=tuple(bar_types),
            closes=panel,
            has_bar=has_bar,
            weights=weights,
            close_ns=ns,
            marks_table=np.nan_to_num(panel.to_numpy(dtype="float64")),
        )

    def row(self, ts_ns: int) -> int:
        """The last close time at or before `ts_ns` (-1 before the first)."""
        return int(np.searchsorted(self.close_ns, ts_ns, side="right")) - 1

    def marks(self, ts_ns: int) -> np.ndarray:
        """Each symbol's last known close at `ts_ns` (0 where it has none yet)."""
        row = self.row(ts_ns)
        if row < 0:
            return np.zeros(len(self.symbols))
        return self.marks_table[row]

    def weight(self, slot: int, ts_ns: int) -> float:
        row = self.row(ts_ns)
        return float(self.weights[max(row, 0), slot])

    def positions(self, portfolio: Any) -> np.ndarray:
        return np.array([float(portfolio.net_position(i)) for i in self.instrument_ids])

    def equity(self, portfolio: Any, account: Any, ts_ns: int) -> float:
        """The shared account's equity: cash plus every position at its last known close (a margin
        account: its balance plus the unrealized P&L of every position)."""
        if account is None:
            return 0.0
        from nautilus_trader.model.currencies import USD
        from nautilus_trader.model.enums import AccountType

        balance = account.balance_total(USD)
        cash = balance.as_double() if balance is not None else 0.0
        if account.type == AccountType.MARGIN:
            pnl = [portfolio.unrealized_pnl(i) for i in self.instrument_ids]
            return cash + sum(p.as_double() for p in pnl if p is not None)
        return cash + float(self.positions(portfolio) @ self.marks(ts_ns))


__all__ = [
    "ALIGNMENT_RULE",
    "ALLOCATION_EQUAL",
    "ALLOCATION_INVERSE_VOL",
    "VOL_MIN_RETURNS",
    "VOL_WINDOW",
    "Universe",
    "close_panel",
    "inverse_vol_weights",
]
