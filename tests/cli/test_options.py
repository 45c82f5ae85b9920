"""Options shared by several commands are defined once: same names, same help, same defaults."""

from __future__ import annotations

import click

from ntrader.cli import cli
from ntrader.cli.options import MARKET_OPTIONS


def _options(path: str) -> dict[str, tuple[str | None, object]]:
    command = cli
    for name in path.split():  # get_command loads the lazily registered groups
        command = command.get_command(click.Context(command), name)  # type: ignore[attr-defined]
    return {p.name: (getattr(p, "help", None), p.default) for p in command.params if p.name}


def test_run_sweep_and_walk_forward_share_the_market_options():
    run, sweep, walk = (_options(f"backtest {c}") for c in ("run", "sweep", "walk-forward"))
    shared = {"strategy", "symbol", "start", "end", "data_source", "bar_size", "csv_file", "no_fetch",
              "capital", "commission", "fill_at", "liquidity", "adjust", "params", "allocation"}  # fmt: skip
    assert len(MARKET_OPTIONS) == len(shared)
    for name in shared:
        assert run[name] == sweep[name] == walk[name], name
    assert {"grids", "constraints", "metric"} <= set(sweep) & set(walk)
