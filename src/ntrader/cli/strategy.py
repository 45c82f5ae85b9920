"""`ntrader strategy …`: what strategies exist and what they take."""

from __future__ import annotations

import click

from ntrader.cli.catalog import BUILTIN_STRATEGIES, summaries_table
from ntrader.cli.flags import json_option
from ntrader.cli.render import console, echo_json


@click.group()
def strategy() -> None:
    """List and inspect strategies."""


@strategy.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """List the built-in strategies with their parameters and defaults.

    \b
    Example:
      ntrader strategy list
    """
    # From the catalog: listing the built-ins loads neither Nautilus nor pandas.
    if as_json:
        echo_json(BUILTIN_STRATEGIES)
    else:
        console().print(summaries_table(BUILTIN_STRATEGIES))


@strategy.command("show")
@click.argument("name")
@json_option
def show_command(name: str, as_json: bool) -> None:
    """Show a strategy's rule and its parameters with types, defaults and bounds.

    \b
    Example:
      ntrader strategy show sma
    """
    from ntrader.reports.tables import strategy_detail, strategy_parameters_table
    from ntrader.strategies import get_strategy

    spec = get_strategy(name)
    if as_json:
        echo_json(strategy_detail(spec))
        return
    out = console()
    out.print(f"[bold cyan]{spec.name}[/] ({', '.join(spec.aliases) or 'no aliases'})")
    out.print(spec.description)
    out.print(f"\n[bold]Rule:[/] {spec.rule}\n")
    from ntrader.strategies.universe import ALIGNMENT_RULE

    if spec.is_portfolio:
        several = "a portfolio strategy: one instance sees every --symbol"
    else:
        several = (
            "basket mode: one instance per symbol on one cash account, each symbol using position_pct/N "
            "of equity (--allocation equal) or position_pct x its inverse-volatility weight (inverse-vol)"
        )
    out.print(f"[bold]Several symbols:[/] {several}; {ALIGNMENT_RULE}.\n")
    out.print(strategy_parameters_table(spec))


@strategy.command("validate")
@click.argument("config_file", type=click.Path(dir_okay=False))
@json_option
def validate_command(config_file: str, as_json: bool) -> None:
    """Check a YAML run config (fields, strategy, parameters, dates) without running it.

    \b
    Example:
      ntrader strategy validate examples/configs/sma.yaml
    """
    from ntrader.backtest.config_file import load_run_config

    config = load_run_config(config_file)
    if as_json:
        echo_json({"file": config_file, "ok": True, **config.model_dump(mode="json")})
        return
    params = ", ".join(f"{k}={v}" for k, v in config.params.items()) or "defaults"
    click.echo(f"{config_file}: OK ({config.strategy} on {config.symbol}, {params})")
