"""The `ntrader` click group and the CLI's one error boundary: every failure is one line on stderr
and an exit code; an unexpected exception says "internal error" (exit 70) and, with --verbose, shows
its traceback."""

from __future__ import annotations

import sys
import traceback
from importlib import import_module
from typing import Any

import click

from ntrader.errors import NtraderError

#: Exit code of an exception ntrader did not expect (a bug): EX_SOFTWARE from sysexits.h.
INTERNAL_ERROR_EXIT = 70
#: Flags that ask for the traceback: the group's --verbose, or a command's own --verbose/-v.
VERBOSE_FLAGS = frozenset({"--verbose", "-v"})


class NtraderGroup(click.Group):
    """A click group whose commands report every error as one clear line, never a traceback.

    Command groups can be registered lazily (`add_lazy`): their module, and whatever heavy packages it
    imports, load only when that group runs, so `ntrader --help` starts in a blink.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, tuple[str, str]] = {}

    def add_lazy(self, name: str, target: str, short_help: str) -> None:
        """Register group `name` found at `target` ("module:attribute"), described by `short_help`."""
        self.lazy[name] = (target, short_help)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, attribute = self.lazy[cmd_name][0].split(":")
            self.add_command(getattr(import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The listing uses the registered short help: no group module is imported to print it.
        rows = [
            (name, self.lazy[name][1] if name in self.lazy else self.commands[name].get_short_help_str(80))
            for name in self.list_commands(ctx)
            if name in self.lazy or not self.commands[name].hidden
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Kept so the boundary knows whether a subcommand was given --verbose (its context is gone by then).
        ctx.meta["ntrader.argv"] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except NtraderError as exc:
            _fail(ctx, f"Error: {exc}", exc.exit_code, exc)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except Exception as exc:
            mapped = _map_library_error(exc)
            if mapped is not None:
                _fail(ctx, f"Error: {mapped}", mapped.exit_code, exc)
            first = (str(exc).strip().splitlines() or [""])[0]
            detail = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
            _fail(
                ctx,
                f"Error: internal error: {detail} — run with --verbose for the traceback",
                INTERNAL_ERROR_EXIT,
                exc,
            )


def _map_library_error(exc: Exception) -> NtraderError | None:
    """A database error no package mapped is still a database problem, not a crash."""
    if "sqlalchemy" not in sys.modules:  # not imported: cannot be one of its errors
        return None
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, SQLAlchemyError):
        message = str(getattr(exc, "orig", exc)).strip().splitlines()
        return NtraderError(f"database error: {message[0] if message else type(exc).__name__}")
    return None


def _verbose(ctx: click.Context) -> bool:
    argv = ctx.meta.get("ntrader.argv", [])
    return bool(ctx.params.get("verbose")) or any(arg in VERBOSE_FLAGS for arg in argv)


def _fail(ctx: click.Context, line: str, code: int, exc: BaseException) -> None:
    if _verbose(ctx):
        click.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
    click.secho(line, fg="red", err=True)
    ctx.exit(code)


@click.group(cls=NtraderGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ntrader", prog_name="ntrader")
@click.option("--verbose", is_flag=True, help="On an error, also show its Python traceback.")
def cli(verbose: bool) -> None:
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
