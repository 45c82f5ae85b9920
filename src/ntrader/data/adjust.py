"""Split and dividend adjustment of bar frames, and inferring the events from an adjusted close.

Modes (the `--adjust` choices):

- ``raw``: prices as traded; splits and dividends are events the account sees (share count, cash).
- ``splits``: back-adjusted for splits: every bar before a split's ex-date has its prices divided by
  the split ratio (4.0 for a 4:1 split) and its volume multiplied by it, so the series is continuous
  and the newest bars are as traded.
- ``total-return``: split-adjusted, and back-adjusted for cash dividends *additively*: each
  dividend (in today's shares) is subtracted from every bar before its ex-date. So the P&L of any
  fixed number of shares between two bars is exactly the price change plus the cash dividends a
  holder was paid in between: buy & hold on these prices equals buy & hold on raw prices with the
  dividends credited as cash, to the cent. (Vendors' multiplicative ``adj_close`` instead keeps
  percentage returns and assumes the dividend is reinvested; it drifts from the cash holder at second
  order. Additive adjustment overstates early percentage returns slightly, and is refused where it
  would bring a price to zero.)

Events are Series indexed by the ex-date's bar timestamp (UTC, a bar of the frame): split ratios,
dividends in cash per share (of the basis as traded on that date). All work is vectorized.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ntrader.data.bars import BAR_COLUMNS
from ntrader.errors import InputError

__all__ = ["ADJUSTMENTS", "DEFAULT_ADJUST", "adjust_bars", "adjustment_factors", "infer_events"]

ADJUSTMENTS = ("raw", "splits", "total-return")
#: Prices continuous across splits (what price-based strategies assume); dividends are income.
DEFAULT_ADJUST = "splits"
PRICE_COLUMNS = ("open", "high", "low", "close")
#: Split ratios told apart from dividends when inferring events (ratio = new shares per old share).
_SPLIT_RATIOS = np.array([1 / 10, 1 / 5, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 3 / 2, 2, 3, 4, 5, 8, 10, 20])


def _on_bars(events: pd.Series | None, index: pd.DatetimeIndex, what: str) -> np.ndarray:
    """Event values on the frame's bars (0 where none); an event off the frame's bars is an error."""
    out = np.zeros(len(index))
    if events is None or not len(events):
        return out
    at = index.get_indexer(pd.DatetimeIndex(events.index))
    if (at < 0).any():
        missing = pd.DatetimeIndex(events.index)[at < 0][0]
        raise InputError(f"{what} on {missing.date()} falls on no bar of the series")
    np.add.at(out, at, events.to_numpy(dtype="float64"))
    return out


def _later(step: np.ndarray, combine: str) -> np.ndarray:
    """Per bar, the product (or sum) of `step` over all *later* bars."""
    later = np.concatenate((step[1:], [1.0 if combine == "prod" else 0.0]))
    return (np.cumprod(later[::-1]) if combine == "prod" else np.cumsum(later[::-1]))[::-1]


def adjustment_factors(
    frame: pd.DataFrame, splits: pd.Series | None, dividends: pd.Series | None, mode: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bar price multiplier, volume multiplier and price offset for `mode`: adjusted price =
    price × multiplier − offset (1, 1, 0 on and after the last event)."""
    if mode not in ADJUSTMENTS:
        raise InputError(f"adjustment must be one of {', '.join(ADJUSTMENTS)}, got {mode!r}")
    index = pd.DatetimeIndex(frame.index)
    n = len(index)
    ratio = _on_bars(splits, index, "a split")
    ratio = np.where(ratio == 0, 1.0, ratio)
    if (ratio <= 0).any():
        raise InputError("split ratios must be positive (4.0 for a 4:1 split)")
    if mode == "raw":
        return np.ones(n), np.ones(n), np.zeros(n)
    price, volume = _later(1.0 / ratio, "prod"), _later(ratio, "prod")
    offset = np.zeros(n)
    if mode == "total-return":
        cash = _on_bars(dividends, index, "a dividend")
        if (cash < 0).any():
            raise InputError("dividends must not be negative")
        # A dividend paid on bar j, per share as traded then, is cash × price[j] per share of today.
        offset = _later(cash * price, "sum")
    return price, volume, offset


def adjust_bars(
    frame: pd.DataFrame,
    splits: pd.Series | None = None,
    dividends: pd.Series | None = None,
    mode: str = "splits",
) -> pd.DataFrame:
    """A copy of the bar frame back-adjusted for `mode` (``raw`` returns the bars unchanged)."""
    price, volume, offset = adjustment_factors(frame, splits, dividends, mode)
    out = frame.copy()
    for name in PRICE_COLUMNS:
        out[name] = frame[name].to_numpy(dtype="float64") * price - offset
    low = out["low"].to_numpy()
    if (low <= 0).any():
        at = int(np.flatnonzero(low <= 0)[-1])
        raise InputError(
            f"total-return: dividends after {_day(frame, at)} exceed the price then "
            f"({frame['low'].iloc[at] * price[at]:.2f} in today's shares); use a shorter period or "
            "--adjust splits"
        )
    out["volume"] = frame["volume"].to_numpy(dtype="float64") * volume
    return out[[*BAR_COLUMNS, *(c for c in frame.columns if c not in BAR_COLUMNS)]]


def _day(frame: pd.DataFrame, at: int) -> str:
    return str(pd.DatetimeIndex(frame.index)[at].date())


def _step(values: np.ndarray) -> float:
    """The rounding step of `values` (0.01 for cents), 0 when they carry more than 8 decimals."""
    for decimals in range(9):
        scaled = values * 10.0**decimals
        if np.allclose(scaled, np.round(scaled), rtol=0, atol=1e-6):
            return 10.0**-decimals
    return 0.0


def infer_events(
    close: pd.Series, adj_close: pd.Series, *, tolerance: float = 0.02
) -> tuple[pd.Series, pd.Series]:
    """Splits and dividends from a raw close and a split-and-dividend-adjusted close (a vendor's
    adj_close, IB's ADJUSTED_LAST): where the ratio adj/close changes between two bars, the change
    near a split ratio is a split, otherwise a dividend of ``previous close × (1 − 1 / ratio change)``
    (the vendors' convention: prices before the ex-date times ``1 − dividend / previous close``).

    Vendors round both series (to cents, or 4-6 decimals): a change within twice what that rounding
    can move the ratio is noise, not an event, and so is a "negative dividend" (the ratio falling).

    Returns (splits, dividends) indexed by the ex-date bars, in the basis as traded on those dates.
    """
    raw = close.to_numpy(dtype="float64")
    adj = adj_close.to_numpy(dtype="float64")
    factor = adj / raw
    change = factor[1:] / factor[:-1]  # > 1 over a dividend's ex-date; ~ the split ratio over a split
    noise = _step(adj) / 2 * (1 / adj[1:] + 1 / adj[:-1]) + _step(raw) / 2 * (1 / raw[1:] + 1 / raw[:-1])
    moved = np.flatnonzero(np.abs(change - 1) > np.maximum(2 * noise, 1e-6)) + 1
    nearest = _SPLIT_RATIOS[np.abs(_SPLIT_RATIOS[None, :] / change[moved - 1, None] - 1).argmin(axis=1)]
    is_split = np.abs(nearest / change[moved - 1] - 1) < tolerance
    index = pd.DatetimeIndex(close.index)
    splits = pd.Series(nearest[is_split], index=index[moved[is_split]], name="split")
    at = moved[~is_split]
    at = at[change[at - 1] > 1]
    dividends = pd.Series(raw[at - 1] * (1 - 1 / change[at - 1]), index=index[at], name="dividend")
    return splits, dividends
