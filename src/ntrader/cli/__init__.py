"""Command-line interface: thin click commands over the ntrader library."""

from ntrader.cli.app import cli, main
from ntrader.cli.backtest import backtest
from ntrader.cli.db import db
from ntrader.cli.report import report
from ntrader.cli.strategy import strategy

cli.add_command(strategy)
cli.add_command(backtest)
cli.add_command(report)
cli.add_command(db)

__all__ = ["cli", "main"]
