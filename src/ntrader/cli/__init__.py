"""Command-line interface: thin click commands over the ntrader library."""

from ntrader.cli.app import cli, main
from ntrader.cli.backtest import backtest
from ntrader.cli.data import data
from ntrader.cli.db import db
from ntrader.cli.ibkr import connect_command, fetch_command, ibkr
from ntrader.cli.report import compare_command, report
from ntrader.cli.strategy import strategy
from ntrader.cli.sweep import report_sweep_command, sweep_command, walk_forward_command

cli.add_command(strategy)
cli.add_command(backtest)
backtest.add_command(compare_command)
cli.add_command(report)
backtest.add_command(sweep_command)
backtest.add_command(walk_forward_command)
report.add_command(report_sweep_command)
cli.add_command(db)
cli.add_command(data)
data.add_command(connect_command)
data.add_command(fetch_command)
cli.add_command(ibkr)

__all__ = ["cli", "main"]
