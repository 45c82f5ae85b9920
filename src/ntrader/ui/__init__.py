"""`ntrader ui`: a local web workbench over the library (runs, reports, new backtests, sweeps, data).

Needs the `ui` extra (`uv sync --extra ui`). `create_app(UIConfig(...))` is the ASGI app; `serve`
runs it with uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ntrader.ui.app import UIConfig, create_app
    from ntrader.ui.server import serve

__all__ = ["UIConfig", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    # Lazy: `import ntrader.ui` stays cheap, and a missing extra fails only when the UI is used.
    if name in ("UIConfig", "create_app"):
        from ntrader.ui import app

        return getattr(app, name)
    if name == "serve":
        from ntrader.ui.server import serve

        return serve
    raise AttributeError(name)
