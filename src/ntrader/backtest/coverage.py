"""What the bars of a backtest really cover: their own range, and the known gaps inside it.

A backtest over bars that cover only part of the requested period, or that miss sessions, must
say so: the run is saved with the bars' real range as its period (the requested one kept beside
it), and every known gap is listed in its settings and shown with the result
(``reports.text.coverage_text``). Gaps are known for IBKR bars, whose sessions come from the NYSE
calendar (holidays and half days are not gaps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ntrader.data import Period

__all__ = ["Coverage", "bars_period", "coverage_of"]

Range = tuple[pd.Timestamp, pd.Timestamp]

#: Gaps listed one by one in a run's settings; more are counted.
_LISTED = 50


@dataclass(frozen=True)
class Coverage:
    """The period asked for, the period the bars cover, and the gaps known inside it."""

    requested: Period
    actual: Period
    gaps: tuple[Range, ...] = field(default_factory=tuple)

    #: Whether trading days of the requested period lie outside the bars (not only weekends/holidays).
    partial: bool = False

    def settings(self) -> dict[str, Any]:
        """What a run's settings record of its data: only what differs from a full, gapless period."""
        out: dict[str, Any] = {}
        if self.partial:
            out["requested_period"] = [self.requested.start.isoformat(), self.requested.end.isoformat()]
        if self.gaps:
            out["data_gaps"] = {
                "count": len(self.gaps),
                "listed": [[a.isoformat(), b.isoformat()] for a, b in self.gaps[:_LISTED]],
            }
        return out


def bars_period(requested: Period, bars: pd.DataFrame) -> Period:
    """The part of ``requested`` the bars cover: from the first bar's date to the last one's (UTC)."""
    if bars.empty:
        return requested
    index = pd.DatetimeIndex(bars.index)
    first, last = index[0].tz_convert("UTC").date(), index[-1].tz_convert("UTC").date()
    return Period(max(requested.start, first), min(requested.end, last))


def coverage_of(requested: Period, bars: pd.DataFrame, data_source: str, bar_size: str) -> Coverage:
    """The coverage of loaded bars; gaps are checked for IBKR bars (US equity sessions)."""
    actual = bars_period(requested, bars)
    partial = _misses_trading_days(requested, actual, nyse=data_source == "ibkr")
    gaps: list[Range] = []
    if data_source == "ibkr" and not bars.empty:
        from ntrader.ibkr.sessions import Closures
        from ntrader.ibkr.windows import expected_sessions, find_gaps

        closures = Closures.nyse(actual.start_ts, actual.end_ts)
        expected = expected_sessions(
            actual.start_ts,
            actual.end_ts,
            bar_size,
            holidays=closures.holidays,
            early_closes=closures.early_closes,
        )
        gaps = find_gaps(expected, pd.DatetimeIndex(bars.index), bar_size)
    return Coverage(requested, actual, tuple(gaps), partial)


def _misses_trading_days(requested: Period, actual: Period, *, nyse: bool) -> bool:
    """True when ``requested`` has trading days before or after ``actual`` (NYSE sessions for IBKR
    bars, weekdays otherwise): a period that starts on a holiday is not partial."""
    if actual == requested:
        return False
    from ntrader.data import calendar

    def days(lo: Any, hi: Any) -> int:
        if lo > hi:
            return 0
        if nyse:
            return len(calendar.session_dates(lo, hi))
        return len(pd.bdate_range(lo, hi))

    one = pd.Timedelta(days=1)
    before = days(requested.start, (pd.Timestamp(actual.start) - one).date())
    after = days((pd.Timestamp(actual.end) + one).date(), requested.end)
    return before + after > 0
