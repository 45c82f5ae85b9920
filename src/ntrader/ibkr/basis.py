"""One price basis per series: overlap each extension with one stored day and compare the prices.

IB serves TRADES bars split-adjusted as of the day they are fetched. Bars stored before a split
and bars fetched after it are in different bases (closes 97.02 then 24.78 for one day to the
next), and a backtest over the join sees a crash that never happened. So the window next to the
stored bars is widened to take in one stored day (or, when that would exceed IB's longest
request, that day is asked on its own first); its prices are compared with the stored ones
before anything new is stored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from ntrader.ibkr.errors import AdjustmentChanged
from ntrader.ibkr.windows import RequestWindow

__all__ = ["Overlap", "basis_error", "plan_overlap", "rebase_note", "rebase_span"]

#: Relative difference of a close beyond which the stored and the new bar disagree.
TOLERANCE = 1e-3
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Overlap:
    """The window that takes in the stored ``day``, and whether it is asked only to compare (a probe)."""

    window: RequestWindow
    probe_only: bool
    day: pd.Timestamp

    def within(self, pieces: list[RequestWindow]) -> Overlap | None:
        """The overlap after its window was cut into ``pieces``: the piece holding the stored day."""
        for piece in pieces:
            if piece.start <= self.day < piece.end:
                return Overlap(piece, self.probe_only, self.day)
        return None


def plan_overlap(
    stored: pd.DatetimeIndex, windows: list[RequestWindow], max_span: pd.Timedelta
) -> tuple[list[RequestWindow], Overlap | None]:
    """``windows`` with the one next to the stored bars widened to a stored day, asked first.

    No stored bars, or new windows on neither side of them: no overlap.
    """
    if not len(stored) or not windows:
        return windows, None
    first_new = min(w.start for w in windows)
    earlier = stored[stored < first_new]
    if len(earlier):
        day = earlier[-1].normalize()
        nearest = min(windows, key=lambda w: w.start)
        widened = dataclasses.replace(nearest, start=min(day, nearest.start))
    else:
        day = stored[0].normalize()
        nearest = max(windows, key=lambda w: w.end)
        widened = dataclasses.replace(nearest, end=max(day + _DAY, nearest.end))
    rest = [w for w in windows if w is not nearest]
    if widened.span <= max_span or widened.open_end:
        return [widened, *rest], Overlap(widened, probe_only=False, day=day)
    probe = RequestWindow(day, day + _DAY)
    return [probe, *windows], Overlap(probe, probe_only=True, day=day)


def basis_error(stored: pd.DataFrame, fetched: pd.DataFrame) -> AdjustmentChanged | None:
    """The error when IB's bars now disagree with the stored ones at the same times, else None."""
    common = stored.index.intersection(fetched.index)
    if common.empty:
        return None
    ratio = stored.loc[common, "close"] / fetched.loc[common, "close"]
    if float((ratio - 1).abs().max()) <= TOLERANCE:
        return None
    last = common[-1]
    factor = 1 / float(ratio.median())
    error = AdjustmentChanged(
        f"IB's prices for the stored bars of {last:%Y-%m-%d} are now {factor:.3g} "
        f"times the stored ones (close {stored.loc[last, 'close']:g} stored, "
        f"{fetched.loc[last, 'close']:g} now): a split or other adjustment since they were fetched. "
        "Nothing new was stored, so the series keeps one price basis; the stored bars must be "
        "fetched again in IB's new basis before it can be extended (the default, "
        "--on-basis-change refetch, does that)"
    )
    error.factor = factor
    return error


def rebase_span(
    stored: pd.DatetimeIndex,
    in_database: tuple[pd.Timestamp, pd.Timestamp] | None,
    asked: tuple[pd.Timestamp, pd.Timestamp],
    bar_length: pd.Timedelta,
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) to fetch again on a new basis: every stored bar (catalog, database) and the period."""
    starts, ends = [asked[0]], [asked[1]]
    if len(stored):
        starts.append(stored[0])
        ends.append(stored[-1] + bar_length)
    if in_database is not None:
        starts.append(in_database[0])
        ends.append(in_database[1] + bar_length)
    return min(starts), max(ends)


def rebase_note(symbol: str, bar_size: str, mismatch: AdjustmentChanged, new: pd.DataFrame) -> str:
    """The line a fetch prints after it replaced a series that IB now serves on another basis."""
    factor = mismatch.factor
    times = f"; now {factor:.3g} times the stored ones" if factor else ""
    return (
        f"{symbol} {bar_size}: IB's prices changed basis (a split or dividend adjustment since the "
        f"last fetch{times}); re-fetched {new.index[0]:%Y-%m-%d} → {new.index[-1]:%Y-%m-%d} and "
        "replaced the stored bars"
    )
