"""A user strategy that brings its own `vector_signals`: on its spec, exact against Nautilus, swept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ntrader.backtest.grid import expand_grid
from ntrader.backtest.vector import has_vector, run_vector, screen, signal_function
from ntrader.cli import cli
from ntrader.config import get_settings
from ntrader.data import parse_bar_size
from ntrader.data.mock import generate_bars
from ntrader.db.runs import get_run
from ntrader.db.sweeps import get_sweep
from ntrader.errors import InputError
from ntrader.strategies import get_strategy
from tests.backtest.test_vector_parity import assert_same, nautilus

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "strategies"
DONCHIAN = f"{EXAMPLES / 'donchian.py'}:Donchian"
BREAKOUT = f"{EXAMPLES / 'breakout.py'}:Breakout"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_the_spec_carries_the_classes_signal_function():
    spec = get_strategy(DONCHIAN)
    assert spec.signals is spec.strategy_class.vector_signals and has_vector(spec)
    assert has_vector(DONCHIAN)  # the name form resolves user references too
    assert spec.bounds == {"position_pct": "> 0, <= 1", "entry_window": ">= 1", "exit_window": ">= 1"}
    # Without one, the spec says so and the vector engine names the way out.
    plain = get_strategy(BREAKOUT)
    assert plain.signals is None and not has_vector(plain)
    with pytest.raises(InputError, match="no vector implementation; sweep it with --engine nautilus"):
        signal_function(plain)
    # The built-ins ride the same field.
    assert all(get_strategy(name).signals is not None for name in ("sma", "bollinger", "rsi"))


@pytest.mark.parametrize("fill_at", ["close", "next-open"])
def test_user_signals_trade_exactly_as_the_nautilus_strategy(fill_at, monkeypatch):
    spec = get_strategy(DONCHIAN)
    # `nautilus()` looks strategies up by name; hand it the user's spec.
    monkeypatch.setattr("tests.backtest.test_vector_parity.get_strategy", lambda _: spec)
    bars = generate_bars("MSFT", "2018-01-01", "2023-12-31")
    params = {**spec.defaults(), "entry_window": 15, "exit_window": 8}
    expected = nautilus(bars, DONCHIAN, params, "ibkr-fixed", fill_at)
    actual = run_vector(
        bars, spec, params, bar_size=parse_bar_size("1-DAY"), commission="ibkr-fixed", fill_at=fill_at
    )
    assert_same(expected, actual)
    # The signal function alone works as the strategy argument too.
    [figures] = screen(
        bars,
        spec.signals,
        [params],
        bar_size=parse_bar_size("1-DAY"),
        commission="ibkr-fixed",
        fill_at=fill_at,
    )
    assert figures.final_equity == pytest.approx(actual.final_equity, rel=1e-12)


def test_config_bounds_hold_whenever_a_config_is_built():
    spec = get_strategy(DONCHIAN)
    with pytest.raises(ValueError, match="entry_window must be >= 1"):
        spec.config_class(entry_window=0)
    with pytest.raises(InputError, match="invalid parameters for .*exit_window must be >= 1"):
        spec.build_config({"exit_window": 0})
    # The grid leaves out combinations its config refuses, and takes Python constraints.
    out = expand_grid(
        spec,
        {"entry_window": [0, 10, 20], "exit_window": [5, 10]},
        [lambda p: p["exit_window"] < p["entry_window"]],
    )
    assert [(c["entry_window"], c["exit_window"]) for c in out.combinations] == [(10, 5), (20, 5), (20, 10)]
    assert out.excluded_by_constraints == 3 and out.invalid == 0


def test_user_strategy_sweeps_and_walks_forward_from_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'user.db'}")
    get_settings.cache_clear()
    grid = ["--grid", "entry_window=10:30:10", "--grid", "exit_window=5,10"]
    swept = invoke(
        "backtest", "sweep", "--strategy", DONCHIAN, "--symbol", "AAPL", "--start", "2020-01-01",
        "--end", "2023-12-31", *grid, "--top", "2", "--workers", "1",
    )  # fmt: skip
    assert swept.exit_code == 0, swept.output
    record = get_sweep(int(re.search(r"Saved sweep (\d+)", swept.output).group(1)))  # type: ignore[union-attr]
    assert record.engine == "vector" and len(record.results) == 6 and len(record.run_ids) == 2
    for row in record.results[:2]:
        # The Nautilus confirmation agrees with the user's own vectorized signals.
        assert row["confirmed"]["total_return"] == pytest.approx(row["screened"]["total_return"], rel=1e-9)

    walked = invoke(
        "backtest", "walk-forward", "--strategy", DONCHIAN, "--symbol", "AAPL", "--start", "2019-01-01",
        "--end", "2023-12-31", *grid, "--train", "252", "--test", "126",
    )  # fmt: skip
    assert walked.exit_code == 0, walked.output
    assert "Out of sample, stitched" in walked.output
    run = get_run(int(re.search(r"Saved run (\d+)", walked.output).group(1)))  # type: ignore[union-attr]
    assert run.strategy == DONCHIAN and len(run.settings["walk_forward"]["folds"]) == 8
