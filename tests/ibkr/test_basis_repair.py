"""A split between two fetches, over TCP through the CLI: the stored series is re-fetched on IB's new
basis and replaced, in the database and in the catalog, so it never mixes two price bases."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.config import get_settings
from ntrader.data.store import read_bars, replace_bars, write_bars
from ntrader.ibkr.catalog import Manifest, SeriesKey, open_catalog, read_catalog_bars
from ntrader.ibkr.fake import FakeGateway, Market, synthetic_bars
from tests.conftest import count_rows

BACKTEST = ["backtest", "run", "--strategy", "sma", "--symbol", "AAPL", "--data-source", "ibkr"]


def fetch_args(gateway: FakeGateway) -> list[str]:
    return ["data", "fetch", "--host", "127.0.0.1", "--port", str(gateway.port), "--instruments", "AAPL"]


def invoke(gateway: FakeGateway, *args: str) -> Any:
    return CliRunner().invoke(cli, [*fetch_args(gateway), *args], catch_exceptions=False)


@pytest.fixture
def gateway_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[FakeGateway], None]:
    def point_at(gateway: FakeGateway) -> None:
        monkeypatch.setenv("IBKR_HOST", "127.0.0.1")
        monkeypatch.setenv("IBKR_PORT", str(gateway.port))
        get_settings.cache_clear()

    return point_at


def test_a_split_between_two_cli_fetches_refetches_and_replaces_the_series(
    make_gateway: Callable[..., FakeGateway], database_url: str, gateway_env: Callable[[FakeGateway], None]
) -> None:
    before = make_gateway()
    first = invoke(before, "--start", "2023-01-03", "--end", "2024-03-28")
    assert first.exit_code == 0, first.output
    old = read_bars("AAPL", "1-DAY", "ibkr", url=database_url)
    before.stop()

    # A 4:1 split since: IB now serves every price of the whole history divided by four.
    after = make_gateway(market=Market(splits={"AAPL": 4.0}))
    second = invoke(after, "--start", "2023-01-03", "--end", "2024-06-28")
    assert second.exit_code == 0, second.output
    assert (
        "AAPL 1-DAY: IB's prices changed basis (a split or dividend adjustment since the last fetch; "
        "now 0.25 times the stored ones); re-fetched 2023-01-03 → 2024-06-28 and replaced the stored bars"
    ) in " ".join(second.output.split())
    # Requests sent: the join's window, then the two windows of the re-fetch; all three were needed.
    assert "│ 3 (3) " in second.output

    stored = read_bars("AAPL", "1-DAY", "ibkr", url=database_url)
    # Every stored close is on the new basis: IB's unadjusted prices / 4, not a 97 -> 24 jump.
    lo, hi = pd.Timestamp("2023-01-03", tz="UTC"), pd.Timestamp("2024-06-29", tz="UTC")
    truth = synthetic_bars("AAPL", lo, hi, pd.Timedelta(days=1))
    assert stored.index.equals(truth.index)
    np.testing.assert_allclose(stored["close"], (truth["close"] / 4).round(2))
    assert stored.index.is_unique and count_rows(database_url, "bars") == len(truth)
    # No day-to-day move near -75 % anywhere (the split's join would be one).
    assert stored["close"].pct_change().min() > -0.2
    old_on_new_basis = stored.loc[old.index, "close"]
    np.testing.assert_allclose(old_on_new_basis, (old["close"] / 4).round(2), atol=0.011)

    # The Parquet catalog holds the same single-basis series, no duplicates.
    catalog = read_catalog_bars(open_catalog(), "AAPL.NASDAQ-1-DAY-LAST-EXTERNAL")
    assert catalog.index.equals(stored.index)
    np.testing.assert_allclose(catalog["close"], stored["close"])
    fetched = Manifest.load().fetched(SeriesKey("AAPL.NASDAQ", "1-DAY"))
    assert fetched[0][0] <= lo and fetched[-1][1] >= hi - pd.Timedelta(days=1)

    # A buy & hold over the series is what the holder of the shares made, not -74 %.
    gateway_env(after)
    run = CliRunner().invoke(
        cli,
        [*BACKTEST, "--start", "2023-01-03", "--end", "2024-06-28", "--no-fetch", "--json"],
        catch_exceptions=False,
    )
    assert run.exit_code == 0, run.output
    metrics = json.loads(run.output)["metrics"]
    expected = truth["close"].iloc[-1] / truth["close"].iloc[0] - 1  # split-free prices, same ratio
    assert metrics["buy_and_hold_return"] == pytest.approx(expected, abs=2e-3)
    assert metrics["buy_and_hold_return"] > -0.5

    # A refetch afterwards asks IB nothing: the replaced series and its manifest agree.
    again = invoke(after, "--start", "2023-01-03", "--end", "2024-06-28", "--json")
    assert json.loads(again.output)["requests"] == 0


def test_on_basis_change_fail_keeps_refusing(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    before = make_gateway()
    assert invoke(before, "--start", "2024-01-02", "--end", "2024-01-31").exit_code == 0
    stored = read_bars("AAPL", "1-DAY", "ibkr", url=database_url)
    before.stop()
    after = make_gateway(market=Market(splits={"AAPL": 4.0}))
    refused = CliRunner().invoke(
        cli,
        [*fetch_args(after), "--start", "2024-01-02", "--end", "2024-02-29", "--on-basis-change", "fail"],
    )
    assert refused.exit_code != 0
    assert "0.25 times the stored ones" in refused.output and "Traceback" not in refused.output
    assert read_bars("AAPL", "1-DAY", "ibkr", url=database_url).equals(stored)


def test_replace_bars_swaps_a_span_in_one_transaction(database_url: str) -> None:
    days = pd.date_range("2024-01-01", periods=10, freq="D", tz="UTC", name="timestamp")
    frame = pd.DataFrame(
        {"open": 100.0, "high": 101.0, "low": 99.0, "close": np.arange(10) + 100.0, "volume": 1e6},
        index=days,
    )
    write_bars(frame, symbol="AAPL", bar_size="1-DAY", source="ibkr", url=database_url)
    new = frame.iloc[2:8].assign(close=lambda f: f["close"] / 4)
    inserted = replace_bars(
        new, symbol="AAPL", bar_size="1-DAY", source="ibkr", start=days[1], end=days[9], url=database_url
    )
    assert inserted == 6
    back = read_bars("AAPL", "1-DAY", "ibkr", url=database_url)
    # Day 0 and day 9 lie outside the span and stay; day 1 and day 8 were in it and are gone.
    assert list(back.index) == [days[0], *days[2:8], days[9]]
    assert list(back["close"]) == [100.0, *(np.arange(2, 8) + 100.0) / 4, 109.0]
    assert count_rows(database_url, "bars") == 8


def test_a_split_found_by_a_probe_refetches_intraday_bars_too(
    make_gateway: Callable[..., FakeGateway], database_url: str
) -> None:
    from ntrader.ibkr.fetch import fetch_bars

    knobs: dict[str, Any] = {"host": "127.0.0.1", "bar_size": "1MIN", "allow_gaps": True}
    before = make_gateway()
    fetch_bars("AAPL", "2024-01-02", "2024-01-03", port=before.port, **knobs)
    before.stop()
    after = make_gateway(market=Market(splits={"AAPL": 2.0}))
    result = fetch_bars("AAPL", "2024-01-02", "2024-01-05", port=after.port, **knobs).results[0]
    assert result.error is None and result.gaps == [] and result.bars_stored == 4 * 390
    assert result.notes and "0.5 times the stored ones" in result.notes[0]
    stored = read_bars("AAPL", "1-MINUTE", "ibkr", url=database_url)
    lo, hi = pd.Timestamp("2024-01-02", tz="UTC"), pd.Timestamp("2024-01-06", tz="UTC")
    truth = synthetic_bars("AAPL", lo, hi, pd.Timedelta(minutes=1))
    assert stored.index.equals(truth.index)
    np.testing.assert_allclose(stored["close"], (truth["close"] / 2).round(2))
