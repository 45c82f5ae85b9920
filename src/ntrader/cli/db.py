"""`ntrader db …`: migrate the database and say where it is."""

from __future__ import annotations

import click

from ntrader.config import get_settings, mask_url
from ntrader.db import get_engine, status, upgrade


@click.group()
def db() -> None:
    """Database schema and location."""


@db.command("upgrade")
def upgrade_command() -> None:
    """Apply pending migrations (ntrader also does this on first use).

    \b
    Example:
      DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/ntrader ntrader db upgrade
    """
    revision = upgrade(get_engine(migrate=False))
    click.echo(f"Database {mask_url(get_settings().resolved_database_url)} is at revision {revision}.")


@db.command("status")
def status_command() -> None:
    """Print the database URL (password hidden) and its schema revision.

    \b
    Example:
      ntrader db status
    """
    info = status()
    # Plain lines, never wrapped: URLs are long and people copy them.
    click.echo(f"URL:      {info['url']}")
    click.echo(f"Backend:  {info['backend']}")
    click.echo(f"Revision: {info['revision']} (newest: {info['head']})")
