"""The IB side of a fetch: one lazily opened, self-healing connection, and paced, retried requests.

``IBRequests`` is the part of ``FetchService`` that talks to IB: it connects (and reconnects a
dropped link, bounded), sends one window's historical-data request through the pacing limiter,
retries pacing violations with back-off and timeouts once, and asks for a series' first bar.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import pandas as pd
from ibapi.contract import Contract

from ntrader.data.bars import BarSize
from ntrader.errors import GatewayUnavailable, NtraderError, PacingError
from ntrader.ibkr.catalog import catalog_lock
from ntrader.ibkr.client import IBClient, bars_to_frame
from ntrader.ibkr.errors import (
    ConnectionLost,
    IBError,
    NoData,
    NoPermission,
    PacingViolation,
    QueryCancelled,
    RequestTimeout,
    WindowTooLong,
)
from ntrader.ibkr.options import FetchOptions
from ntrader.ibkr.pacing import PacingLimiter, historical_key
from ntrader.ibkr.report import SymbolFetch
from ntrader.ibkr.windows import BAR_SIZE_SETTING, RequestWindow

__all__ = ["IBRequests", "JobLike", "WindowFailed"]


class WindowFailed(NtraderError):
    """A window that could not be fetched; the fetch goes on and reports it as a gap."""


class JobLike(Protocol):
    """What a request needs to know of the fetch it serves."""

    result: SymbolFetch
    size: BarSize

    def tell(self, note: str = "", done: int = 0, waiting: float = 0.0) -> None: ...


class IBRequests:
    """Connection and requests, for ``FetchService`` (which sets the attributes below)."""

    options: FetchOptions
    client: IBClient
    limiter: PacingLimiter
    _sleep: Callable[[float], Awaitable[None]]
    _connects: int

    async def _connected(self, result: SymbolFetch | None = None) -> IBClient:
        """The client, connected: the first call connects, later ones reconnect a dropped link."""
        if self.client.is_connected:
            return self.client
        if self._connects > self.options.max_reconnects:
            raise GatewayUnavailable(
                f"the connection to IB Gateway/TWS at {self.client.host}:{self.client.port} dropped "
                f"{self._connects - 1} times; giving up"
            )
        if self._connects and result is not None:
            result.reconnects += 1
        self._connects += 1
        await (self.client.reconnect() if self._connects > 1 else self.client.connect())
        return self.client

    async def _head_timestamp(self, contract: Contract, result: SymbolFetch) -> pd.Timestamp | None:
        """IB's first bar for the contract (reqHeadTimeStamp); None when IB does not say."""
        client = await self._connected(result)
        key = historical_key(
            contract.symbol, contract.exchange, result.what_to_show, "head", "", "", result.use_rth
        )
        await self.limiter.acquire(key)
        try:
            return await client.head_timestamp(
                contract, what_to_show=result.what_to_show, use_rth=result.use_rth
            )
        except NoPermission:
            raise
        except (IBError, ValueError):
            return None  # a timeout or an odd answer: plan the whole period, as before
        finally:
            self.limiter.release()

    async def _window(
        self, contract: Contract, window: RequestWindow, job: JobLike, done: int
    ) -> pd.DataFrame | None:
        """The bars of one window (None when IB has none); retries pacing violations and drops."""
        result, tell = job.result, job.tell
        max_attempts = self.options.max_attempts
        setting = BAR_SIZE_SETTING[job.size.name]
        key = historical_key(
            contract.symbol,
            contract.exchange,
            result.what_to_show,
            window.end_datetime_str,
            window.duration_str,
            setting,
            result.use_rth,
        )

        def on_wait(seconds: float) -> None:
            result.pacing_waits += 1
            result.waited_seconds += seconds
            tell(f"pacing: waiting {seconds:.1f} s", done, seconds)

        attempts = 0
        while True:
            client = await self._connected(result)
            await self.limiter.acquire(key, on_wait)
            result.requests += 1
            try:
                bars = await client.historical_bars(
                    contract,
                    end=window.end_datetime_str,
                    duration=window.duration_str,
                    bar_size=setting,
                    what_to_show=result.what_to_show,
                    use_rth=result.use_rth,
                )
            except NoData:
                return None
            except PacingViolation as exc:
                attempts += 1
                if attempts > max_attempts:
                    raise PacingError(
                        f"{result.symbol}: IB still reports pacing violations after {max_attempts} "
                        "retries; wait ten minutes and fetch again (what is stored so far is kept)"
                    ) from exc
                delay = self.limiter.backoff(attempts)
                result.retries += 1
                on_wait(delay)
                await self._sleep(delay)
                continue
            except ConnectionLost:
                result.retries += 1
                tell("connection lost: reconnecting", done)
                continue  # _connected() reconnects, bounded by max_reconnects
            except (RequestTimeout, QueryCancelled) as exc:
                attempts += 1
                result.retries += 1
                if attempts >= 2:
                    raise WindowFailed(str(exc)) from exc
                continue
            except (NoPermission, WindowTooLong):
                raise  # no subscription: every later window would fail; too long: the caller splits
            except IBError as exc:
                if exc.code == 200:
                    raise  # the contract is wrong: no window will work
                raise WindowFailed(str(exc)) from exc
            finally:
                self.limiter.release()
            return bars_to_frame(bars)

    async def _first_available(self, job: Any, contract: Contract) -> pd.Timestamp | None:
        """IB's first bar for the series, asked once and kept in the manifest (None: unknown)."""
        result = job.result
        tag = f"{result.what_to_show}|{'RTH' if result.use_rth else 'ALL'}"
        entry = job.manifest.instruments.get(job.query.key) or {}
        known = (entry.get("first_available") or {}).get(tag)
        if known:
            return _utc(known)
        head = await self._head_timestamp(contract, result)
        if head is None:
            return None
        if job.size.is_daily:
            head = head.normalize()  # daily bars are stamped at midnight UTC of their date
        with catalog_lock(self.options.catalog_path):
            job.manifest.refresh()
            stored = job.manifest.instruments.get(job.query.key)
            if stored is not None:
                stored.setdefault("first_available", {})[tag] = head.isoformat()
                job.manifest.save()
        return head


def _utc(text: str) -> pd.Timestamp:
    stamp = pd.Timestamp(text)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
