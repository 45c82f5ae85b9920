"""`ntrader strategy …`: what strategies exist and what they take."""

from __future__ import annotations

import click
from rich.table import Table

from ntrader.backtest.config_file import load_run_config
from ntrader.cli.render import console, echo_json
from ntrader.strategies import get_strategy, list_strategies


@click.group()
def strategy() -> None:
    """List and inspect strategies."""


@strategy.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json: bool) -> None:
    """List the built-in strategies with their parameters and defaults.

    \b
    Example:
      ntrader strategy list
    """
    specs = list_strategies()
    if as_json:
        echo_json(
            [
                {
                    "name": s.name,
                    "aliases": list(s.aliases),
                    "description": s.description,
                    "parameters": {p.name: p.default for p in s.parameters},
                }
                for s in specs
            ]
        )
        return
    table = Table(title="Strategies", title_justify="left")
    table.add_column("Name", style="bold cyan")
    table.add_column("Aliases")
    table.add_column("Description")
    table.add_column("Parameters (defaults)")
    for spec in specs:
        params = ", ".join(f"{p.name}={p.default}" for p in spec.parameters)
        table.add_row(spec.name, ", ".join(spec.aliases), spec.description, params)
    console().print(table)


@strategy.command("show")
@click.argument("name")
def show_command(name: str) -> None:
    """Show a strategy's rule and its parameters with types, defaults and bounds.

    \b
    Example:
      ntrader strategy show sma
    """
    spec = get_strategy(name)
    out = console()
    out.print(f"[bold cyan]{spec.name}[/] ({', '.join(spec.aliases) or 'no aliases'})")
    out.print(spec.description)
    out.print(f"\n[bold]Rule:[/] {spec.rule}\n")
    table = Table(title="Parameters", title_justify="left")
    for column in ("Name", "Type", "Default", "Bounds"):
        table.add_column(column)
    for p in spec.parameters:
        table.add_row(p.name, p.type.__name__, str(p.default), spec.bounds.get(p.name, ""))
    out.print(table)


@strategy.command("validate")
@click.argument("config_file", type=click.Path(dir_okay=False))
def validate_command(config_file: str) -> None:
    """Check a YAML run config (fields, strategy, parameters, dates) without running it.

    \b
    Example:
      ntrader strategy validate examples/configs/sma.yaml
    """
    config = load_run_config(config_file)
    params = ", ".join(f"{k}={v}" for k, v in config.params.items()) or "defaults"
    click.echo(f"{config_file}: OK ({config.strategy} on {config.symbol}, {params})")
