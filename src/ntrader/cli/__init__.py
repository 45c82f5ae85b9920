"""Command-line interface: thin click commands over the ntrader library, one module per command group."""

from ntrader.cli.app import cli, main
from ntrader.cli.backtest import backtest
from ntrader.cli.data import data
from ntrader.cli.db import db
from ntrader.cli.ibkr import ibkr
from ntrader.cli.report import report
from ntrader.cli.strategy import strategy
from ntrader.cli.ui import ui

for group in (strategy, backtest, report, db, data, ibkr, ui):
    cli.add_command(group)

__all__ = ["cli", "main"]
