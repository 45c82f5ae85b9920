"""One request, one pipeline: requests are typed and validated once; reads never fetch or write."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from ntrader.backtest import pipeline
from ntrader.backtest.request import BacktestRequest
from ntrader.backtest.service import run_backtest
from ntrader.backtest.sweep import SweepPlan, run_sweep
from ntrader.backtest.walkforward import WalkForwardPlan, walk_forward
from ntrader.cli import cli
from ntrader.config import get_settings
from ntrader.data import parse_bar_size
from ntrader.db.runs import get_run
from ntrader.errors import InputError
from tests.conftest import count_rows


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_request_is_typed_once_and_pickles():
    request = BacktestRequest.build(
        "SMA_Crossover",
        " aapl ",
        "2023-01-01",
        "2023-12-31",
        params={"fast_period": "5"},
        fill_at="Next_Open",
    )
    assert request.strategy == "sma" and request.symbol == "AAPL"
    assert request.params["fast_period"] == 5 and request.params["slow_period"] == 20
    assert request.start == date(2023, 1, 1) and request.bar_size == parse_bar_size("1-DAY")
    assert request.fill_at == "next-open" and request.commission.spec == "ibkr-fixed"
    assert pickle.loads(pickle.dumps(request)) == request
    with pytest.raises(InputError, match="unknown backtest option"):
        BacktestRequest.build("sma", "AAPL", fil_at="close")
    for bad, field in (
        ({"capital": "nan"}, "capital"),
        ({"capital": -1}, "capital"),
        ({"bar_size": "7-YEAR"}, "bar_size"),
    ):
        with pytest.raises(InputError) as caught:
            BacktestRequest.build("sma", "AAPL", **bad)
        assert caught.value.field == field
    with pytest.raises(InputError, match="invalid symbol"):
        BacktestRequest.build("sma", "A" * 40)


def test_request_and_keyword_forms_give_the_same_run(database_url):
    request = BacktestRequest.build("sma", "AAPL", "2023-01-01", "2023-12-31", commission="none")
    by_request = run_backtest(request, save=False)
    by_keywords = run_backtest("sma", "AAPL", "2023-01-01", "2023-12-31", commission="none", save=False)
    assert by_request.result.fills == by_keywords.result.fills
    assert by_request.request == by_keywords.request
    with pytest.raises(InputError, match="either a BacktestRequest"):
        run_backtest(request, "AAPL")


def test_sweep_and_walk_forward_take_the_request_and_a_plan(database_url):
    request = BacktestRequest.build("sma", "AAPL", "2021-01-01", "2023-12-31")
    grid = ["fast_period=5,10", "slow_period=20,30"]
    outcome = run_sweep(request, plan=SweepPlan(grid=grid, top=1, workers=1))
    assert len(outcome.rows) == 4 and outcome.rows[0].run_id is not None
    keywords = run_sweep("sma", "AAPL", "2021-01-01", "2023-12-31", grid=grid, top=1, workers=1, save=False)
    assert [r.params for r in keywords.rows] == [r.params for r in outcome.rows]
    saved = get_run(outcome.rows[0].run_id)
    assert saved.settings["sweep_rank"] == 1 and saved.status == "completed"
    # A callable constraint, like backtesting.py's optimize(constraint=...).
    only_5 = run_sweep(
        request, plan=SweepPlan(grid=grid, constraints=[lambda p: p["fast_period"] == 5], top=0)
    )
    assert {r.params["fast_period"] for r in only_5.rows} == {5}
    folds = walk_forward(request, plan=WalkForwardPlan(grid=grid, train=200, test=100))
    assert folds.run_id is not None and len(folds.folds) >= 4


def test_yaml_config_says_everything_backtest_run_can(tmp_path: Path, database_url):
    csv = Path(__file__).resolve().parents[2] / "examples" / "data" / "AAPL.csv"
    config = tmp_path / "run.yaml"
    config.write_text(
        f"strategy: sma\nsymbol: AAPL\ncsv_file: {csv}\n"
        "fill_at: next-open\nliquidity: unlimited\nno_fetch: true\n"
    )
    result = invoke("backtest", "run-config", str(config), "--json")
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)
    assert run["data_source"] == "csv" and run["settings"]["fill_at"] == "next-open"
    assert run["settings"]["liquidity"].startswith("unlimited")
    assert count_rows(database_url, "market_data") == 0  # run straight on the file, nothing imported


def test_reads_never_fetch_or_write(
    make_gateway: Callable[..., Any], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = make_gateway()
    monkeypatch.setenv("IBKR_PORT", str(gateway.port))
    get_settings.cache_clear()
    fetched = invoke("data", "fetch", "--instruments", "AAPL", "--start", "2023-01-01", "--end", "2023-01-31",
                     "--port", str(gateway.port), "--timeframe", "DAILY")  # fmt: skip
    assert fetched.exit_code == 0, fetched.output
    stored = count_rows(database_url, "market_data")
    # A run over February too, on the stored January bars only.
    run = invoke("backtest", "run", "--strategy", "sma", "--symbol", "AAPL", "--data-source", "ibkr",
                 "--start", "2023-01-01", "--end", "2023-02-28", "--no-fetch", "-p", "fast_period=2",
                 "-p", "slow_period=5", "--json")  # fmt: skip
    assert run.exit_code == 0, run.output
    run_id = str(json.loads(run.output)["id"])
    other = invoke("backtest", "run", "--strategy", "sma", "--symbol", "AAPL", "--data-source", "ibkr",
                   "--no-fetch", "-p", "fast_period=3", "-p", "slow_period=8", "--json")  # fmt: skip
    other_id = str(json.loads(other.output)["id"])
    requests = len(gateway.historical_requests)
    rows = {table: count_rows(database_url, table) for table in ("market_data", "backtest_runs", "trades")}
    for args in (
        ("report", "summary", run_id),
        ("report", "show", run_id, "--trades"),
        ("report", "export", run_id, "--format", "json"),
        ("report", "export", run_id, "--format", "html"),
        ("report", "recompute", run_id, "--dry-run"),
        ("backtest", "compare", run_id, other_id),
    ):
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output)
    # Before: `report export` reloaded the bars through the fetching loader, asked IB for February
    # and grew market_data (22 → 43 bars in the audit).
    assert len(gateway.historical_requests) == requests
    assert count_rows(database_url, "market_data") == stored == rows["market_data"]
    assert {t: count_rows(database_url, t) for t in rows} == rows


def test_prepare_fetches_only_for_ibkr_and_only_when_allowed(monkeypatch, database_url):
    calls = []
    # The stand-in answers like a fetch that found nothing to add (prepare reads its .error).
    nothing = SimpleNamespace(error=None)
    monkeypatch.setattr(
        "ntrader.ibkr.fetch.fetch_missing_bars", lambda *a, **k: calls.append((a, k)) or nothing
    )
    pipeline.prepare(BacktestRequest.build("sma", "AAPL", "2023-01-01", "2023-03-31"))
    assert calls == []
    with pytest.raises(Exception, match="no 1-DAY bars stored"):
        pipeline.prepare(BacktestRequest.build("sma", "AAPL", "2023-01-01", "2023-03-31", data_source="ibkr"))
    assert len(calls) == 1
    with pytest.raises(Exception, match="no 1-DAY bars stored"):
        pipeline.prepare(
            BacktestRequest.build(
                "sma", "AAPL", "2023-01-01", "2023-03-31", data_source="ibkr", no_fetch=True
            )
        )
    assert len(calls) == 1


def test_the_pipeline_reuses_the_curve_index_only_for_a_whole_run() -> None:
    size = parse_bar_size("1-MINUTE")
    bars = pd.date_range("2024-01-02 14:30", periods=1000, freq="min", tz="UTC")
    closes = size.close_times(bars)
    assert pipeline._stamped_at_closes(closes, bars, size, step=7)
    assert not pipeline._stamped_at_closes(closes[:-1], bars, size, step=7)  # a halted run's prefix
    shifted = closes.delete(500).insert(500, closes[500] + pd.Timedelta(seconds=1))
    assert not pipeline._stamped_at_closes(shifted, bars, size, step=7)  # one stamp differs mid-slice
