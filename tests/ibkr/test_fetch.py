"""The fetch service end to end over TCP against the fake gateway, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ntrader.backtest import run_backtest
from ntrader.data.bars import parse_bar_size
from ntrader.data.period import parse_period
from ntrader.data.store import read_bars
from ntrader.errors import DataGapError, GatewayUnavailable, NotFoundError, PacingError
from ntrader.ibkr.catalog import MANIFEST_NAME, Manifest, SeriesKey, open_catalog
from ntrader.ibkr.fake import FakeGateway, FaultPlan, synthetic_bars
from ntrader.ibkr.fetch import (
    FetchProgress,
    FetchService,
    InstrumentQuery,
    fetch_bars,
    us_equity_early_closes,
    us_equity_holidays,
)
from ntrader.ibkr.pacing import PacingRules
from ntrader.ibkr.windows import expected_sessions
from tests.conftest import count_rows

# Short windows so pacing and back-off cost milliseconds; the rules themselves are tested elsewhere.
FAST = PacingRules(
    max_per_window=60,
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
    if str(kwargs.get("bar_size", "")).upper() in ("1MIN", "1-MINUTE"):
        # These tests exercise retries, drops and pacing over many windows: IB's documented
        # one-day windows for one-minute bars (the planner's longer default has tests of its own).
        options["max_window"] = "1 D"
    options.update(kwargs)
    return fetch_bars(list(symbols), **options)


def served(symbol: str, start: str, end: str, step: pd.Timedelta) -> pd.DataFrame:
    """What the fake serves for [start, end] (dates inclusive), minus exchange holidays."""
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)
    frame = synthetic_bars(symbol, lo, hi, step)
    return frame


def test_daily_bars_for_two_symbols_then_a_refetch_sends_nothing(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway()
    events: list[FetchProgress] = []
    report = fetch(gateway, "AAPL", "MSFT", start="2023-01-01", end="2024-06-30", progress=events.append)
    assert report.gaps == [] and report.errors == []
    aapl, msft = report.results
    expected = served("AAPL", "2023-01-01", "2024-06-30", pd.Timedelta(days=1))
    assert aapl.instrument_id == "AAPL.NASDAQ" and msft.instrument_id == "MSFT.NASDAQ"
    # 18 months of daily bars: two windows of at most a year each, per symbol.
    assert aapl.requests == aapl.windows_planned == 2
    assert aapl.bars_stored == aapl.bars_received == len(expected)
    stored = read_bars("AAPL", "1-DAY", "ibkr", url=database_url)
    pd.testing.assert_frame_equal(stored, expected.astype("float64"), check_freq=False)
    assert count_rows(database_url, "market_data") == 2 * len(expected)
    assert events[-1].symbol == "MSFT" and events[-1].windows_done == events[-1].windows_total == 2

    before = len(gateway.historical_requests)
    contracts = len(gateway.contract_requests)
    again = fetch(gateway, "AAPL", "MSFT", start="2023-01-01", end="2024-06-30")
    assert len(gateway.historical_requests) == before  # a refetch sends no request at all
    assert len(gateway.contract_requests) == contracts
    assert gateway.connections == 1  # ... and does not even connect
    assert [r.cached_windows for r in again.results] == [2, 2]
    assert [r.inserted for r in again.results] == [0, 0]
    assert count_rows(database_url, "market_data") == 2 * len(expected)

    # An extended range asks only for the new part.
    wider = fetch(gateway, "AAPL", start="2023-01-01", end="2024-08-31")
    new = gateway.historical_requests[before:]
    assert len(new) == 1 and new[0].end == "20240901-00:00:00"
    assert wider.results[0].bars_received == len(
        served("AAPL", "2024-07-01", "2024-08-31", pd.Timedelta(days=1))
    )
    assert wider.results[0].gaps == []


def test_minute_bars_across_windows_and_catalog_without_duplicates(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway()
    report = fetch(gateway, "SPY", start="2024-01-08", end="2024-01-12", bar_size="1MIN")
    result = report.results[0]
    assert result.windows_planned == result.requests == 5  # one trading day per request
    assert result.bars_stored == 5 * 390 and result.gaps == []
    # The next week, then the first week again: the catalog gets a file per new range, never an overlap.
    fetch(gateway, "SPY", start="2024-01-15", end="2024-01-19", bar_size="1MIN")
    fetch(gateway, "SPY", start="2024-01-02", end="2024-01-19", bar_size="1MIN")
    catalog = open_catalog()
    bars = catalog.bars(bar_types=["SPY.ARCA-1-MINUTE-LAST-EXTERNAL"])
    stamps = [b.ts_event for b in bars]
    assert len(stamps) == len(set(stamps))
    # 2-5, 8-12 and 16-19 January; the 15th is Martin Luther King Day.
    assert len(stamps) == 13 * 390
    assert count_rows(database_url, "market_data") == 13 * 390
    assert len(catalog.instruments()) == 1  # written once, however often fetched
    assert len(gateway.contract_requests) == 1
    mlk = [r for r in gateway.historical_requests if r.end.startswith("20240116")]
    assert mlk == []  # the holiday's window is never requested


def test_pacing_violation_is_retried_after_a_back_off(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway(faults=FaultPlan(pacing_violation_on={2, 3}))
    report = fetch(gateway, "AAPL", start="2024-01-02", end="2024-01-03", bar_size="1MIN")
    result = report.results[0]
    outcomes = [r.outcome for r in gateway.historical_requests]
    assert outcomes == ["bars", "pacing", "pacing", "bars"]
    assert result.retries == 2 and result.pacing_waits >= 2
    assert result.gaps == [] and result.bars_stored == 2 * 390


def test_pacing_violations_that_never_stop_raise_and_keep_what_arrived(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway(faults=FaultPlan(pacing_violation_on=set(range(2, 50))))
    with pytest.raises(PacingError, match="pacing violations after 2 retries"):
        service = FetchService(
            port=gateway.port, rules=FAST, max_attempts=2, connect_timeout=5, max_window="1 D"
        )
        asyncio.run(
            service.fetch(
                [InstrumentQuery("AAPL")], parse_period("2024-01-02", "2024-01-03"), parse_bar_size("1MIN")
            )
        )
    # The first day arrived before the violations began, and is kept.
    assert count_rows(database_url, "market_data") == 390


def test_no_data_window_is_a_gap_and_is_not_asked_again(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    hole = (pd.Timestamp("2024-01-03 14:30", tz="UTC"), pd.Timestamp("2024-01-03 21:00", tz="UTC"))
    gateway = make_gateway(faults=FaultPlan(no_data_windows=(hole,)))
    with pytest.raises(DataGapError, match="1 missing window") as caught:
        fetch(gateway, "AAPL", start="2024-01-02", end="2024-01-04", bar_size="1MIN", allow_gaps=False)
    assert caught.value.exit_code == 4
    assert [r.outcome for r in gateway.historical_requests] == ["bars", "no-data", "bars"]
    assert count_rows(database_url, "market_data") == 2 * 390

    report = fetch(gateway, "AAPL", start="2024-01-02", end="2024-01-04", bar_size="1MIN")
    assert len(gateway.historical_requests) == 3  # the empty window counts as answered
    result = report.results[0]
    assert result.gaps == [hole] and result.requests == 0
    manifest = Manifest.load()
    assert manifest.empty(SeriesKey("AAPL.NASDAQ", "1-MINUTE")) == [
        (pd.Timestamp("2024-01-03 00:00", tz="UTC"), pd.Timestamp("2024-01-04 00:00", tz="UTC"))
    ]


def test_dropped_connection_is_resumed_without_duplicates(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway(faults=FaultPlan(drop_on_historical_request=3))
    report = fetch(gateway, "MSFT", start="2024-01-02", end="2024-01-05", bar_size="1MIN")
    result = report.results[0]
    assert result.reconnects == 1 and result.gaps == []
    assert [r.outcome for r in gateway.historical_requests] == ["bars", "bars", "dropped", "bars", "bars"]
    assert gateway.connections == 2
    stored = read_bars("MSFT", "1-MINUTE", "ibkr", url=database_url)
    assert len(stored) == 4 * 390 and stored.index.is_unique
    expected = expected_sessions("2024-01-02", "2024-01-06", "1-MINUTE")
    assert stored.index.equals(expected)


def test_unknown_symbol_is_reported_and_the_others_fetched(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway()
    report = fetch(gateway, "AAPL,NOPE", start="2024-01-02", end="2024-01-05")
    assert [r.symbol for r in report.results] == ["AAPL", "NOPE"]
    assert report.results[0].bars_stored == 4
    assert report.errors and "no security definition" in report.errors[0][1]


def test_gateway_down_is_exit_3_but_a_cached_range_needs_no_gateway(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway()
    fetch(gateway, "AAPL", start="2024-01-02", end="2024-01-31")
    port = gateway.port
    gateway.stop()
    again = fetch_bars(["AAPL"], "2024-01-02", "2024-01-31", port=port, connect_timeout=1, rules=FAST)
    # 22 weekdays from 2 to 31 January, less Martin Luther King Day (the fake follows the NYSE calendar).
    assert again.results[0].requests == 0 and again.results[0].bars_stored == 21
    with pytest.raises(GatewayUnavailable) as caught:
        fetch_bars(["AAPL"], "2024-02-01", "2024-02-29", port=port, connect_timeout=1, rules=FAST)
    assert caught.value.exit_code == 3


def test_backtest_on_fetched_bars_fetches_only_what_is_missing(
    make_gateway: Callable[..., FakeGateway], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ntrader.config import get_settings

    gateway = make_gateway()
    monkeypatch.setenv("IBKR_PORT", str(gateway.port))
    monkeypatch.setenv("IBKR_HOST", "127.0.0.1")
    get_settings.cache_clear()
    with pytest.raises(NotFoundError, match="no 1-DAY bars stored for AAPL from ibkr"):
        run_backtest("sma", "AAPL", "2023-01-01", "2023-12-31", data_source="ibkr", no_fetch=True)
    assert gateway.historical_requests == []
    fetch(gateway, "AAPL", start="2023-01-01", end="2023-12-31")
    sent = len(gateway.historical_requests)
    for strategy in ("sma", "rsi", "bollinger"):
        outcome = run_backtest(strategy, "AAPL", data_source="ibkr", params={}, save=True)
        assert outcome.data_source == "ibkr"
        # The stored range, without dates: the first session of 2023 (2 January was New Year's holiday).
        assert outcome.period.start.isoformat() == "2023-01-03"
        assert outcome.result.bars == len(served("AAPL", "2023-01-02", "2023-12-29", pd.Timedelta(days=1)))
    assert len(gateway.historical_requests) == sent  # everything was stored already


def test_holiday_calendar() -> None:
    days = us_equity_holidays(pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-12-31", tz="UTC"))
    assert len([d for d in days if d.year == 2024]) == 10
    assert pd.Timestamp("2024-03-29").date() in days  # Good Friday
    assert pd.Timestamp("2024-06-19").date() in days  # Juneteenth
    early = us_equity_holidays(pd.Timestamp("2021-12-30", tz="UTC"), pd.Timestamp("2022-01-03", tz="UTC"))
    assert pd.Timestamp("2021-12-31").date() not in early  # NYSE stays open for a Saturday New Year
    # Closures no rule predicts: Hurricane Sandy, a national day of mourning.
    special = us_equity_holidays(pd.Timestamp("2012-10-29", tz="UTC"), pd.Timestamp("2025-01-09", tz="UTC"))
    assert {dt.date(2012, 10, 29), dt.date(2012, 10, 30), dt.date(2025, 1, 9)} <= special


def test_early_closes_are_known() -> None:
    # NYSE's 2024 early closes (13:00 New York), from its published holiday schedule.
    closes = us_equity_early_closes(
        pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-12-31", tz="UTC")
    )
    assert closes == {
        dt.date(2024, 7, 3): dt.time(13, 0),
        dt.date(2024, 11, 29): dt.time(13, 0),
        dt.date(2024, 12, 24): dt.time(13, 0),
    }


def test_half_days_and_holidays_are_not_gaps_over_tcp(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    gateway = make_gateway()
    # 1-5 July 2024: 1, 2 and 5 July full days, 3 July closes at 13:00, 4 July is a holiday.
    report = fetch(gateway, "SPY", start="2024-07-01", end="2024-07-05", bar_size="1MIN")
    result = report.results[0]
    assert result.gaps == [] and report.gaps == []
    assert result.bars_stored == 3 * 390 + 210
    stored = read_bars("SPY", "1-MINUTE", "ibkr", url=database_url)
    local = stored.index.tz_convert("America/New_York")
    half = local[local.date == dt.date(2024, 7, 3)]
    assert len(half) == 210 and half[-1].strftime("%H:%M") == "12:59"
    assert dt.date(2024, 7, 4) not in set(local.date)
    assert not [r for r in gateway.historical_requests if r.end.startswith("20240705")]  # 4 July's window

    # A year of daily bars: Good Friday and the other holidays are neither served nor gaps.
    daily = fetch(gateway, "AAPL", start="2024-01-01", end="2024-12-31").results[0]
    assert daily.gaps == [] and daily.bars_stored == 252
    days = set(read_bars("AAPL", "1-DAY", "ibkr", url=database_url).index.date)
    assert dt.date(2024, 3, 29) not in days and dt.date(2024, 11, 29) in days


def test_manifest_round_trip(tmp_path: Path) -> None:
    key = SeriesKey("AAPL.NASDAQ", "1-DAY")
    manifest = Manifest.load(tmp_path)
    a, b, c = (pd.Timestamp(x, tz="UTC") for x in ("2024-01-01", "2024-02-01", "2024-03-01"))
    manifest.add(key, [(b, c), (a, b)], [(a, b)])
    manifest.save()
    again = Manifest.load(tmp_path)
    assert again.fetched(key) == [(a, c)] and again.empty(key) == [(a, b)]
    assert (tmp_path / MANIFEST_NAME).exists()
    assert SeriesKey("X.Y", "1-DAY", "MIDPOINT", False).source == "ibkr-midpoint-allhours"


def test_the_clients_default_pacing_keeps_ibs_rules_as_the_fake_gateway_judges_them(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    # The fake judges with its own table of IB's limits (six same-contract requests within 2 s
    # are a violation), not with the client's PacingRules: the client must never trip it.
    gateway = make_gateway(faults=FaultPlan(enforce_pacing=True))
    quick_backoff = PacingRules(backoff_base=0.01, backoff_max=0.05)  # the limits stay IB's defaults
    report = fetch(
        gateway, "AAPL", start="2024-01-02", end="2024-01-12", bar_size="1MIN", rules=quick_backoff
    )
    outcomes = [r.outcome for r in gateway.historical_requests]
    assert outcomes == ["bars"] * 9  # nine sessions, one request each, none refused
    assert report.results[0].retries == 0 and report.results[0].gaps == []


def test_one_options_object_or_keywords_and_the_pipelines_fetch_missing_bars(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    from ntrader.errors import InputError
    from ntrader.ibkr import fetch_missing_bars
    from ntrader.ibkr.fetch import FetchOptions

    gateway = make_gateway()
    options = FetchOptions(
        host="127.0.0.1", port=gateway.port, rules=FAST, connect_timeout=5, allow_gaps=True
    )
    report = fetch_bars("AAPL", "2024-01-02", "2024-01-05", options=options)
    assert report.results[0].bars_stored == 4 and len(gateway.historical_requests) == 1
    with pytest.raises(TypeError, match="unknown fetch option"):
        fetch_bars("AAPL", options=options, prot=1)
    with pytest.raises(InputError, match="unknown --what"):
        FetchOptions(what_to_show="PRICES")
    # The backtest pipeline's entry point: one symbol, a period, a bar size, a database.
    monkey_env = {"IBKR_HOST": "127.0.0.1", "IBKR_PORT": str(gateway.port)}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in monkey_env.items():
            mp.setenv(key, value)
        from ntrader.config import get_settings

        get_settings.cache_clear()
        summary = fetch_missing_bars(
            "AAPL", parse_period("2024-01-02", "2024-01-10"), parse_bar_size("1-DAY"), database_url
        )
        get_settings.cache_clear()
    assert summary.symbol == "AAPL" and summary.bars_stored == 7 and summary.gaps == []
    assert len(gateway.historical_requests) == 2  # only the part not fetched before
