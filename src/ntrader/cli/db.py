"""`ntrader db …`: migrate the database and say where it is."""

from __future__ import annotations

import click

from ntrader.cli.options import json_option
from ntrader.cli.render import echo_json
from ntrader.config import get_settings, mask_url
from ntrader.db import get_engine, status, upgrade


@click.group()
def db() -> None:
    """Database schema and location."""


@db.command("upgrade")
@json_option
def upgrade_command(as_json: bool) -> None:
    """Apply pending migrations (ntrader also does this on first use).

    \b
    Example:
      DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/ntrader ntrader db upgrade
    """
    revision = upgrade(get_engine(migrate=False))
    url = mask_url(get_settings().resolved_database_url)
    if as_json:
        echo_json({"url": url, "revision": revision})
    else:
        click.echo(f"Database {url} is at revision {revision}.")


@db.command("status")
@json_option
def status_command(as_json: bool) -> None:
    """Print the database URL (password hidden) and its schema revision.

    \b
    Example:
      ntrader db status
    """
    info = status()
    if as_json:
        echo_json(info)
        return
    # Plain lines, never wrapped: URLs are long and people copy them.
    click.echo(f"URL:      {info['url']}")
    click.echo(f"Backend:  {info['backend']}")
    click.echo(f"Revision: {info['revision']} (newest: {info['head']})")
