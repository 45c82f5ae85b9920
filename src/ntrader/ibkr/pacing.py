"""Keep historical-data requests within all of IB's pacing rules at once."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class PacingRules:
    """IB's historical-data limits (defaults: the strict rules IB documents).

    ``max_per_window`` requests in any ``window_seconds``; no identical request within
    ``identical_cooldown`` seconds; at most ``max_same_contract`` requests for one
    contract/exchange/tick type in ``same_contract_window`` seconds (IB calls "six or more"
    within two seconds a violation, so five); at most ``max_open`` requests awaiting their
    reply. BID_ASK requests count twice toward the first and third.
    Pacing-violation retries wait ``backoff_base * 2**(attempt - 1)``, at most ``backoff_max``.
    IB times requests when they arrive, not when they leave: ``same_contract_slack`` seconds are
    added to the short same-contract window so that network jitter cannot squeeze a sixth
    request into IB's two seconds.
    """

    max_per_window: int = 60
    window_seconds: float = 600.0
    identical_cooldown: float = 15.0
    max_same_contract: int = 5
    same_contract_window: float = 2.0
    same_contract_slack: float = 0.2
    max_open: int = 50
    backoff_base: float = 15.0
    backoff_max: float = 600.0

    def __post_init__(self) -> None:
        if self.max_per_window < 2 or self.max_same_contract < 2 or self.max_open < 1:
            # A BID_ASK request weighs 2, so smaller limits could never admit one.
            raise ValueError("pacing limits must allow at least two requests per window")


class RequestKey(NamedTuple):
    """What IB compares: the contract, the tick type, and the whole request for identity.

    ``contract`` names contract and exchange (e.g. "AAPL@SMART"), ``what_to_show`` the tick
    type ("TRADES", "BID_ASK", ...), ``signature`` everything else that makes two requests
    identical (end, duration, bar size, RTH flag).
    """

    contract: str
    what_to_show: str
    signature: str

    @property
    def weight(self) -> int:
        return 2 if self.what_to_show.upper() == "BID_ASK" else 1


def historical_key(
    symbol: str,
    exchange: str,
    what_to_show: str,
    end: str,
    duration: str,
    bar_size: str,
    use_rth: bool,
) -> RequestKey:
    """The pacing key of one reqHistoricalData call, built the same way everywhere."""
    contract = f"{symbol.upper()}@{exchange.upper()}"
    signature = f"{contract}|{what_to_show}|{end}|{duration}|{bar_size}|{int(use_rth)}"
    return RequestKey(contract, what_to_show.upper(), signature)


async def _asyncio_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class PacingLimiter:
    """Delays requests just enough to respect every rule in ``PacingRules``.

    ``now`` and ``sleep`` are injectable so tests can run on simulated time. Acquisitions are
    served one at a time in arrival order, so concurrent callers never race for the same slot.
    """

    def __init__(
        self,
        rules: PacingRules | None = None,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = _asyncio_sleep,
    ) -> None:
        self.rules = rules or PacingRules()
        self._now = now
        self._sleep = sleep
        # (send time, weight, key) of recent sends, oldest first.
        self._sent: deque[tuple[float, int, RequestKey]] = deque()
        self._last_identical: dict[str, float] = {}
        self._open = 0
        self._lock: asyncio.Lock | None = None
        self._slot_freed: asyncio.Event | None = None

    @property
    def open_requests(self) -> int:
        return self._open

    def _prune(self, now: float) -> None:
        keep = max(
            self.rules.window_seconds, self.rules.same_contract_window + self.rules.same_contract_slack
        )
        while self._sent and now - self._sent[0][0] >= keep:
            self._sent.popleft()
        cooldown = self.rules.identical_cooldown
        if len(self._last_identical) > 1024:
            self._last_identical = {sig: t for sig, t in self._last_identical.items() if now - t < cooldown}

    @staticmethod
    def _wait_to_fit(
        sends: list[tuple[float, int]], now: float, span: float, limit: int, weight: int
    ) -> float:
        """Seconds until ``weight`` more fits under ``limit`` for sends in the last ``span``."""
        recent = [(t, w) for t, w in sends if now - t < span]
        total = sum(w for _, w in recent) + weight
        if total <= limit:
            return 0.0
        # Drop the oldest sends until the new one fits; it may go once the last dropped expires.
        for t, w in recent:
            total -= w
            if total <= limit:
                return max(0.0, t + span - now)
        return max(0.0, recent[-1][0] + span - now)

    def delay_for(self, key: RequestKey) -> float:
        """Seconds to wait before ``key`` may be sent under the time-based rules (0 = now).

        The open-request limit is not a matter of time: ``acquire`` waits for a ``release``.
        """
        now = self._now()
        self._prune(now)
        rules = self.rules
        weight = key.weight
        everything = [(t, w) for t, w, _ in self._sent]
        same = [(t, w) for t, w, k in self._sent if (k.contract, k.what_to_show) == key[:2]]
        delays = [
            self._wait_to_fit(everything, now, rules.window_seconds, rules.max_per_window, weight),
            self._wait_to_fit(
                same,
                now,
                rules.same_contract_window + rules.same_contract_slack,
                rules.max_same_contract,
                weight,
            ),
        ]
        last = self._last_identical.get(key.signature)
        if last is not None:
            delays.append(max(0.0, last + rules.identical_cooldown - now))
        return max(delays)

    def record(self, key: RequestKey) -> None:
        """Count ``key`` as sent now and open, without waiting (``acquire`` does both)."""
        now = self._now()
        self._sent.append((now, key.weight, key))
        self._last_identical[key.signature] = now
        self._open += 1

    async def acquire(self, key: RequestKey, on_wait: Callable[[float], None] | None = None) -> None:
        """Wait until ``key`` may be sent, then count it as sent and open.

        ``on_wait`` hears each wait (in seconds) before it starts, e.g. to tell the user.
        """
        if self._lock is None:
            self._lock = asyncio.Lock()
            self._slot_freed = asyncio.Event()
        assert self._slot_freed is not None
        async with self._lock:
            while True:
                if self._open >= self.rules.max_open:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                    continue
                delay = self.delay_for(key)
                if delay <= 0:
                    break
                if on_wait is not None:
                    on_wait(delay)
                await self._sleep(delay)
            self.record(key)

    def release(self) -> None:
        """Mark one open request as answered (or failed), freeing a slot."""
        self._open = max(0, self._open - 1)
        if self._slot_freed is not None:
            self._slot_freed.set()

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1, 2, ...) after a pacing violation."""
        exponent = max(0, attempt - 1)
        if exponent > 32:
            return self.rules.backoff_max
        return float(min(self.rules.backoff_max, self.rules.backoff_base * 2**exponent))
