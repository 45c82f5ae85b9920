"""Keep historical-data requests within all of IB's pacing rules at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ntrader.ibkr.locking import atomic_write, exclusive


@dataclass(frozen=True)
class PacingRules:
    """IB's historical-data limits (defaults: the strict rules IB documents).

    ``max_per_window`` requests in any ``window_seconds``; no identical request within
    ``identical_cooldown`` seconds; at most ``max_same_contract`` requests for one
    contract/exchange/tick type in ``same_contract_window`` seconds (IB calls "six or more"
    within two seconds a violation, so five); at most ``max_open`` requests awaiting their
    reply. BID_ASK requests count twice toward the first and third.
    Pacing-violation retries wait ``backoff_base * 2**(attempt - 1)``, at most ``backoff_max``.
    IB times requests when they arrive, not when they leave, so every rule keeps a safety
    margin: each time window is lengthened by ``margin`` (a fraction: 0.05 makes IB's ten
    minutes 630 s and its 15 s 15.75 s), and ``same_contract_slack`` seconds more are added to
    the short same-contract window, so that network jitter cannot squeeze a sixth request into
    IB's two seconds or a 61st into its ten minutes.
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
    margin: float = 0.05

    def __post_init__(self) -> None:
        if self.max_per_window < 2 or self.max_same_contract < 2 or self.max_open < 1:
            # A BID_ASK request weighs 2, so smaller limits could never admit one.
            raise ValueError("pacing limits must allow at least two requests per window")
        if not 0 <= self.margin <= 1:
            raise ValueError(f"pacing margin must be between 0 and 1, got {self.margin}")

    @property
    def long_window(self) -> float:
        """The ten-minute window with its margin."""
        return self.window_seconds * (1 + self.margin)

    @property
    def short_window(self) -> float:
        """The same-contract window with its margin and slack."""
        return self.same_contract_window * (1 + self.margin) + self.same_contract_slack

    @property
    def cooldown(self) -> float:
        """The identical-request cooldown with its margin."""
        return self.identical_cooldown * (1 + self.margin)


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
        now: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = _asyncio_sleep,
        ledger: SharedLedger | None = None,
    ) -> None:
        self.rules = rules or PacingRules()
        # A ledger shared between processes needs a clock they share: the wall clock.
        self._now = now or (time.time if ledger is not None else time.monotonic)
        self.ledger = ledger
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
        keep = max(self.rules.long_window, self.rules.short_window)
        while self._sent and now - self._sent[0][0] >= keep:
            self._sent.popleft()
        cooldown = self.rules.cooldown
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
            self._wait_to_fit(everything, now, rules.long_window, rules.max_per_window, weight),
            self._wait_to_fit(same, now, rules.short_window, rules.max_same_contract, weight),
        ]
        last = self._last_identical.get(key.signature)
        if last is not None:
            delays.append(max(0.0, last + rules.cooldown - now))
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
                if self.ledger is None:
                    delay = self.delay_for(key)
                    if delay <= 0:
                        self.record(key)
                        return
                else:
                    with self.ledger.sends() as sends:
                        # Every process's recent sends, this one's included, decide the delay.
                        self._sent = deque(sorted(sends, key=lambda s: s[0]))
                        self._last_identical = {}
                        for t, _, k in self._sent:
                            self._last_identical[k.signature] = t
                        delay = self.delay_for(key)
                        if delay <= 0:
                            self.record(key)
                            sends[:] = list(self._sent)
                            return
                if on_wait is not None:
                    on_wait(delay)
                await self._sleep(delay)

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


class SharedLedger:
    """The recent historical-data requests of every process that talks to one gateway.

    IB paces per account, not per process: two ``data fetch`` processes each keeping the rules
    can together break them. The ledger is a small JSON file read and rewritten under a
    cross-process lock for each send; entries older than ``keep_seconds`` are dropped.
    """

    def __init__(self, path: Path, keep_seconds: float = 700.0) -> None:
        self.path = Path(path)
        self.keep_seconds = keep_seconds

    @contextlib.contextmanager
    def sends(self) -> Iterator[list[tuple[float, int, RequestKey]]]:
        """The recorded sends (wall-clock time, weight, key), under the lock; changes are saved."""
        with exclusive(self.path.with_suffix(".lock")):
            sends = self._read()
            before = list(sends)
            yield sends
            if sends != before:
                horizon = time.time() - self.keep_seconds
                rows = [[t, w, *k] for t, w, k in sends if t >= horizon]
                atomic_write(self.path, json.dumps(rows))

    def _read(self) -> list[tuple[float, int, RequestKey]]:
        try:
            rows = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []  # none yet, or unreadable: start afresh rather than stop fetching
        out = []
        for row in rows:
            with contextlib.suppress(TypeError, ValueError):
                out.append((float(row[0]), int(row[1]), RequestKey(str(row[2]), str(row[3]), str(row[4]))))
        return out


def ledger_for(home: Path, host: str, port: int) -> SharedLedger:
    """The ledger every process shares for the gateway at host:port."""
    safe = "".join(c if c.isalnum() or c in ".-" else "_" for c in host)
    return SharedLedger(home / "pacing" / f"{safe}-{int(port)}.json")
