"""Recomputing stored metrics without a rerun, and reading records saved in an older layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from ntrader.db.runs import get_run, update_metrics
from ntrader.errors import NotFoundError
from ntrader.metrics import Metrics
from ntrader.reports import load_report, recompute_runs
from ntrader.reports.model import RECOMPUTED, STORED, run_bar_size
from tests.reports import make_run

OLD_LAYOUT = {"trade_count": 7, "sharpe": 9.58, "max_drawdown": -0.1, "win_rate": 0.5}


@pytest.fixture
def sqlite_url(isolated_home: Path) -> str:
    return f"sqlite:///{isolated_home / 'recompute.db'}"


def test_recompute_migrates_an_old_record_to_the_same_figures(sqlite_url):
    run_id = make_run(sqlite_url)
    original = get_run(run_id, sqlite_url).metrics
    update_metrics(run_id, OLD_LAYOUT, sqlite_url)
    assert load_report(run_id, with_bars=False, url=sqlite_url).metrics_source == RECOMPUTED

    [result] = recompute_runs([run_id], url=sqlite_url)
    assert result.ok and "sharpe" in result.changed and "win_rate" in result.changed
    migrated = get_run(run_id, sqlite_url).metrics
    assert Metrics.from_json_dict(migrated)  # readable again
    for key, value in original.items():
        if isinstance(value, float):
            assert migrated[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        else:
            assert migrated[key] == value, key
    assert load_report(run_id, with_bars=False, url=sqlite_url).metrics_source == STORED
    # Nothing left to do the second time.
    assert recompute_runs(None, url=sqlite_url)[0].changed == []


def test_dry_run_and_risk_free_rate(sqlite_url):
    run_id = make_run(sqlite_url)
    [result] = recompute_runs([run_id], risk_free_rate=0.04, dry_run=True, url=sqlite_url)
    assert "sharpe" in result.changed and "conventions" in result.changed
    assert get_run(run_id, sqlite_url).metrics["conventions"]["risk_free_rate"] == 0.0
    recompute_runs([run_id], risk_free_rate=0.04, url=sqlite_url)
    assert get_run(run_id, sqlite_url).metrics["conventions"]["risk_free_rate"] == 0.04


def test_unknown_run_writes_nothing(sqlite_url):
    run_id = make_run(sqlite_url)
    update_metrics(run_id, OLD_LAYOUT, sqlite_url)
    with pytest.raises(NotFoundError):
        recompute_runs([run_id, 99], url=sqlite_url)
    assert get_run(run_id, sqlite_url).metrics == OLD_LAYOUT


def test_bar_size_from_settings_or_bar_type(sqlite_url):
    from dataclasses import replace

    record = get_run(make_run(sqlite_url), sqlite_url)
    assert run_bar_size(record).name == "1-DAY"
    legacy = replace(record, settings={}, bar_type="BRK-B.NYSE-5-MINUTE-LAST-EXTERNAL")
    assert run_bar_size(legacy).name == "5-MINUTE"
    assert run_bar_size(replace(record, settings={}, bar_type="odd")) is None
