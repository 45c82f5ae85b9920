"""Running the UI: uvicorn on the chosen host and port; jobs are stopped when the server stops."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ntrader.errors import InputError
from ntrader.ui.security import is_loopback, resolve_token


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    open_browser: bool = False


def ui_url(host: str, port: int, token: str | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def serve(options: ServeOptions, echo: Callable[[str], None] = print) -> None:
    """Start the server and block until Ctrl-C; prints the URL (with the token when one is needed)."""
    try:
        import uvicorn

        from ntrader.ui.app import UIConfig, create_app
    except ImportError as exc:
        raise InputError(f"the UI needs the `ui` extra ({exc.name} is missing): uv sync --extra ui") from None
    from ntrader.config import get_settings

    token, generated = resolve_token(options.host, options.token)
    settings = get_settings()
    app = create_app(UIConfig(settings.resolved_database_url, settings.home, token))
    url = ui_url(options.host, options.port, token)
    echo(f"ntrader UI on {url}")
    if generated:
        echo(f"Bound to {options.host} (not only this machine): requests need the token {token}")
    elif not is_loopback(options.host):
        echo(f"Bound to {options.host}: requests need the token given with --token")
    echo("Press Ctrl-C to stop (a backtest in progress is stopped, not saved).")
    if options.open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning")
