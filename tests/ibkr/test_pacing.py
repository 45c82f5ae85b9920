"""PacingLimiter on simulated time: never faster than IB allows, and not much slower."""

from __future__ import annotations

import asyncio
import random

import pytest

from ntrader.ibkr.pacing import PacingLimiter, PacingRules, RequestKey, historical_key


class SimClock:
    """Simulated time: ``sleep`` advances the clock instead of waiting."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


def _limiter(rules: PacingRules | None = None) -> tuple[PacingLimiter, SimClock]:
    clock = SimClock()
    return PacingLimiter(rules, now=clock.now, sleep=clock.sleep), clock


async def _send_all(limiter: PacingLimiter, clock: SimClock, keys: list[RequestKey]) -> list[float]:
    times = []
    for key in keys:
        await limiter.acquire(key)
        times.append(clock.t)
        limiter.release()
    return times


def _max_weight_in_window(sends: list[tuple[float, RequestKey]], span: float, eps: float = 1e-9) -> float:
    """Largest total weight of sends inside any half-open window [t, t + span)."""
    best = 0
    for t0, _ in sends:
        best = max(best, sum(k.weight for t, k in sends if t0 <= t < t0 + span - eps))
    return best


def _check_rules(times: list[float], keys: list[RequestKey], rules: PacingRules) -> None:
    sends = list(zip(times, keys, strict=True))
    assert _max_weight_in_window(sends, rules.window_seconds) <= rules.max_per_window
    by_contract: dict[tuple[str, str], list[tuple[float, RequestKey]]] = {}
    last_seen: dict[str, float] = {}
    for t, k in sends:
        by_contract.setdefault((k.contract, k.what_to_show), []).append((t, k))
        if k.signature in last_seen:
            assert t - last_seen[k.signature] >= rules.identical_cooldown - 1e-9
        last_seen[k.signature] = t
    for group in by_contract.values():
        assert _max_weight_in_window(group, rules.same_contract_window) <= rules.max_same_contract


def test_first_request_goes_at_once() -> None:
    limiter, _ = _limiter()
    assert limiter.delay_for(RequestKey("AAPL@SMART", "TRADES", "a")) == 0.0


def test_200_distinct_requests_respect_the_10_minute_window_and_keep_the_rate() -> None:
    limiter, clock = _limiter()
    keys = [RequestKey(f"S{i % 20}@SMART", "TRADES", f"req-{i}") for i in range(200)]
    times = asyncio.run(_send_all(limiter, clock, keys))
    _check_rules(times, keys, limiter.rules)
    # 60 per 600 s: the fastest legal schedule sends number 200 at 3 * 600 s.
    theoretical = 3 * 600.0
    assert times[-1] >= theoretical - 1e-6
    assert times[-1] <= theoretical / 0.9


def test_200_requests_for_one_contract_respect_every_rule() -> None:
    limiter, clock = _limiter()
    keys = [RequestKey("AAPL@SMART", "TRADES", f"window-{i}") for i in range(200)]
    times = asyncio.run(_send_all(limiter, clock, keys))
    _check_rules(times, keys, limiter.rules)
    # Five per 2 s (IB: six or more is a violation): each batch of 60 needs 11 more 2-second steps.
    theoretical = 3 * 600.0 + 2 * 2.0 * ((20 - 1) // 5)
    assert times[-1] <= theoretical / 0.9
    step = limiter.rules.short_window  # IB's 2 s with the safety margin and slack
    assert max(times[:60]) <= 11 * step + 1e-6


def test_identical_requests_wait_15_seconds_each() -> None:
    limiter, clock = _limiter()
    keys = [RequestKey("AAPL@SMART", "TRADES", "same")] * 10
    times = asyncio.run(_send_all(limiter, clock, keys))
    _check_rules(times, keys, limiter.rules)
    assert times[-1] == pytest.approx(9 * limiter.rules.cooldown)  # 15 s and the margin


def test_every_rule_keeps_a_safety_margin_and_the_margin_is_configurable() -> None:
    # IB times arrivals: a sixth same-contract request at 2.0 s, or a 61st at 600 s, can arrive
    # inside IB's window after network jitter. The default margin keeps clear of both.
    limiter, clock = _limiter()
    same = asyncio.run(
        _send_all(limiter, clock, [RequestKey("AAPL@SMART", "TRADES", f"w{i}") for i in range(6)])
    )
    assert same[5] - same[0] >= 2.0 * 1.05 + 0.2 - 1e-9
    limiter, clock = _limiter()
    many = asyncio.run(
        _send_all(limiter, clock, [RequestKey(f"S{i}@SMART", "TRADES", f"x{i}") for i in range(61)])
    )
    assert many[60] - many[0] >= 600 * 1.05 - 1e-9
    limiter, clock = _limiter(PacingRules(margin=0.0, same_contract_slack=0.0))
    bare = asyncio.run(
        _send_all(limiter, clock, [RequestKey(f"S{i}@SMART", "TRADES", f"x{i}") for i in range(61)])
    )
    assert bare[60] - bare[0] == pytest.approx(600.0)
    with pytest.raises(ValueError, match="margin"):
        PacingRules(margin=-0.1)


def test_bid_ask_counts_twice() -> None:
    limiter, clock = _limiter()
    keys = [RequestKey(f"S{i}@SMART", "BID_ASK", f"q{i}") for i in range(40)]
    times = asyncio.run(_send_all(limiter, clock, keys))
    _check_rules(times, keys, limiter.rules)
    assert sum(1 for t in times if t < 600.0) == 30
    assert times[30] == pytest.approx(limiter.rules.long_window)  # 600 s and the margin


def test_random_mix_never_breaks_a_rule_and_stays_near_the_allowed_rate() -> None:
    rng = random.Random(7)
    keys = []
    for i in range(200):
        contract = rng.choice(["AAPL@SMART", "MSFT@SMART", "SPY@SMART"])
        tick = "BID_ASK" if rng.random() < 0.1 else "TRADES"
        signature = f"{contract}|{tick}|{rng.randrange(30) if rng.random() < 0.2 else i}"
        keys.append(RequestKey(contract, tick, signature))
    limiter, clock = _limiter()
    times = asyncio.run(_send_all(limiter, clock, keys))
    _check_rules(times, keys, limiter.rules)
    weight = sum(k.weight for k in keys)
    # Lower bound from the 10-minute rule alone: full windows of 60 units, back to back.
    theoretical = (weight - 1) // 60 * 600.0
    assert times[-1] <= theoretical / 0.9


def test_concurrent_callers_are_served_in_order_within_the_rules() -> None:
    limiter, clock = _limiter(PacingRules(max_per_window=10, window_seconds=60))
    keys = [RequestKey(f"S{i}@SMART", "TRADES", f"c{i}") for i in range(25)]
    sent: list[tuple[float, RequestKey]] = []

    async def one(key: RequestKey) -> None:
        await limiter.acquire(key)
        sent.append((clock.t, key))
        limiter.release()

    async def main() -> None:
        await asyncio.gather(*(one(k) for k in keys))

    asyncio.run(main())
    assert [k for _, k in sent] == keys
    _check_rules([t for t, _ in sent], [k for _, k in sent], limiter.rules)
    assert sent[-1][0] == pytest.approx(2 * limiter.rules.long_window)  # two 60 s windows with margin


def test_open_request_limit_waits_for_a_release() -> None:
    limiter, clock = _limiter(PacingRules(max_open=3, max_per_window=100, max_same_contract=100))
    order: list[str] = []

    async def main() -> None:
        for i in range(3):
            await limiter.acquire(RequestKey(f"S{i}", "TRADES", f"o{i}"))
        assert limiter.open_requests == 3
        waiter = asyncio.create_task(limiter.acquire(RequestKey("S9", "TRADES", "o9")))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiter.done()
        order.append("release")
        limiter.release()
        await asyncio.wait_for(waiter, 1.0)
        order.append("acquired")
        assert limiter.open_requests == 3

    asyncio.run(main())
    assert order == ["release", "acquired"]
    assert clock.t == 0.0


def test_on_wait_hears_each_wait() -> None:
    limiter, clock = _limiter()
    heard: list[float] = []
    key = RequestKey("AAPL@SMART", "TRADES", "same")

    async def main() -> None:
        await limiter.acquire(key, on_wait=heard.append)
        limiter.release()
        await limiter.acquire(key, on_wait=heard.append)

    asyncio.run(main())
    assert heard == [pytest.approx(limiter.rules.cooldown)]
    assert clock.slept == heard


def test_backoff_grows_exponentially_and_is_capped() -> None:
    limiter = PacingLimiter(PacingRules(backoff_base=10.0, backoff_max=300.0))
    assert [limiter.backoff(a) for a in (1, 2, 3, 4, 5, 6)] == [10, 20, 40, 80, 160, 300]
    assert limiter.backoff(1000) == 300.0


def test_rules_must_admit_a_bid_ask_request() -> None:
    with pytest.raises(ValueError):
        PacingRules(max_per_window=1)


def test_historical_key_separates_contracts_and_identical_requests() -> None:
    a = historical_key("aapl", "smart", "TRADES", "20240103-00:00:00", "1 D", "1 min", True)
    b = historical_key("AAPL", "SMART", "TRADES", "20240104-00:00:00", "1 D", "1 min", True)
    c = historical_key("AAPL", "SMART", "BID_ASK", "20240103-00:00:00", "1 D", "1 min", True)
    assert a.contract == b.contract == "AAPL@SMART"
    assert a.signature != b.signature and a.signature != c.signature
    assert (a.weight, c.weight) == (1, 2)
