"""The knobs of an IB fetch, as one frozen value."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ntrader.errors import InputError
from ntrader.ibkr.pacing import PacingRules

__all__ = ["WHAT_TO_SHOW", "FetchOptions"]

WHAT_TO_SHOW: tuple[str, ...] = ("TRADES", "MIDPOINT", "BID_ASK")


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

    def __post_init__(self) -> None:
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
