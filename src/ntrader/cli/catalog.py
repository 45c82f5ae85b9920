"""The built-in strategies as `strategy list` shows them, kept as plain data so listing them imports
neither Nautilus nor pandas (tests/cli/test_startup.py checks it equals what the registry says)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

BUILTIN_STRATEGIES: list[dict[str, Any]] = [
    {
        "name": "sma",
        "aliases": ["sma_crossover"],
        "description": "Simple moving average crossover (trend following).",
        "parameters": {"position_pct": 0.95, "fast_period": 10, "slow_period": 20, "allow_short": False},
    },
    {
        "name": "mean_reversion",
        "aliases": ["bollinger"],
        "description": "Bollinger band mean reversion.",
        "parameters": {"position_pct": 0.95, "lookback": 20, "num_std": 2.0},
    },
    {
        "name": "momentum",
        "aliases": ["rsi"],
        "description": "RSI momentum (Wilder's RSI).",
        "parameters": {"position_pct": 0.95, "rsi_period": 14, "oversold": 30.0, "overbought": 70.0},
    },
    {
        "name": "rotation",
        "aliases": ["momentum_rotation"],
        "description": "Momentum rotation across the run's symbols (a portfolio strategy).",
        "parameters": {"rebalance": "monthly", "position_pct": 1.0, "top": 1, "lookback": 126},
    },
    {
        "name": "rebalance",
        "aliases": ["fixed_weights"],
        "description": "Fixed target weights, rebalanced on a calendar and/or a drift band (portfolio).",
        "parameters": {"rebalance": "quarterly", "position_pct": 1.0, "weights": "", "band": 0.0},
    },
]


def summaries_table(summaries: Sequence[dict[str, Any]]) -> Table:
    """Strategies (as `strategy list --json` shows them) as a table."""
    table = Table(title="Strategies", title_justify="left")
    table.add_column("Name", style="bold cyan")
    table.add_column("Aliases")
    table.add_column("Description")
    table.add_column("Parameters (defaults)")
    for summary in summaries:
        params = ", ".join(f"{name}={value}" for name, value in summary["parameters"].items())
        table.add_row(summary["name"], ", ".join(summary["aliases"]), summary["description"], params)
    return table


__all__ = ["BUILTIN_STRATEGIES", "summaries_table"]
