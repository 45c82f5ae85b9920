"""The `ntrader` click group: turns NtraderError into one line on stderr and its exit code."""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from ntrader.errors import NtraderError


class NtraderGroup(click.Group):
    """A click group whose commands report ntrader errors as one clear line, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NtraderError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            ctx.exit(exc.exit_code)
        except SQLAlchemyError as exc:
            # Anything the db layer did not map is still a database problem, not a crash.
            message = str(getattr(exc, "orig", exc)).strip().splitlines()
            click.secho(f"Error: database error: {message[0] if message else exc}", fg="red", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


@click.group(cls=NtraderGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ntrader", prog_name="ntrader")
def cli() -> None:
    """ntrader: backtest strategies on mock, CSV or Interactive Brokers data, keep every result.

    \b
    Start here:
      ntrader strategy list
      ntrader backtest run --strategy sma --symbol AAPL
      ntrader backtest list-results
      ntrader report summary 1
    """


def main() -> None:
    cli.main(prog_name="ntrader", standalone_mode=True)
    sys.exit(0)
