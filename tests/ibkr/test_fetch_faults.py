"""What IB refuses or forgets, over TCP against the fake gateway: permissions, stale "no data", windows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from ntrader.ibkr.catalog import Manifest, SeriesKey
from ntrader.ibkr.fake import FakeGateway, FaultPlan, Market
from ntrader.ibkr.fetch import fetch_bars
from ntrader.ibkr.pacing import PacingRules

FAST = PacingRules(
    window_seconds=1.0,
    identical_cooldown=0.01,
    same_contract_window=0.01,
    same_contract_slack=0.0,
    max_same_contract=6,
    backoff_base=0.01,
    backoff_max=0.05,
)


def fetch(gateway: FakeGateway, *symbols: str, **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "port": gateway.port,
        "host": "127.0.0.1",
        "rules": FAST,
        "connect_timeout": 5,
        "request_timeout": 5,
        "allow_gaps": True,
    }
    options.update(kwargs)
    return fetch_bars(list(symbols), **options)


def test_missing_subscription_stops_at_the_first_window_with_ibs_text(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway(faults=FaultPlan(no_permission_symbols={"MSFT"}))
    report = fetch(gateway, "MSFT", "AAPL", start="2024-01-02", end="2024-03-28", bar_size="1MIN")
    msft = [r for r in gateway.historical_requests if r.symbol == "MSFT"]
    assert [r.outcome for r in msft] == ["no-permission"]  # one request, not one per window
    [(symbol, why)] = report.errors
    assert symbol == "MSFT"
    assert "No market data permissions for NASDAQ STK" in why and "Market Data Subscriptions" in why
    assert report.results[1].error is None and report.results[1].bars_stored > 0  # AAPL went on


def test_no_data_is_trusted_for_a_while_then_asked_again_and_refresh_asks_at_once(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    # A transient "no data" for a whole symbol: the first fetch stores nothing.
    gateway = make_gateway(faults=FaultPlan(no_data_symbols={"AAPL"}))
    first = fetch(gateway, "AAPL", start="2024-01-02", end="2024-01-31").results[0]
    assert first.bars_stored == 0 and first.requests == 1
    gateway.stop()
    healthy = make_gateway()
    # Within the expiry the empty answer stands: nothing is asked.
    again = fetch(healthy, "AAPL", start="2024-01-02", end="2024-01-31").results[0]
    assert again.requests == 0 and healthy.historical_requests == []
    # --refresh asks again for known-empty windows.
    refreshed = fetch(healthy, "AAPL", start="2024-01-02", end="2024-01-31", refresh=True).results[0]
    assert refreshed.requests == 1 and refreshed.bars_stored == 21 and refreshed.gaps == []
    key = SeriesKey("AAPL.NASDAQ", "1-DAY")
    assert Manifest.load().empty(key) == []  # the window now has bars: no longer recorded empty


def test_empty_windows_expire(make_gateway: Callable[..., FakeGateway], database_url: str) -> None:
    gateway = make_gateway(faults=FaultPlan(no_data_symbols={"AAPL"}))
    fetch(gateway, "AAPL", start="2024-01-02", end="2024-01-31")
    gateway.stop()
    healthy = make_gateway()
    # An expiry of zero seconds: an empty answer from before is stale at once.
    later = fetch(healthy, "AAPL", start="2024-01-02", end="2024-01-31", empty_max_age=0).results[0]
    assert later.requests == 1 and later.bars_stored == 21


def test_an_old_manifest_without_answer_times_asks_its_empty_windows_again(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    import json

    gateway = make_gateway(faults=FaultPlan(no_data_symbols={"AAPL"}))
    fetch(gateway, "AAPL", start="2024-01-02", end="2024-01-31")
    manifest = Manifest.load()
    raw = json.loads(manifest.path.read_text())
    for entry in raw["series"].values():
        entry["empty"] = [row[:2] for row in entry["empty"]]  # the version-1 shape
    manifest.path.write_text(json.dumps(raw))
    gateway.stop()
    healthy = make_gateway()
    assert fetch(healthy, "AAPL", start="2024-01-02", end="2024-01-31").results[0].bars_stored == 21
    assert [r.outcome for r in healthy.historical_requests] == ["bars"]


@pytest.mark.parametrize("bad", ["NOSUCH"])
def test_error_text_names_the_symbol_once(
    make_gateway: Callable[..., FakeGateway], database_url: str, bad: str
) -> None:
    gateway = make_gateway()
    report = fetch(gateway, bad, start="2024-01-02", end="2024-01-05")
    [(symbol, why)] = report.errors
    assert symbol == bad and bad not in why and why.startswith("IB error 200")


def test_windows_before_the_first_bar_are_never_planned(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    import datetime as dt

    # NEWCO lists on 1 March 2024: IB's head timestamp says so, and nothing exists before it.
    gateway = make_gateway(symbols=("AAPL", "NEWCO"), market=Market(listed={"NEWCO": dt.date(2024, 3, 1)}))
    report = fetch(gateway, "NEWCO", start="2024-01-02", end="2024-03-08", bar_size="1MIN")
    result = report.results[0]
    assert gateway.head_requests == ["NEWCO"]
    assert result.first_available is not None and result.first_available.date() == dt.date(2024, 3, 1)
    outcomes = [r.outcome for r in gateway.historical_requests]
    assert outcomes and set(outcomes) == {"bars"}  # not one "no data" window before the listing
    assert result.gaps == [] and result.bars_stored == 6 * 390
    # The head timestamp is remembered: a refetch asks nothing at all.
    again = fetch(gateway, "NEWCO", start="2024-01-02", end="2024-03-08", bar_size="1MIN").results[0]
    assert again.requests == 0 and gateway.head_requests == ["NEWCO"]


def test_ambiguous_stock_takes_its_primary_listing_or_is_refused_with_the_candidates(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    # IB answers MSFT with a PINK listing first; the primary (NASDAQ) one is what a user means.
    gateway = make_gateway(market=Market(listings={"MSFT": ("PINK", "NASDAQ"), "AAPL": ("PINK", "OTC")}))
    report = fetch(gateway, "MSFT", start="2024-01-02", end="2024-01-05")
    assert report.results[0].instrument_id == "MSFT.NASDAQ" and report.results[0].bars_stored == 4
    # No primary listing among the matches: refused, with the candidates and how to choose.
    refused = fetch(gateway, "AAPL", start="2024-01-02", end="2024-01-05")
    [(symbol, why)] = refused.errors
    assert symbol == "AAPL" and "2 IB contracts match" in why
    assert "on PINK (--con-id 1265598)" in why and "on OTC (--con-id 2265598)" in why
    assert gateway.historical_requests[-1].symbol == "MSFT"  # nothing was fetched for AAPL
    chosen = fetch(gateway, "AAPL", start="2024-01-02", end="2024-01-05", exchange="OTC").results[0]
    assert chosen.instrument_id == "AAPL.OTC" and chosen.error is None
    by_id = fetch(gateway, "AAPL", start="2024-01-02", end="2024-01-05", con_id=1265598).results[0]
    assert by_id.instrument_id == "AAPL.PINK" and by_id.error is None


def test_a_split_between_two_fetches_is_caught_at_the_join_and_nothing_mixes(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    from ntrader.data.store import read_bars

    before = make_gateway()
    fetch(before, "AAPL", start="2024-01-02", end="2024-01-31")
    stored = read_bars("AAPL", "1-DAY", "ibkr", url=database_url)
    before.stop()
    after = make_gateway(
        market=Market(splits={"AAPL": 4.0})
    )  # a 4:1 split since: IB now serves every price / 4
    report = fetch(after, "AAPL", start="2024-01-02", end="2024-02-29", on_basis_change="fail")
    [(symbol, why)] = report.errors
    assert symbol == "AAPL" and "0.25 times the stored ones" in why and "split" in why
    # One request: February's window, widened to take in the last stored day (31 January).
    [joined] = after.historical_requests
    assert joined.end == "20240301-00:00:00" and joined.duration == "30 D"
    # The stored series is untouched: one price basis, no bars from after the split joined to it.
    again = read_bars("AAPL", "1-DAY", "ibkr", url=database_url)
    assert again.equals(stored)
    assert Manifest.load().fetched(SeriesKey("AAPL.NASDAQ", "1-DAY"))[-1][1] == pd.Timestamp(
        "2024-02-01", tz="UTC"
    )

    # Without a split the same extension passes the check and stores February.
    same = make_gateway()
    ok = fetch(same, "AAPL", start="2024-01-02", end="2024-02-29").results[0]
    assert ok.error is None and ok.bars_stored == 21 + 20


def test_an_extension_too_long_to_widen_asks_the_stored_day_first(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    before = make_gateway()
    fetch(before, "AAPL", start="2024-01-02", end="2024-01-03", bar_size="1MIN")
    before.stop()
    after = make_gateway(market=Market(splits={"AAPL": 2.0}))
    report = fetch(
        after, "AAPL", start="2024-01-02", end="2024-01-05", bar_size="1MIN", on_basis_change="fail"
    )
    assert "0.5 times the stored ones" in report.errors[0][1]
    assert len(after.historical_requests) == 1  # the stored day alone; no new window was asked
    same = make_gateway()
    ok = fetch(same, "AAPL", start="2024-01-02", end="2024-01-05", bar_size="1MIN").results[0]
    assert ok.error is None and ok.gaps == [] and ok.bars_stored == 4 * 390


def test_one_minute_bars_come_in_ten_day_windows_and_fall_back_when_refused(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    # A gateway that accepts what IB accepts in practice: January in three requests, not 21.
    gateway = make_gateway(faults=FaultPlan(enforce_accepted_duration=True))
    result = fetch(gateway, "AAPL", start="2024-01-02", end="2024-01-31", bar_size="1MIN").results[0]
    assert [r.duration for r in gateway.historical_requests] == ["10 D", "10 D", "10 D"]
    assert result.requests == result.minimum_requests == 3
    assert result.gaps == [] and result.bars_stored == 21 * 390
    # A gateway that holds to IB's documented table refuses the first: one-day windows from then on.
    strict = make_gateway(faults=FaultPlan(enforce_max_duration=True))
    fell = fetch(strict, "MSFT", start="2024-01-02", end="2024-01-31", bar_size="1MIN").results[0]
    outcomes = [r.outcome for r in strict.historical_requests]
    assert outcomes[0] == "too-long" and set(outcomes[1:]) == {"bars"}
    assert {r.duration for r in strict.historical_requests[1:]} == {"1 D"}
    assert fell.gaps == [] and fell.bars_stored == 21 * 390 and fell.failed_windows == []
    assert fell.requests == len(outcomes) and fell.minimum_requests == 3


def test_the_fetch_summary_prints_requests_against_the_minimum(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    from click.testing import CliRunner

    from ntrader.cli import cli

    gateway = make_gateway(faults=FaultPlan(enforce_accepted_duration=True))
    args = ["data", "fetch", "--instruments", "SPY", "--start", "2024-11-01", "--end", "2024-11-29"]
    result = CliRunner().invoke(cli, [*args, "--timeframe", "1MIN", "--port", str(gateway.port)])
    assert result.exit_code == 0, result.output  # 29 November ends at 13:00: not a gap
    assert "Requests (minimum)" in result.output and "3 (3)" in result.output


def test_newest_first_asks_the_newest_window_first(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    # (Moved from a test of plan_windows' old newest_first flag: the fetch now orders its windows.)
    gateway = make_gateway()
    fetch(
        gateway,
        "AAPL",
        start="2024-01-02",
        end="2024-01-10",
        bar_size="1MIN",
        max_window="1 D",
        newest_first=True,
    )
    ends = [r.end for r in gateway.historical_requests]
    assert len(ends) == 7 and ends == sorted(ends, reverse=True)


def test_ibkr_rate_limit_and_market_data_type_are_honoured(
    make_gateway: Callable[..., FakeGateway], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ntrader.config import get_settings

    monkeypatch.setenv("IBKR_RATE_LIMIT", "2")  # API messages per second
    monkeypatch.setenv("IBKR_MARKET_DATA_TYPE", "DELAYED")
    get_settings.cache_clear()
    gateway = make_gateway()
    fetch(gateway, "AAPL", start="2024-01-02", end="2024-01-09", bar_size="1MIN", max_window="1 D")
    assert gateway.market_data_types == [3]  # IB's code for delayed data, sent on connecting
    arrivals = sorted(r.received_at for r in gateway.historical_requests)
    assert len(arrivals) == 6
    # Never more than two messages in a second: any three requests span at least a second.
    assert all(b - a >= 0.95 for a, b in zip(arrivals, arrivals[2:], strict=False))
