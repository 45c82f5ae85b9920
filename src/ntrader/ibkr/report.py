"""What a fetch tells: progress while it runs, and per instrument what it did and what is missing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ntrader.errors import DataGapError

__all__ = ["FetchProgress", "FetchReport", "Range", "SymbolFetch"]

Range = tuple[pd.Timestamp, pd.Timestamp]


@dataclass(frozen=True)
class FetchProgress:
    """A snapshot for a progress display: one per window answered, wait started or note."""

    symbol: str
    windows_total: int
    windows_done: int
    bars: int
    pacing_waits: int
    waited_seconds: float
    note: str = ""
    waiting: float = 0.0  # a pacing wait of this many seconds starts now (a display counts it down)


@dataclass
class SymbolFetch:
    """What a fetch did for one instrument, and what is still missing."""

    symbol: str
    bar_size: str
    what_to_show: str
    use_rth: bool
    start: pd.Timestamp
    end: pd.Timestamp
    instrument_id: str | None = None
    source: str = "ibkr"
    windows_planned: int = 0
    cached_windows: int = 0
    requests: int = 0
    minimum_requests: int = 0  # what IB's longest accepted windows need for what was missing
    bars_received: int = 0
    bars_stored: int = 0
    inserted: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    pacing_waits: int = 0
    waited_seconds: float = 0.0
    retries: int = 0
    reconnects: int = 0
    empty_windows: list[Range] = field(default_factory=list)
    failed_windows: list[tuple[Range, str]] = field(default_factory=list)
    gaps: list[Range] = field(default_factory=list)
    error: str | None = None
    first_available: pd.Timestamp | None = None  # IB's head timestamp: nothing exists before it
    events: int = 0  # splits and dividends inferred from IB's ADJUSTED_LAST bars
    notes: list[str] = field(default_factory=list)  # what the fetch did besides fetching (e.g. re-based)

    @property
    def plan_start(self) -> pd.Timestamp:
        """Where requests and gap checks begin: the period's start, or IB's first bar if later."""
        head = self.first_available
        return self.start if head is None or head <= self.start else head

    def to_json_dict(self) -> dict[str, Any]:
        def rng(r: Range) -> list[str]:
            return [r[0].isoformat(), r[1].isoformat()]

        return {
            "symbol": self.symbol,
            "instrument_id": self.instrument_id,
            "bar_size": self.bar_size,
            "what_to_show": self.what_to_show,
            "use_rth": self.use_rth,
            "source": self.source,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "bars": self.bars_stored,
            "bars_received": self.bars_received,
            "inserted": self.inserted,
            "first": self.first.isoformat() if self.first is not None else None,
            "last": self.last.isoformat() if self.last is not None else None,
            "requests": self.requests,
            "minimum_requests": self.minimum_requests,
            "windows_planned": self.windows_planned,
            "cached_windows": self.cached_windows,
            "pacing_waits": self.pacing_waits,
            "waited_seconds": round(self.waited_seconds, 3),
            "retries": self.retries,
            "reconnects": self.reconnects,
            "empty_windows": [rng(r) for r in self.empty_windows],
            "failed_windows": [{"window": rng(r), "error": why} for r, why in self.failed_windows],
            "gaps": [rng(r) for r in self.gaps],
            "error": self.error,
            "first_available": self.first_available.isoformat() if self.first_available is not None else None,
            "events": self.events,
            "notes": list(self.notes),
        }


@dataclass
class FetchReport:
    """The outcome of one fetch, per instrument."""

    results: list[SymbolFetch]

    @property
    def gaps(self) -> list[tuple[str, Range]]:
        return [(r.symbol, g) for r in self.results for g in r.gaps]

    @property
    def errors(self) -> list[tuple[str, str]]:
        return [(r.symbol, r.error) for r in self.results if r.error]

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.results)

    @property
    def minimum_requests(self) -> int:
        return sum(r.minimum_requests for r in self.results)

    def gap_error(self) -> DataGapError:
        """The error for gaps the user did not accept, naming the first few missing windows."""
        shown = [f"{sym} {a:%Y-%m-%d %H:%M} → {b:%Y-%m-%d %H:%M}" for sym, (a, b) in self.gaps[:5]]
        more = f" and {len(self.gaps) - 5} more" if len(self.gaps) > 5 else ""
        return DataGapError(
            f"{len(self.gaps)} missing window(s) after the fetch: {'; '.join(shown)}{more} "
            "(UTC; pass --allow-gaps to accept them)"
        )

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "results": [r.to_json_dict() for r in self.results],
            "requests": self.requests,
            "minimum_requests": self.minimum_requests,
        }
