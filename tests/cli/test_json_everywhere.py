"""Every command that prints data takes --json and prints one JSON document on stdout.

The command tree is walked, so a new command without --json (or without an invocation here) fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.ibkr.fake_gateway import FakeGateway

REPO = Path(__file__).resolve().parents[2]
AAPL_CSV = REPO / "examples" / "data" / "AAPL.csv"
SMA_CONFIG = REPO / "examples" / "configs" / "sma.yaml"

# Commands that print no data, or whose data already is a document in a chosen format.
NO_JSON = {
    "ibkr fake-gateway": "runs a server until Ctrl-C",
    "ui": "runs the web server until Ctrl-C",
    "report export": "the format is chosen with --format json",
    "report schema": "prints a JSON Schema, always JSON",
}

SMA = ["--strategy", "sma", "--symbol", "AAPL", "--start", "2022-01-01", "--end", "2023-12-31"]
GRID = ["--grid", "fast_period=5,10", "--grid", "slow_period=20,30"]


def leaf_commands(group: click.Group = cli, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    # Through list_commands/get_command: the top-level groups load on first use (lazily).
    ctx = click.Context(group)
    for name in sorted(group.list_commands(ctx)):
        command = group.get_command(ctx, name)
        assert command is not None, name
        path = f"{prefix} {name}".strip()
        if isinstance(command, click.Group):
            yield from leaf_commands(command, path)
        else:
            yield path, command


def invocations(port: int) -> dict[str, list[str]]:
    """Arguments for each command (after its path), in the order they run: runs 1 and 2 first."""
    return {
        "backtest run": [*SMA],
        "backtest run-config": [str(SMA_CONFIG)],
        "backtest sweep": [*SMA, *GRID, "--top", "1", "--workers", "1"],
        "backtest walk-forward": [*SMA, *GRID, "--train", "120", "--test", "60"],
        "backtest list-results": [],
        "backtest compare": ["1", "2"],
        "report summary": ["1"],
        "report show": ["1"],
        "report sweep": ["1"],
        "report sweeps": [],
        "report recompute": ["1", "--dry-run"],
        "report validate": ["1", "--monte-carlo", "200"],
        "strategy list": [],
        "strategy show": ["sma"],
        "strategy validate": [str(SMA_CONFIG)],
        "data import-csv": [str(AAPL_CSV), "--symbol", "AAPL"],
        "data check": ["AAPL"],
        "data list": [],
        "data connect": ["--port", str(port), "--timeout", "5"],
        "data fetch": [
            "--symbol",
            "AAPL",
            "--start",
            "2024-01-02",
            "--end",
            "2024-01-31",
            "--port",
            str(port),
        ],
        "db status": [],
        "db upgrade": [],
        "backtest delete": ["2", "--yes"],
    }


def test_every_command_that_prints_data_takes_json(
    database_url: str, make_gateway: Callable[..., FakeGateway]
) -> None:
    gateway = make_gateway()
    planned = invocations(gateway.port)
    commands = dict(leaf_commands())
    without = sorted(p for p, c in commands.items() if "--json" not in _flags(c) and p not in NO_JSON)
    assert without == [], f"commands without --json (add it, or to NO_JSON with a reason): {without}"
    assert sorted(set(commands) - set(NO_JSON)) == sorted(planned), "every command needs an invocation"

    documents: dict[str, Any] = {}
    for path, args in planned.items():
        result = CliRunner().invoke(cli, [*path.split(), *args, "--json"], catch_exceptions=False)
        assert result.exit_code == 0, f"{path}: {result.output}"
        documents[path] = json.loads(result.stdout)

    # The top-level keys the README documents ("JSON output").
    assert {"id", "strategy", "metrics", "settings"} <= set(documents["backtest run"])
    assert {"id", "results", "run_ids", "grid", "metric", "validation"} <= set(documents["backtest sweep"])
    assert documents["backtest sweep"]["validation"]["trials"] == 4
    assert {"run_id", "folds", "metrics", "validation"} <= set(documents["backtest walk-forward"])
    assert {"efficiency", "stitched_dsr"} <= set(documents["backtest walk-forward"]["validation"])
    assert {"psr", "bootstrap", "reshuffle", "random_entry"} <= set(documents["report validate"])
    assert documents["report validate"]["samples"] == 200
    assert [r["id"] for r in documents["backtest compare"]["runs"]] == [1, 2]
    assert {"schema_version", "run", "metrics", "trades"} <= set(documents["report show"])
    assert documents["report sweeps"][0]["combinations"] == 4
    assert documents["report sweeps"][0]["best"]["params"]
    assert "fast_period" in {p["name"] for p in documents["strategy show"]["parameters"]}
    assert documents["data connect"]["accounts"] == list(gateway.accounts)
    assert documents["data check"]["clean"] is True and documents["data check"]["rows"] == 502
    assert documents["db status"]["backend"] in {"sqlite", "postgresql"}
    assert documents["backtest delete"] == {"deleted": [2]}


def _flags(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in getattr(param, "opts", [])}
