"""IB's historical-data limits as the fake gateway enforces them: a literal table, IB's own words.

Written apart from the client's pacing and window planning on purpose: the fake is the
independent model the client is tested against, so it must not share the client's reading of
IB's rules. Sources: IB's "Historical Data Limitations" page (pacing) and its table of valid
duration / bar-size combinations (maximum duration per request).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

#: IB's largest duration per request, by bar-size setting in seconds (1 secs ... 1 day).
MAX_DURATION_BY_BAR_SECONDS: dict[int, str] = {
    1: "1800 S",
    5: "3600 S",
    60: "1 D",
    300: "1 W",
    3600: "1 M",
    86_400: "1 Y",
}

#: What IB accepts in practice, where it is more than its table: IB's own samples request
#: "10 D" of one-minute bars in one call.
ACCEPTED_DURATION_BY_BAR_SECONDS: dict[int, str] = {**MAX_DURATION_BY_BAR_SECONDS, 60: "10 D"}

#: Seconds per IB duration unit; a month and a year taken at their shortest sensible reading.
DURATION_UNIT_SECONDS: dict[str, int] = {
    "S": 1,
    "D": 86_400,
    "W": 7 * 86_400,
    "M": 30 * 86_400,
    "Y": 365 * 86_400,
}


def duration_seconds(text: str) -> int:
    """Seconds in an IB duration string ("1800 S", "2 D", "1 W", "1 M", "1 Y")."""
    count, _, unit = text.strip().partition(" ")
    if not count.isdigit() or unit.upper() not in DURATION_UNIT_SECONDS:
        raise ValueError(f"not an IB duration: {text!r}")
    return int(count) * DURATION_UNIT_SECONDS[unit.upper()]


def max_duration_seconds(bar_seconds: int, table: dict[int, str] = MAX_DURATION_BY_BAR_SECONDS) -> int:
    """IB's longest request for bars of ``bar_seconds``: the limit of the nearest size below."""
    fitting = [size for size in table if size <= bar_seconds] or [1]
    return duration_seconds(table[max(fitting)])


@dataclass(frozen=True)
class PacingLimits:
    """IB's pacing rules for historical data, as IB states them.

    - no more than ``requests_per_window`` (60) requests within ``window_seconds`` (10 minutes);
    - no identical request within ``identical_seconds`` (15 s);
    - "six or more" requests for the same contract, exchange and tick type within
      ``same_contract_seconds`` (2 s) are a violation: ``same_contract_violation`` is six;
    - a BID_ASK request counts as two.
    """

    requests_per_window: int = 60
    window_seconds: float = 600.0
    identical_seconds: float = 15.0
    same_contract_violation: int = 6
    same_contract_seconds: float = 2.0


IB_PACING = PacingLimits()


class PacingJudge:
    """Says whether a request breaks IB's pacing, judged on the gateway's own clock at arrival."""

    def __init__(self, limits: PacingLimits = IB_PACING, now: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._now = now
        # (arrival time, weight, contract, tick type, whole request) of accepted requests.
        self._seen: deque[tuple[float, int, str, str, str]] = deque()

    def admit(self, contract: str, tick_type: str, request: str) -> bool:
        """True (and counted) when the request keeps every rule; False for a pacing violation."""
        now, lim = self._now(), self.limits
        horizon = max(lim.window_seconds, lim.identical_seconds, lim.same_contract_seconds)
        while self._seen and now - self._seen[0][0] >= horizon:
            self._seen.popleft()
        weight = 2 if tick_type.upper() == "BID_ASK" else 1
        in_window = sum(w for t, w, *_ in self._seen if now - t < lim.window_seconds)
        same = sum(
            w
            for t, w, c, k, _ in self._seen
            if now - t < lim.same_contract_seconds and (c, k) == (contract, tick_type.upper())
        )
        identical = any(r == request and now - t < lim.identical_seconds for t, _, _, _, r in self._seen)
        if in_window + weight > lim.requests_per_window or same + weight >= lim.same_contract_violation:
            return False
        if identical:
            return False
        self._seen.append((now, weight, contract, tick_type.upper(), request))
        return True
