"""`ntrader ui`: start the local web workbench."""

from __future__ import annotations

import click


@click.command("ui")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind (beyond 127.0.0.1 needs a token)."
)
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option(
    "--token",
    envvar="NTRADER_UI_TOKEN",
    help="Token every request must carry (generated when binding elsewhere).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the UI in the default browser.")
def ui(host: str, port: int, token: str | None, open_browser: bool) -> None:
    """Serve the web UI: runs, reports, compare, new backtests with live progress, sweeps, data.

    Everything is served from the package (no network needed). Binding to an address other than
    127.0.0.1 requires a token; one is generated and printed when --token is not given.

    \b
    Examples:
      ntrader ui --open
      ntrader ui --host 0.0.0.0 --port 8800 --token "$(openssl rand -hex 16)"
    """
    from ntrader.ui.server import ServeOptions, serve

    serve(ServeOptions(host=host, port=port, token=token, open_browser=open_browser), echo=click.echo)
