"""Interactive Brokers: the client, pacing, request windows, the fetch service, and a fake gateway."""

from __future__ import annotations

from typing import Any

__all__ = ["FetchOptions", "fetch_bars", "fetch_missing_bars"]


def __getattr__(name: str) -> Any:
    # Lazy: importing ntrader.ibkr.errors (say) must not load ibapi and the catalog.
    if name in __all__:
        from ntrader.ibkr import fetch

        return getattr(fetch, name)
    raise AttributeError(f"module 'ntrader.ibkr' has no attribute {name!r}")
