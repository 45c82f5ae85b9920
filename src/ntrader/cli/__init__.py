"""Command-line interface: thin click commands over the ntrader library, one module per command group.

Groups load on first use (see `NtraderGroup.add_lazy`); their one-line help is given here so that
`ntrader --help` imports none of them (tests/cli/test_startup.py checks the lines match).
"""

from ntrader.cli.app import cli, main

GROUPS = {
    "strategy": ("ntrader.cli.strategy:strategy", "List and inspect strategies."),
    "backtest": (
        "ntrader.cli.backtest:backtest",
        "Run backtests, sweeps and walk-forward tests; list, compare and delete their saved results.",
    ),
    "report": ("ntrader.cli.report:report", "Show saved runs and sweeps: metrics, trades, charts."),
    "db": ("ntrader.cli.db:db", "Database schema and location."),
    "data": (
        "ntrader.cli.data:data",
        "Import or fetch bars, check the IB connection, list the bars stored in the database.",
    ),
    "ibkr": (
        "ntrader.cli.ibkr:ibkr",
        "Interactive Brokers helpers: a fake gateway to try ntrader without an account.",
    ),
    "ui": (
        "ntrader.cli.ui:ui",
        "Serve the web UI: runs, reports, compare, new backtests with live progress, sweeps, data.",
    ),
}

for _name, (_target, _help) in GROUPS.items():
    cli.add_lazy(_name, _target, _help)

__all__ = ["GROUPS", "cli", "main"]
