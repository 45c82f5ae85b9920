"""Sweep grids: `start:stop:step` and comma values, text and Python constraints, their expansion."""

from __future__ import annotations

import pytest

from ntrader.backtest.grid import expand_grid, parse_constraint, parse_grid, parse_grid_values
from ntrader.db.sweeps import get_sweep
from ntrader.errors import InputError
from ntrader.strategies import get_strategy


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("5:50:5", int, [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]),
        ("1:10:4", int, [1, 5, 9]),  # 10 is not on a step: not included
        ("20:20:10", int, [20]),
        ("0.5:2:0.5", float, [0.5, 1.0, 1.5, 2.0]),
        ("0.1:0.3:0.1", float, [0.1, 0.2, 0.3]),  # decimal steps land exactly on the stop
        ("5, 10,20", int, [5, 10, 20]),
        ("1.5,2", float, [1.5, 2.0]),
        ("true,false", bool, [True, False]),
    ],
)
def test_grid_values(text, kind, expected):
    assert parse_grid_values("x", text, kind) == expected


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("5:50:0", int, "step must be greater than 0"),
        ("50:5:5", int, "stop is below start"),
        ("5:50", int, "a range is start:stop:step"),
        ("5:a:5", int, "must be numbers"),
        ("1.5:3:0.5", int, "takes whole numbers"),
        ("5,x", int, "must be an integer"),
        ("", int, "needs values"),
    ],
)
def test_bad_grid_values(text, kind, message):
    with pytest.raises(InputError, match=message):
        parse_grid_values("x", text, kind)


def test_grid_names_must_be_parameters():
    spec = get_strategy("sma")
    assert parse_grid(spec, ["fast_period=5,10", "slow_period=20:40:10"]) == {
        "fast_period": [5, 10],
        "slow_period": [20, 30, 40],
    }
    with pytest.raises(InputError, match="unknown parameter 'fast' in --grid for strategy sma"):
        parse_grid(spec, ["fast=5,10"])
    with pytest.raises(InputError, match="expects name=start:stop:step"):
        parse_grid(spec, ["fast_period"])


def test_constraints_compare_parameters_safely():
    params = {"fast_period": 10, "slow_period": 30}
    assert parse_constraint("fast_period < slow_period")(params)
    assert not parse_constraint("fast_period >= slow_period")(params)
    assert parse_constraint("5 <= fast_period < slow_period")(params)
    assert parse_constraint("2 * fast_period <= slow_period and slow_period != 20")(params)
    assert not parse_constraint("slow_period - fast_period > 25")(params)
    for hostile in (
        "__import__('os').system('true')",
        "fast_period.__class__",
        "open('x')",
        "[x for x in ()]",
        "fast_period < 'a'",
        "lambda: 1",
    ):
        with pytest.raises(InputError):
            parse_constraint(hostile)
    with pytest.raises(InputError, match="must compare parameters"):
        parse_constraint("fast_period + 1")
    with pytest.raises(InputError, match="unknown parameter 'fast'"):
        parse_constraint("fast < slow_period", ["fast_period", "slow_period"])


def test_expand_grid_applies_constraints_then_the_strategys_rules():
    spec = get_strategy("sma")
    grid = {"fast_period": [5, 10, 20], "slow_period": [10, 20, 30]}
    out = expand_grid(spec, grid, [parse_constraint("slow_period != 30")], {"position_pct": 0.5})
    # Constraint drops 3 (slow 30); the strategy rejects fast >= slow: (10,10), (20,10), (20,20).
    assert [(c["fast_period"], c["slow_period"]) for c in out.combinations] == [(5, 10), (5, 20), (10, 20)]
    assert out.excluded_by_constraints == 3 and out.invalid == 3
    assert all(c["position_pct"] == 0.5 and c["allow_short"] is False for c in out.combinations)
    with pytest.raises(InputError, match="no combination"):
        expand_grid(spec, {"fast_period": [30], "slow_period": [10]})


def test_expand_grid_takes_python_callables_and_text_alike():
    spec = get_strategy("sma")
    grid = {"fast_period": [5, 10, 20], "slow_period": [20, 30, 40]}
    as_text = expand_grid(spec, grid, ["2 * fast_period <= slow_period"])
    as_python = expand_grid(spec, grid, [lambda p: 2 * p["fast_period"] <= p["slow_period"]])
    assert as_python.combinations == as_text.combinations
    assert as_python.excluded_by_constraints == as_text.excluded_by_constraints == 2  # (20, 20), (20, 30)
    # A callable sees complete typed params (defaults merged), not only the grid's names.
    seen = []
    expand_grid(spec, {"fast_period": [5]}, [lambda p: seen.append(dict(p)) or True])
    assert seen == [{"fast_period": 5, "slow_period": 20, "allow_short": False, "position_pct": 0.95}]
    # One that fails says which constraint and on which combination, in one line.
    with pytest.raises(InputError, match=r"constraint <.*<lambda>> failed on .*KeyError: 'slow'"):
        expand_grid(spec, grid, [lambda p: p["slow"] > 0])


def test_run_sweep_accepts_a_callable_constraint(tmp_path):
    from ntrader.backtest.sweep import run_sweep

    def wide_enough(params):
        return params["slow_period"] >= 3 * params["fast_period"]

    url = f"sqlite:///{tmp_path / 'callable.db'}"
    outcome = run_sweep(
        "sma",
        "AAPL",
        "2021-01-01",
        "2023-12-31",
        grid=["fast_period=5,10,15", "slow_period=20,30,40"],
        constraints=[wide_enough, "slow_period != 40"],
        confirm=False,
        database_url=url,
    )
    pairs = sorted((r.params["fast_period"], r.params["slow_period"]) for r in outcome.rows)
    assert pairs == [(5, 20), (5, 30), (10, 30)]
    record = get_sweep(outcome.sweep_id, url=url)
    assert "wide_enough" in record.constraints[0] and record.constraints[1] == "slow_period != 40"


def test_grid_names_stay_importable_from_the_sweep_module():
    from ntrader.backtest import grid, sweep

    for name in (
        "Constraint",
        "Expansion",
        "expand_grid",
        "parse_constraint",
        "parse_grid",
        "parse_grid_values",
    ):
        assert getattr(sweep, name) is getattr(grid, name)
