"""The knobs of an IB fetch, as one frozen value."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ntrader.errors import InputError
from ntrader.ibkr.pacing import PacingRules

__all__ = ["ON_BASIS_CHANGE", "WHAT_TO_SHOW", "FetchOptions"]

WHAT_TO_SHOW: tuple[str, ...] = ("TRADES", "MIDPOINT", "BID_ASK")
#: What a fetch does when IB's prices for stored bars changed (a split since): re-fetch the
#: whole stored series on the new basis and replace it, or refuse and store nothing.
ON_BASIS_CHANGE: tuple[str, ...] = ("refetch", "fail")


@dataclass(frozen=True)
class FetchOptions:
    """How a fetch runs; ``None`` means the setting from the environment (``IBKR_*``).

    ``rules`` are IB's pacing rules (tests pass short windows); ``max_attempts`` bounds the
    retries of one window after pacing violations, ``max_reconnects`` the reconnections of a
    whole fetch. ``allow_gaps``: return the report instead of raising DataGapError.
    ``refresh`` asks again for windows IB answered "no data"; without it such an answer is
    trusted for ``empty_max_age`` seconds (a day), after which the window is asked again.
    ``max_window`` (an IB duration such as "1 D") caps every request below the longest window IB
    accepts for the bar size; a gateway that refuses a window gets IB's documented limit anyway.
    ``on_basis_change``: "refetch" (re-fetch the stored series on IB's new price basis and replace
    it) or "fail" (refuse, keeping the stored series as it is). ``events``: also ask IB's daily
    ADJUSTED_LAST bars and store the splits and dividends they imply (``bar_events``).
    """

    what_to_show: str = "TRADES"
    use_rth: bool = True
    allow_gaps: bool = False
    newest_first: bool = False
    host: str | None = None
    port: int | None = None
    client_id: int | None = None
    connect_timeout: float | None = None
    request_timeout: float | None = None
    rules: PacingRules | None = None
    catalog_path: str | Path | None = None
    database_url: str | None = None
    max_attempts: int = 6
    max_reconnects: int = 5
    refresh: bool = False
    empty_max_age: float = 86_400.0
    max_window: str | None = None
    on_basis_change: str = "refetch"
    events: bool = False

    def __post_init__(self) -> None:
        policy = self.on_basis_change.strip().lower()
        if policy not in ON_BASIS_CHANGE:
            raise InputError(
                f"unknown --on-basis-change {self.on_basis_change!r}; use one of {', '.join(ON_BASIS_CHANGE)}"
            )
        object.__setattr__(self, "on_basis_change", policy)
        what = self.what_to_show.strip().upper()
        if what not in WHAT_TO_SHOW:
            raise InputError(f"unknown --what {self.what_to_show!r}; use one of {', '.join(WHAT_TO_SHOW)}")
        object.__setattr__(self, "what_to_show", what)
        if self.max_window is not None:
            from ntrader.ibkr.windows import parse_duration

            try:
                parse_duration(self.max_window)
            except ValueError:
                raise InputError(
                    f"bad --max-window {self.max_window!r}; e.g. '1 D', '3600 S', '1 W'"
                ) from None

    def with_knobs(self, **knobs: Any) -> FetchOptions:
        """A copy with some fields replaced; an unknown name is a TypeError, as for any keyword."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(knobs) - names)
        if unknown:
            raise TypeError(f"unknown fetch option(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **knobs) if knobs else self


def resolve_options(options: FetchOptions | None, knobs: dict[str, Any]) -> FetchOptions:
    """``options`` (default: all defaults) with ``knobs`` applied over it."""
    return (options or FetchOptions()).with_knobs(**knobs)
