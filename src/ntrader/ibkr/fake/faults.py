"""What the fake gateway is told to do wrong, and what it records of each request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from ntrader.ibkr.fake.limits import IB_PACING, PacingLimits


def _utc(value: pd.Timestamp | str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@dataclass(frozen=True)
class FaultPlan:
    """Misbehaviour to script, each keyed on what the client sends.

    - ``pacing_violation_on``: numbers (1-based, counted per gateway) of historical requests
      answered with error 162 "... pacing violation".
    - ``no_data_symbols``: historical requests for these answer 162 "HMDS query returned no data".
    - ``no_data_windows``: bars starting inside these [start, end) UTC ranges are left out; a
      request left with no bars at all answers 162 "no data", as IB does.
    - ``unknown_symbols``: contract details and history answer 200 "No security definition"
      (symbols the gateway was not started with answer the same).
    - ``no_permission_symbols``: historical requests for these answer 162 "No market data
      permissions for <exchange> STK", as IB does for an account without the subscription.
    - ``reply_delay``: seconds to wait before answering each historical request.
    - ``drop_on_historical_request``: close the client's socket when the N-th historical request
      arrives, leaving it unanswered.
    - ``silent``: accept TCP connections but never answer the handshake.
    - ``enforce_pacing``: answer 162 "pacing violation" whenever a client breaks IB's pacing
      rules (``True``: IB's own, ``limits.IB_PACING``; or other ``PacingLimits``), judged on
      the gateway's clock when the request arrives, like a real Gateway.
    - ``enforce_max_duration``: answer 162 "Time length exceed max" when a request spans more
      than IB's documented maximum for its bar size (``limits.MAX_DURATION_BY_BAR_SECONDS``).
    - ``enforce_accepted_duration``: the same, at what IB accepts in practice
      (``limits.ACCEPTED_DURATION_BY_BAR_SECONDS``).
    """

    pacing_violation_on: frozenset[int] = frozenset()
    no_data_symbols: frozenset[str] = frozenset()
    no_data_windows: tuple[tuple[pd.Timestamp, pd.Timestamp], ...] = ()
    unknown_symbols: frozenset[str] = frozenset()
    no_permission_symbols: frozenset[str] = frozenset()
    reply_delay: float = 0.0
    drop_on_historical_request: int | None = None
    silent: bool = False
    enforce_pacing: PacingLimits | bool | None = None
    enforce_max_duration: bool = False
    enforce_accepted_duration: bool = False

    def __post_init__(self) -> None:
        # Accept any iterables (lists, sets) from callers; store hashable, normalised forms.
        object.__setattr__(self, "pacing_violation_on", frozenset(self.pacing_violation_on))
        object.__setattr__(self, "no_data_symbols", frozenset(s.upper() for s in self.no_data_symbols))
        object.__setattr__(self, "unknown_symbols", frozenset(s.upper() for s in self.unknown_symbols))
        denied = frozenset(s.upper() for s in self.no_permission_symbols)
        object.__setattr__(self, "no_permission_symbols", denied)
        windows = tuple((_utc(a), _utc(b)) for a, b in self.no_data_windows)
        object.__setattr__(self, "no_data_windows", windows)
        if self.enforce_pacing is True:
            object.__setattr__(self, "enforce_pacing", IB_PACING)
        elif self.enforce_pacing is False:
            object.__setattr__(self, "enforce_pacing", None)

    @property
    def pacing_limits(self) -> PacingLimits | None:
        return self.enforce_pacing if isinstance(self.enforce_pacing, PacingLimits) else None


@dataclass(frozen=True)
class Market:
    """Facts of the fake's market that a real one has too, beyond bars and faults.

    - ``listed``: first trading day per symbol: nothing is served before it, and
      reqHeadTimeStamp says so (symbols not named: data from 1990).
    - ``listings``: symbols IB knows on several exchanges, in the order IB answers them
      (e.g. ``{"MSFT": ("PINK", "NASDAQ")}``).
    - ``splits``: split factors since the synthetic prices began: IB serves TRADES split-adjusted,
      so a gateway "after the split" divides every price by the factor.
    - ``dividends``: cash dividends per symbol as (ex-date, per share in the served basis): TRADES
      ignore them, as IB's do; ADJUSTED_LAST bars before each ex-date are scaled down by them.
    """

    listed: Mapping[str, dt.date] = field(default_factory=dict)
    listings: Mapping[str, Sequence[str]] = field(default_factory=dict)
    splits: Mapping[str, float] = field(default_factory=dict)
    dividends: Mapping[str, Sequence[tuple[dt.date, float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        paid = {
            s.upper(): tuple(sorted((d, float(v)) for d, v in rows)) for s, rows in self.dividends.items()
        }
        object.__setattr__(self, "dividends", paid)
        object.__setattr__(self, "listed", {s.upper(): d for s, d in self.listed.items()})
        listings = {s.upper(): tuple(x.upper() for x in ex) for s, ex in self.listings.items()}
        object.__setattr__(self, "listings", listings)
        object.__setattr__(self, "splits", {s.upper(): float(f) for s, f in self.splits.items()})


@dataclass
class HistoricalRecord:
    """One historical-data request as the gateway received it, and how it was answered."""

    number: int
    req_id: int
    client_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    end: str
    duration: str
    bar_size: str
    what_to_show: str
    use_rth: bool
    format_date: int
    received_at: float
    outcome: str = (
        "pending"  # bars | no-data | pacing | unknown | no-permission | invalid | dropped | cancelled
    )
    bar_count: int = 0


@dataclass
class ContractRecord:
    """One contract-details request as the gateway received it; ``found`` says if it answered."""

    req_id: int
    client_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    found: bool
