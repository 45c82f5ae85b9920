"""Rich rendering shared by the commands: consoles, tables, JSON, number formats."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console

NONE_MARK = "–"


def console() -> Console:
    """A console on stdout; pipes and files get 120 columns instead of rich's 80."""
    out = Console(highlight=False, soft_wrap=False)
    return out if out.is_terminal else Console(highlight=False, soft_wrap=False, width=120)


def err_console() -> Console:
    return Console(stderr=True, highlight=False)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return NONE_MARK
    return f"{value:+.2%}" if signed else f"{value:.2%}"


def money(value: float | None) -> str:
    return NONE_MARK if value is None else f"{value:,.2f}"


def number(value: float | None, digits: int = 2) -> str:
    return NONE_MARK if value is None else f"{value:.{digits}f}"


def echo_export(export: Any) -> None:
    """An `Export` of the reports package: its text on stdout, or the path it was written to."""
    if export.path is None:
        click.echo(export.content or "", nl=False)
    else:
        click.echo(f"Wrote {export.path}")
