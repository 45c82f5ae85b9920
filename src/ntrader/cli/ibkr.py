"""`ntrader ibkr fake-gateway`: a fake IB Gateway to try ntrader without an account."""

from __future__ import annotations

import asyncio

import click

from ntrader.errors import GatewayUnavailable


@click.group()
def ibkr() -> None:
    """Interactive Brokers helpers: a fake gateway to try ntrader without an account."""


@ibkr.command("fake-gateway")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=4002, show_default=True)
@click.option(
    "--symbols", default="AAPL,MSFT,SPY", show_default=True, help="Comma-separated symbols it knows."
)
def fake_gateway_command(host: str, port: int, symbols: str) -> None:
    """Run a fake IB Gateway (the real TWS API protocol, synthetic bars) until Ctrl-C.

    \b
    Example:
      ntrader ibkr fake-gateway --port 4002 &
      ntrader data fetch --port 4002 --instruments AAPL --start 2024-01-01 --end 2024-01-31
    """
    from ntrader.ibkr.fake_gateway import FakeGateway

    names = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    gateway = FakeGateway(host=host, port=port, symbols=names)

    async def serve() -> None:
        try:
            await gateway.start()
        except OSError as exc:
            raise GatewayUnavailable(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        click.echo(
            f"Fake IB Gateway listening on {host}:{gateway.port} (symbols: {', '.join(names)}; "
            f"account {', '.join(gateway.accounts)}). Ctrl-C to stop."
        )
        try:
            await asyncio.Event().wait()  # the server runs on this loop until Ctrl-C cancels it
        finally:
            await gateway.aclose()

    try:
        asyncio.run(serve())
    except (KeyboardInterrupt, asyncio.CancelledError):
        click.echo("Stopped.")
