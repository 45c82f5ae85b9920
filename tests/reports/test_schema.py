"""The JSON export's schema: documented, versioned, covering every metric, and checked for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ntrader.reports import RUN_EXPORT_SCHEMA, SCHEMA_VERSION, export_run, validate
from ntrader.reports.schema import metric_fields
from tests.reports import expected_annualization, make_run


@pytest.fixture
def sqlite_url(isolated_home: Path) -> str:
    return f"sqlite:///{isolated_home / 'schema.db'}"


def test_schema_lists_every_metric_so_a_new_one_forces_a_schema_update():
    properties = RUN_EXPORT_SCHEMA["properties"]["metrics"]["properties"]
    assert sorted(properties) == sorted(metric_fields())
    assert RUN_EXPORT_SCHEMA["properties"]["schema_version"] == {"const": SCHEMA_VERSION}


def test_export_validates_against_the_schema(sqlite_url):
    run_id = make_run(sqlite_url)
    document = json.loads(export_run(run_id, "json", equity=True, url=sqlite_url).content or "")
    assert validate(document) == []
    assert document["schema_version"] == SCHEMA_VERSION
    assert len(document["equity"]) == document["run"]["bars"] == 250  # NYSE sessions of 2023
    # Measured from the bars: 252 on an exchange calendar (261 on weekdays without holidays).
    stamps = [point["timestamp"] for point in document["equity"]]
    assert document["conventions"]["annualization_factor"] == expected_annualization(stamps)
    assert document["conventions"]["annualization_basis"] == "measured"
    assert document["conventions"]["fill_at"] == "close"
    assert document["metrics"]["trade_count"] == len(document["trades"])
    try:
        import jsonschema
    except ImportError:
        return
    jsonschema.validate(document, RUN_EXPORT_SCHEMA)


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda d: d.pop("metrics"), "missing required 'metrics'"),
        (lambda d: d.update(schema_version=99), "expected 1"),
        (lambda d: d["metrics"].update(sharpe="high"), "$.metrics.sharpe: expected number or null"),
        (lambda d: d["metrics"].update(trade_count=True), "$.metrics.trade_count: expected integer"),
        (lambda d: d["trades"][0].update(side="UP"), "is not one of"),
        (lambda d: d["trades"][0].update(extra=1), "unexpected property 'extra'"),
        (lambda d: d["run"].update(bars=-1), "below the minimum"),
    ],
)
def test_validator_catches_broken_documents(sqlite_url, mutate, problem):
    run_id = make_run(sqlite_url)
    document = json.loads(export_run(run_id, "json", url=sqlite_url).content or "")
    mutate(document)
    errors = validate(document)
    assert any(problem in error for error in errors), errors
