"""The light flags many commands share (`--json`, `--verbose`, `--format/--output`, record ids):
nothing heavy is imported here, so commands that only read can start fast."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

#: A run or sweep id as the database stores it (a 64-bit integer): larger is a usage error, not a crash.
RECORD_ID = click.IntRange(min=1, max=2**63 - 1)


def apply_options(options: list[Decorator], command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(options):
        command = option(command)
    return command


def json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--json`: print the command's data as one JSON document on stdout (shapes: README, "JSON output")."""
    return click.option("--json", "as_json", is_flag=True, help="Print the data as JSON.")(command)


def verbose_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--verbose", "-v", is_flag=True, help="Show the Nautilus engine's log.")(command)


def format_options(
    formats: Sequence[str], help: str, html_default: str = "$NTRADER_HOME/reports"
) -> Decorator:
    """`--format` (one of `formats`, default text) and `--output/-o` for commands that export a report."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        options: list[Decorator] = [
            click.option(
                "--format",
                "fmt",
                type=click.Choice(formats, case_sensitive=False),
                default="text",
                show_default=True,
                help=help,
            ),
            click.option(
                "--output",
                "-o",
                type=click.Path(dir_okay=True, path_type=Path),
                help=f"File (or existing directory) to write. Default: stdout; html: {html_default}.",
            ),
        ]
        return apply_options(options, command)

    return decorate


__all__ = ["RECORD_ID", "Decorator", "apply_options", "format_options", "json_option", "verbose_option"]
